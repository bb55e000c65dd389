"""The environment report every chapter starts with."""

from __future__ import annotations

import pytest
import torch

from course_utils import env, load_model
from course_utils import env_report as report_module


def test_report_names_versions_device_and_models(capsys):
    facts = report_module.report()
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
    assert report_module.package_version("no-such-distribution-xyz") is None
    assert report_module.package_version("torch").startswith("2.13.0")


def test_a_device_that_is_not_there_gets_one_line(monkeypatch):
    monkeypatch.delenv(env.DEVICE_ENV_VAR, raising=False)
    with pytest.raises(env.DeviceUnavailableError, match=r"'gpu' was asked for, but that is not a device name; use 'cpu'"):
        env.pick_device("gpu")
    monkeypatch.setenv(env.DEVICE_ENV_VAR, "gpu")
    with pytest.raises(env.DeviceUnavailableError, match="was set in COURSE_DEVICE"):
        env.pick_device()
    error = env.DeviceUnavailableError("x")
    assert error._render_traceback_() == ["DeviceUnavailableError: x"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_refused_before_loading(monkeypatch):
    monkeypatch.delenv(env.DEVICE_ENV_VAR, raising=False)
    with pytest.raises(env.DeviceUnavailableError, match="PyTorch sees no CUDA GPU here"):
        load_model(device="cuda")
    monkeypatch.setenv(env.DEVICE_ENV_VAR, "cuda")
    assert report_module.environment_facts()["device"].startswith("problem: device 'cuda' was set in COURSE_DEVICE")
