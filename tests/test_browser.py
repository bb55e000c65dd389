"""Every learner chapter, as a learner sees it: JupyterLab in a real (headless) browser.

nbval proves that the kernels run. This test proves what the page shows: it starts JupyterLab on
127.0.0.1 with a token, drives Debian's Chromium with playwright-core (``tests/browser``), opens
each learner chapter, runs all cells with JupyterLab's own "Run All Cells" command, and checks
from the page that

* every code cell ran and no output is an error or shows a traceback;
* every ipywidgets output is drawn as widgets (not as its text repr, nor "Error displaying widget");
* every plot (plotly, or a matplotlib image) is drawn;
* every circuitsvis view is filled by its inlined script.

What a chapter must show is read from the notebook itself (and from the ``course_utils`` helpers
it calls), so chapters added later are covered without editing this file. A full-page screenshot
per chapter goes to ``build/screenshots/NN_name.png`` when the page shows a problem, or always with
``COURSE_BROWSER_SCREENSHOTS=1``; ``COURSE_BROWSER_CLOSEUPS=1`` adds a close-up of each drawn
widget, plot and attention view in ``build/screenshots/NN_name/``. ``make screenshots`` sets both.
(Drawing a notebook tens of thousands of pixels tall and saving it takes the browser several seconds
per chapter, so a passing run skips it unless asked.)

What it needs, installed here when missing: ``/usr/bin/chromium`` (Debian's ``chromium``; never a
browser downloaded by Playwright) and ``tests/browser/node_modules`` (``npm ci``).
The shipped notebooks are never touched: the server's root is a temporary copy of ``chapters/``.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tokenize
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from filelock import FileLock

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BROWSER_DIR = REPO / "tests" / "browser"
DRIVER = BROWSER_DIR / "run_chapter.js"
SCREENSHOTS = REPO / "build" / "screenshots"
JUPYTER = Path(sys.executable).with_name("jupyter")
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Small fonts for the Chinese text and the emoji the chapters show (a bare Debian has neither).
FONT_PACKAGES = ["fonts-wqy-microhei", "fonts-noto-color-emoji"]
# Seconds one chapter may take in the browser (chapter 01 runs in about two minutes on 2 cores).
CHAPTER_TIMEOUT = int(os.environ.get("COURSE_BROWSER_TIMEOUT", "900"))
CLOSEUPS = os.environ.get("COURSE_BROWSER_CLOSEUPS") == "1"
ALWAYS_SCREENSHOT = CLOSEUPS or os.environ.get("COURSE_BROWSER_SCREENSHOTS") == "1"


def learner_chapters() -> list[Path]:
    return sorted(REPO.glob("chapters/[0-9][0-9]_*.ipynb"))


# ---------------------------------------------------------------------------------------------
# What a chapter must show, derived from its code


PATTERNS = {
    "widgets": re.compile(r"\bipywidgets\b|\bwidgets\.\w+\(|\binteract(?:ive)?\("),
    "plots": re.compile(r"\bplotly\b|\bpx\.\w+\(|\bgo\.Figure\b|\bmatplotlib\b|\bplt\.\w+\("),
    "circuitsvis": re.compile(r"\bcircuitsvis\b|\bcv\.\w+\.\w+\("),
}


# Token types holding prose rather than code (FSTRING_MIDDLE: f-string text on Python >= 3.12).
BLANKED = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def _without_strings(source: str) -> str:
    """Python source with its string literals and comments blanked: names in prose do not count."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    text = list(source)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in BLANKED:
                start = offsets[tok.start[0] - 1] + tok.start[1]
                stop = offsets[tok.end[0] - 1] + tok.end[1]
                text[start:stop] = [" " if ch != "\n" else ch for ch in source[start:stop]]
    except (tokenize.TokenError, SyntaxError):
        return source
    return "".join(text)


def _code_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        # IPython magics and shell escapes are not Python: blank them out for the parser.
        lines += ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return "\n".join(lines)


def _module_file(module: str) -> Path | None:
    if module != "course_utils" and not module.startswith("course_utils."):
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _helper_source(module: str, name: str, depth: int = 0) -> str:
    """The source of ``module.name`` and of the same module's functions it calls (re-exports followed)."""
    path = _module_file(module)
    if path is None or depth > 4:
        return ""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    if name not in functions:
        for node in tree.body:  # a re-export such as `from .widgets import tokenizer_explorer`
            if isinstance(node, ast.ImportFrom) and any(a.asname == name or (a.asname is None and a.name == name) for a in node.names):
                original = next(a.name for a in node.names if (a.asname or a.name) == name)
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(parts + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                return _helper_source(target, original, depth + 1)
        return ""
    seen, todo, parts = set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen or current not in functions:
            continue
        seen.add(current)
        node = functions[current]
        parts.append(ast.get_source_segment(text, node) or "")
        todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in functions]
    # Module-level imports matter too (`import plotly.graph_objects as go` at the top, say).
    header = "\n".join(ast.get_source_segment(text, n) or "" for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    return header + "\n" + "\n".join(parts)


def expected_views(notebook: Path) -> dict[str, bool]:
    """Which of widgets / plots / circuitsvis views the chapter's code produces.

    Looks at the notebook's own code and at the source of every ``course_utils`` helper it calls
    (``tokenizer_explorer(...)`` builds ipywidgets, ``bar_chart(...)`` a plotly figure).
    """
    code = _code_of(notebook)
    texts = [code]
    try:
        tree = ast.parse(code)
    except SyntaxError:  # fall back to the plain text if a cell is not plain Python
        tree = None
    if tree is not None:
        imported: dict[str, tuple[str, str]] = {}   # local name -> (module, name)
        modules: dict[str, str] = {}                # local name -> module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if _module_file(f"{node.module}.{alias.name}"):
                        modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                    else:
                        imported[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    modules[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in imported:
                texts.append(_helper_source(*imported[func.id]))
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
                texts.append(_helper_source(modules[func.value.id], func.attr))
    everything = "\n".join(_without_strings(text) for text in texts)
    return {kind: bool(pattern.search(everything)) for kind, pattern in PATTERNS.items()}


# ---------------------------------------------------------------------------------------------
# What the test needs: Chromium, playwright-core, a JupyterLab server


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return done.returncode == 0 and "install ok installed" in done.stdout


def _install_lock() -> FileLock:
    """Held while installing: two test workers may each run a chapter in the browser."""
    return FileLock(str(BROWSER_DIR / ".install.lock"), timeout=1800)


def _apt_install(packages: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "update", "-qq"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        return done
    return subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")  # one per test worker: chapters are separate units of work
def chromium() -> Path:
    """Debian's Chromium (installed with apt-get when missing), plus fonts for Chinese and emoji.

    The fonts only make the screenshots faithful (the chapters show Chinese text and emoji): the
    test goes on without them if they cannot be installed.
    """
    can_install = shutil.which("apt-get") is not None and shutil.which("dpkg-query") is not None and os.geteuid() == 0
    with _install_lock():
        return _install_chromium(can_install)


def _install_chromium(can_install: bool) -> Path:
    if not CHROMIUM.exists():
        if not can_install:
            pytest.fail(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get). "
                        "Install Debian's Chromium: `sudo apt-get install --no-install-recommends chromium`, "
                        "or point CHROMIUM at a Chromium binary.")
        done = _apt_install(["chromium", *FONT_PACKAGES])
        if done.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(f"installing Debian's chromium failed ({done.returncode}), so there is no browser to test with:\n"
                        f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    elif can_install:
        missing = [package for package in FONT_PACKAGES if not _installed(package)]
        if missing:
            done = _apt_install(missing)
            if done.returncode != 0:
                warnings.warn(f"could not install {missing}; screenshots will show boxes for Chinese text and emoji")
    return CHROMIUM


@pytest.fixture(scope="session")  # one per test worker: chapters are separate units of work
def driver() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed to drive the browser (Debian: `apt-get install nodejs npm`)")
    with _install_lock():
        if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").exists():
            # playwright-core only: it never downloads a browser (the test uses Debian's Chromium).
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"`npm ci` in {BROWSER_DIR} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return DRIVER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_settings(folder: Path, windowing: str | None) -> None:
    """User settings for the test's JupyterLab (the news setting is the course's own, from binder/jupyter).

    ``windowing="none"`` attaches every cell to the page, so the checks can read them all;
    ``None`` keeps JupyterLab's default (content visibility), what a learner gets.
    """
    settings = {}
    if windowing is not None:
        settings["@jupyterlab/notebook-extension/tracker.jupyterlab-settings"] = {"windowingMode": windowing}
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


def _stop(process: subprocess.Popen, base_url: str, token: str) -> None:
    import psutil

    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    try:  # the server's own shutdown also stops its kernels
        request = urllib.request.Request(f"{base_url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=10).close()
        process.wait(timeout=30)
    except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
        pass
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    for proc in family:  # kernels left behind, if any
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="session")  # one per test worker: chapters are separate units of work
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 whose root is a throwaway copy of chapters/, every cell attached.

    ``COURSE_BROWSER_WINDOWING=default`` runs the chapters in JupyterLab's default windowing mode instead.
    """
    windowing = os.environ.get("COURSE_BROWSER_WINDOWING", "none")
    yield from _serve_lab(tmp_path_factory.mktemp("lab"), windowing=None if windowing == "default" else windowing)


@pytest.fixture(scope="session")  # one per test worker: chapters are separate units of work
def lab_default_windowing(tmp_path_factory):
    """The same, with JupyterLab's default windowing mode, as a learner has it."""
    yield from _serve_lab(tmp_path_factory.mktemp("lab-default"), windowing=None)


def _serve_lab(tmp: Path, windowing: str | None):
    root = tmp / "chapters"
    shutil.copytree(REPO / "chapters", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "src"))
    _write_settings(tmp / "settings", windowing)
    port, token = _free_port(), secrets.token_hex(16)
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # no personal jupyter config changes what is tested
        "JUPYTER_CONFIG_PATH": str(REPO / "binder" / "jupyter"),  # the course's settings, as `make lab` sets them
        "PYTHONUNBUFFERED": "1",
        # Kernels import course_utils from this checkout, installed (editable) or not.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log = (tmp / "server.log").open("w")
    process = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--allow-root", "--ip", "127.0.0.1", "--port", str(port),
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0",
         "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read the model
         f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}"],
        cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                request = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base_url} within 180 s:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"base_url": base_url, "token": token, "root": root, "log": tmp / "server.log"}
    finally:
        _stop(process, base_url, token)
        log.close()


# ---------------------------------------------------------------------------------------------
# The test


def test_expected_views_are_read_from_the_code(tmp_path):
    """The detection that decides what each chapter must show (no browser needed)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline\nimport ipywidgets as widgets\nwidgets.IntSlider()"),
        nbformat.v4.new_code_cell("import circuitsvis as cv\ncv.attention.attention_patterns(tokens=t, attention=a)"),
        nbformat.v4.new_markdown_cell("plotly is mentioned only in prose"),
    ]
    path = tmp_path / "99_x.ipynb"
    nbformat.write(nb, path)
    assert expected_views(path) == {"widgets": True, "plots": False, "circuitsvis": True}
    nb.cells = [nbformat.v4.new_code_cell("from course_utils.plotting import bar_chart\nbar_chart([1], [2])")]
    nbformat.write(nb, path)
    assert expected_views(path)["plots"] is True


def run_in_browser(lab: dict, driver: Path, chromium: Path, notebook: str, name: str, *extra: str) -> tuple[dict, str]:
    """Runs the driver on one notebook of the server's root; returns the page report and a log for failures.

    ``extra``: more of the driver's options (see ``tests/browser/run_chapter.js``)."""
    shot = SCREENSHOTS / f"{name}.png"
    for old in (shot, SCREENSHOTS / f"{name}-failure.png", SCREENSHOTS / f"{name}.json", SCREENSHOTS / f"{name}.log"):
        old.unlink(missing_ok=True)
    shutil.rmtree(SCREENSHOTS / name, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["node", str(driver), "--base-url", lab["base_url"], "--token", lab["token"],
             "--notebook", notebook, "--screenshot", str(shot),
             *(["--always-screenshot"] if ALWAYS_SCREENSHOT else []),
             *(["--details", str(SCREENSHOTS / name)] if CLOSEUPS else []),
             "--timeout-s", str(CHAPTER_TIMEOUT), "--chromium", str(chromium), *extra],
            cwd=BROWSER_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CHAPTER_TIMEOUT + 300,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the browser driver did not finish {notebook} in time:\n{(error.stderr or b'')[-3000:]!r}")
    lines = done.stdout.strip().splitlines()
    assert lines, f"the driver printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    page = json.loads(lines[-1])
    (SCREENSHOTS / f"{name}.json").write_text(json.dumps(page, indent=1), encoding="utf-8")
    (SCREENSHOTS / f"{name}.log").write_text(done.stderr, encoding="utf-8")
    where = (f"\n--- driver log ---\n{done.stderr[-3000:]}\n--- page ---\n{json.dumps(page, indent=1)[:6000]}"
             f"\n--- server log (tail) ---\n{lab['log'].read_text(errors='replace')[-2000:]}")
    assert page.get("fatal") is None, f"{notebook}: the browser run failed: {page.get('fatal')}{where}"
    if ALWAYS_SCREENSHOT or page.get("problems"):
        assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot at {shot}{where}"
    return page, where


def assert_drawn(page: dict, name: str, where: str) -> None:
    """Whatever the kernel sent, the page drew: widgets, plots and circuitsvis views."""
    assert page["widgetFailures"] == [] and page["widgetErrorMessages"] == [], f"{name}: widgets not drawn{where}"
    assert page["widgetsRendered"] == page["widgetOutputs"], f"{name}: widgets not drawn{where}"
    interaction = page.get("widgetInteraction") or {}
    if interaction.get("tried"):
        assert interaction["changed"], f"{name}: typing into a widget changed nothing (no kernel round trip){where}"
    assert page["plotlyFailures"] == [] and page["plotlyRendered"] == page["plotlyOutputs"], \
        f"{name}: plotly figures not drawn{where}"
    assert page["imagesRendered"] == page["imageOutputs"], f"{name}: images not drawn{where}"
    assert page["circuitsvisFailures"] == [] and page["circuitsvisRendered"] == page["circuitsvisViews"], \
        f"{name}: circuitsvis views left empty{where}"


@pytest.mark.parametrize("chapter", learner_chapters(), ids=lambda p: p.stem)
def test_chapter_renders_in_jupyterlab(chapter: Path, chromium: Path, driver: Path, lab: dict) -> None:
    expected = expected_views(chapter)
    page, where = run_in_browser(lab, driver, chromium, chapter.name, chapter.stem)

    # Every cell ran, and nothing failed.
    assert page["codeCells"] > 0, where
    assert page["errorOutputs"] == [], f"{chapter.name}: cells raised errors{where}"
    assert page["tracebacksInPage"] == 0, f"{chapter.name}: the page shows a traceback{where}"
    assert page["run"]["ok"] is True, f"{chapter.name}: Run All Cells did not complete{where}"
    assert page["executedCells"] == page["codeCells"], f"{chapter.name}: not every code cell ran{where}"
    assert page["runningCells"] == 0 and page["kernelStatus"] == "idle", where

    assert_drawn(page, chapter.name, where)
    # What the chapter's code makes is on the page.
    if expected["widgets"]:
        assert page["widgetOutputs"] > 0, f"{chapter.name} builds ipywidgets but the page shows none{where}"
    if expected["plots"]:
        assert page["plotlyOutputs"] + page["imageOutputs"] > 0, f"{chapter.name} makes plots but the page shows none{where}"
    if expected["circuitsvis"]:
        assert page["circuitsvisViews"] > 0, f"{chapter.name} uses circuitsvis but the page shows no view{where}"


CANARY_CELLS = [
    "import ipywidgets as widgets\n"
    "box = widgets.Text(value='abc', description='text')\n"
    "shown = widgets.HTML(value='<b>3</b> characters')\n"
    "box.observe(lambda change: setattr(shown, 'value', f'<b>{len(change.new)}</b> characters'), 'value')\n"
    "widgets.VBox([box, shown, widgets.IntSlider(value=3, description='n')])",
    "import plotly.express as px\npx.line(x=[1, 2, 3], y=[3, 1, 2], title='canary plot')",
    "import torch, circuitsvis as cv\nfrom IPython.display import HTML\ntorch.manual_seed(0)\n"
    "HTML(cv.attention.attention_patterns(tokens=['The', ' cat', ' sat', ' down'], attention=torch.rand(2, 4, 4).softmax(-1)).local_src)",
    "raise ValueError('the canary error the test must see')",
]


def _write_notebook(path: Path, code: list[str], markdown: Sequence[str] = ()) -> None:
    """A notebook for the lab: the markdown cells first, then the code cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown] + [nbformat.v4.new_code_cell(source) for source in code]
    nbformat.write(nb, path)


def test_canary_shows_what_the_test_checks(chromium: Path, driver: Path, lab: dict) -> None:
    """A known notebook proves the checks themselves: one widget, plot and attention view drawn, one error seen.

    It also keeps the circuitsvis check honest until a chapter uses circuitsvis.
    """
    _write_notebook(lab["root"] / "canary.ipynb", CANARY_CELLS)
    page, where = run_in_browser(lab, driver, chromium, "canary.ipynb", "canary")

    assert [e["ename"] for e in page["errorOutputs"]] == ["ValueError"], where
    assert page["tracebacksInPage"] == 1 and page["run"]["ok"] is False, where
    assert page["executedCells"] == page["codeCells"] == len(CANARY_CELLS), where
    assert (page["widgetOutputs"], page["plotlyOutputs"], page["circuitsvisViews"]) == (1, 1, 1), where
    assert_drawn(page, "canary", where)
    assert page["widgetInteraction"]["tried"] and "27" in page["widgetInteraction"]["after"], where
    # A page with a problem is pictured, asked or not.
    assert page["problems"] == ["Run All Cells did not complete", "error outputs"], where
    assert (SCREENSHOTS / "canary.png").stat().st_size > 10_000, where


def test_the_course_settings_turn_off_the_news_pop_up(lab: dict) -> None:
    """The "get notified about official Jupyter news?" question would cover the first plots."""
    request = urllib.request.Request(f"{lab['base_url']}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        settings = json.loads(response.read())
    # The server folds the overrides into the schema's defaults; a learner's own choice would sit in "raw".
    defaults = {name: spec["default"] for name, spec in settings["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults


def test_views_below_the_fold_draw_in_the_default_windowing_mode(chromium: Path, driver: Path,
                                                                 lab_default_windowing: dict) -> None:
    """JupyterLab's default windowing skips drawing cells outside the viewport; a learner scrolls to them.

    The chapters' kinds of view (the course's circuitsvis helper, a plotly figure, a widget that
    talks to the kernel) sit below forty tall markdown cells, far from where Run All Cells starts.
    After the run, the page scrolls back to the top, and the widget must still answer when scrolled
    to (under ``windowingMode: "full"``, which detaches cells out of view, this test fails).
    """
    filler = "\n\n".join(f"Paragraph {i}: text that pushes the views below the fold." for i in range(12))
    view = ("import torch\nfrom course_utils.attention import attention_view\ntorch.manual_seed(0)\n"
            "attention_view(['The', ' cat', ' sat', ' down'], torch.rand(2, 4, 4).softmax(-1))")
    _write_notebook(lab_default_windowing["root"] / "below_the_fold.ipynb", [*CANARY_CELLS[:2], view],
                    markdown=[f"## Section {i}\n\n{filler}" for i in range(40)])
    page, where = run_in_browser(lab_default_windowing, driver, chromium, "below_the_fold.ipynb", "below_the_fold",
                                 "--scroll-to-top-first")

    assert page["errorOutputs"] == [] and page["run"]["ok"] is True, where
    assert page["executedCells"] == page["codeCells"] == 3, where
    assert (page["widgetOutputs"], page["plotlyOutputs"], page["circuitsvisViews"]) == (1, 1, 1), where
    assert_drawn(page, "below_the_fold", where)
    assert page["widgetInteraction"]["tried"] and "27" in page["widgetInteraction"]["after"], where
