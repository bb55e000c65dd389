"""The environment report every chapter starts with."""

from __future__ import annotations

from course_utils import env


def test_report_names_versions_device_and_models(capsys):
    facts = env.report()
    printed = capsys.readouterr().out
    assert facts["python"].startswith("3.11")
    assert facts["transformer-lens"] == "4.3.0"
    assert facts["device"] in {"cpu", "cuda", "mps"}
    assert "smollm2-135m" in facts["models available now"]
    assert facts["hub"] == "offline"  # the tests run with HF_HUB_OFFLINE=1
    assert all(key in printed for key in facts)


def test_offline_flag_wins_without_probing(monkeypatch):
    env.hub_reachable.cache_clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        assert env.hub_offline_flag() and not env.hub_reachable()
    finally:
        env.hub_reachable.cache_clear()


def test_missing_package_has_no_version():
    assert env.package_version("no-such-distribution-xyz") is None
    assert env.package_version("torch").startswith("2.13.0")
