"""course-grade end to end: honest notebooks, broken ones, and attacks on the grader.

Every test runs the real console script in a subprocess; learner code only ever runs in the sandbox.
Submissions are graded in batches with --jobs 2, a few batches per module, so the suite stays fast.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from course_utils import authoring
from course_utils.exercises import exercises_for_chapter

REPO = authoring.REPO_ROOT
# Whole shipped notebooks graded end to end (every chapter's reference answers also go through the
# sandbox below, and nbval and the browser test run every chapter).
SHIPPED = ["00_start_here", "01_tokens_and_vectors"]
LIMITS = ["--timeout", "900", "--cell-timeout", "300"]  # limits, not targets: the machine may be busy
SECRET = "grader-secret-7f3e9a"

pytestmark = pytest.mark.slow


def course_grade(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``course-grade`` (the installed script, or the module when the package is not installed)."""
    script = Path(sys.executable).with_name("course-grade")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "course_utils.grading"]
    full_env = dict(os.environ, HF_HUB_OFFLINE="1", COURSE_GRADER_SECRET=SECRET, **(env or {}))
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=full_env)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hash(folder: Path) -> str:
    """One hash of every file under ``folder`` (caches left out): proves nothing there was written."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def grade_batch(paths: list[Path], tmp: Path, *extra: str, jobs: int = 2) -> tuple[subprocess.CompletedProcess, dict]:
    """Grade ``paths`` in one run; results by file name. Checks that every file is unchanged."""
    before = {p: sha256(p) for p in paths if p.exists()}
    report = tmp / "report.json"
    proc = course_grade(*map(str, paths), "--json", str(report), "--csv", str(tmp / "report.csv"),
                        "--jobs", str(jobs), *LIMITS, *extra)
    assert {p: sha256(p) for p in before} == before, "a submission was modified"
    results = {Path(r["file"]).name: r for r in json.loads(report.read_text())} if report.exists() else {}
    return proc, results


def points(result: dict) -> dict[str, tuple[int, int]]:
    return {e["id"]: (e["points"], e["max_points"]) for e in result["exercises"]}


def failure(result: dict, exercise_id: str) -> str:
    """Every non-passing check message of one exercise, joined."""
    ex = next(e for e in result["exercises"] if e["id"] == exercise_id)
    return "\n".join(f"{c['name']}: {c['message']}" for c in ex["checks"] if c["status"] != "pass")


def full_marks(chapter: str) -> int:
    from course_utils.grading.verdict import load_hidden

    load_hidden(chapter, REPO / "instructor" / "hidden_checks")
    return sum(len(ex.checks) for ex in exercises_for_chapter(chapter))


def notebook(kind: str, stem: str = "00_start_here") -> nbformat.NotebookNode:
    folder = REPO / "chapters" / ("solutions" if kind == "solution" else "")
    return nbformat.read(folder / f"{stem}.ipynb", as_version=4)


def cell_with(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def replace_in(nb: nbformat.NotebookNode, marker: str, old: str, new: str) -> None:
    cell = cell_with(nb, marker)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


def insert_after(nb: nbformat.NotebookNode, marker: str, source: str) -> None:
    index = nb.cells.index(cell_with(nb, marker))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, id=f"extra-{index}-{len(nb.cells)}"))


def append(nb: nbformat.NotebookNode, source: str) -> None:
    nb.cells.append(nbformat.v4.new_code_cell(source, id=f"extra-end-{len(nb.cells)}"))


NTP = 'check("next_token_probs"'
NTP_BODY = "return logits[:, -1, :].softmax(dim=-1)"
NPARAMS = 'check("n_params_answer"'
CHOICE = 'check("q_model_output"'


# ---------------------------------------------------------------------------------------------
# Shipped notebooks: solutions get full marks, learner versions run to the end and get 0


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shipped")
    paths = []
    for stem in SHIPPED:
        for kind in ("learner", "solution"):
            path = tmp / f"{stem}.{kind}.ipynb"  # distinct names: both versions share their file name
            nbformat.write(notebook(kind, stem), path)
            paths.append(path)
    originals = [REPO / "chapters" / f"{s}.ipynb" for s in SHIPPED]
    before = {p: sha256(p) for p in originals}
    proc, results = grade_batch(paths, tmp, "--check-timeout", "60")
    assert {p: sha256(p) for p in originals} == before
    return proc, results


@pytest.mark.parametrize("stem", SHIPPED)
def test_solution_notebook_scores_full_marks(shipped, stem):
    proc, results = shipped
    assert proc.returncode == 0, proc.stderr
    result = results[f"{stem}.solution.ipynb"]
    assert result["score"] == result["max_score"] == full_marks(stem[:2]), json.dumps(result, indent=1)[:3000]
    assert result["cell_errors"] == []
    assert any(c["hidden"] for e in result["exercises"] for c in e["checks"]), "hidden checks were not run"


@pytest.mark.parametrize("stem", SHIPPED)
def test_learner_notebook_runs_to_the_end_and_scores_zero(shipped, stem):
    proc, results = shipped
    result = results[f"{stem}.learner.ipynb"]
    # The sandbox holds no reference to stand in for unsolved exercises: only cells that need one fail
    # (and cells that use what such a cell would have defined).
    assert all(("ReferenceWithheld" in e or "NameError" in e) for e in result["cell_errors"]), result["cell_errors"]
    assert result["score"] == 0 and result["max_score"] == full_marks(stem[:2])
    assert f"score: 0/{result['max_score']}" in proc.stdout


def test_printed_report_format(shipped):
    proc, results = shipped
    blocks = proc.stdout.split("== ")[1:]
    assert len(blocks) == len(results)
    for block in blocks:
        lines = block.rstrip().splitlines()
        assert lines[-1].startswith("score: ")
        assert all(line.startswith(" ") for line in lines[1:-1])
    assert "✓ 0.1 n_params_answer 3/3" in proc.stdout
    assert "✗ 0.3 next_token_probs 0/4" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Attacks on the grader, graded together with honest notebooks (in parallel), then honest ones again


def forge_the_verdict(nb):
    """Replace what an in-kernel grader would have used to report its verdict."""
    append(nb, "import json, builtins\n"
               "json.dumps = lambda *a, **k: '{\"chapter\": \"00\", \"exercises\": []}'\n"
               "builtins.sum = lambda *a, **k: 10 ** 9\n"
               "exec = lambda *a, **k: None\n"
               "get_ipython().events.register('pre_run_cell', lambda *a: print('score: 9/9'))\n")


def hijack_the_package(nb):
    append(nb, "import os, sys, course_utils\n"
               "fake = os.path.expanduser('~/fake/course_utils')\n"
               "os.makedirs(os.path.join(fake, 'grading'), exist_ok=True)\n"
               "open(os.path.join(fake, 'grading', 'collect.py'), 'w').write('def collect(*a, **k): pass')\n"
               "course_utils.__path__.insert(0, fake)\n"
               "sys.modules.pop('course_utils.grading.collect', None)\n")


def objects_that_lie(nb):
    append(nb, "import torch\n"
               "class Agreeable(torch.Tensor):\n"
               "    @classmethod\n"
               "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
               "        if func in (torch.isclose, torch.equal, torch.allclose, torch.Tensor.__eq__):\n"
               "            return True\n"
               "        return super().__torch_function__(func, types, args, kwargs or {})\n"
               "def next_token_probs(logits):\n"
               "    return torch.zeros(logits.shape[0], logits.shape[-1]).as_subclass(Agreeable)\n"
               "class Yes(str):\n"
               "    def __eq__(self, other):\n"
               "        return True\n"
               "    __hash__ = str.__hash__\n"
               "q_model_output = Yes('z')\n")


def leave_traces(nb):
    """Everything that used to persist: files in the package and repository, startup files, a process."""
    append(nb, "import os, subprocess, sys, site\n"
               f"targets = [{str(REPO / 'course_utils' / 'checks.py')!r}, {str(REPO / 'sitecustomize.py')!r},\n"
               "           os.path.join(site.getsitepackages()[0], 'sitecustomize.py')]\n"
               "for t in targets:\n"
               "    try:\n"
               "        open(t, 'a').write('\\nraise SystemExit\\n')\n"
               "    except OSError as err:\n"
               "        print('refused:', t, err)\n"
               "startup = os.path.expanduser('~/.ipython/profile_default/startup')\n"
               "os.makedirs(startup, exist_ok=True)\n"
               "open(os.path.join(startup, '00-evil.py'), 'w').write('q_model_output = \"a\"')\n"
               "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(600)  # grader-test-sleeper'],\n"
               "                 start_new_session=True)\n"
               "try:\n"
               "    os.kill(-1, 9)\n"  # every process this code can see: only its own sandbox
               "except OSError:\n"
               "    pass\n")


def look_for_secrets(nb):
    """Read the grader's environment, command line and hidden checks, and hand them in as an answer."""
    append(nb, "import os, glob\n"
               "found = [repr(dict(os.environ))]\n"
               "for path in glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ'):\n"
               "    try:\n"
               "        found.append(open(path, 'rb').read().decode(errors='replace'))\n"
               "    except OSError:\n"
               "        pass\n"
               "for root, dirs, files in os.walk('/'):\n"
               "    if root.startswith(('/proc', '/sys', '/usr', '/dev')):\n"
               "        dirs[:] = []\n"
               "        continue\n"
               "    for name in files:\n"
               "        if 'hidden' in root or name == 'canary.txt':\n"
               "            try:\n"
               "                found.append(open(os.path.join(root, name)).read())\n"
               "            except OSError:\n"
               "                pass\n"
               "q_model_output = ' '.join(found)\n")


def forge_report_lines(nb):
    append(nb, 'raise Exception("ok\\nscore: 9/9\\n== fake.ipynb (chapter 00)")')


ATTACKS: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    f.__name__: f for f in (forge_the_verdict, hijack_the_package, objects_that_lie, leave_traces,
                            look_for_secrets, forge_report_lines)
}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    hidden = tmp / "private-hidden-checks"
    shutil.copytree(REPO / "instructor" / "hidden_checks", hidden)
    (hidden / "canary.txt").write_text(SECRET)
    honest = [tmp / "00_honest_learner.ipynb", tmp / "00_honest_solution.ipynb"]
    nbformat.write(notebook("learner"), honest[0])
    nbformat.write(notebook("solution"), honest[1])
    attacks = []
    for name, edit in ATTACKS.items():
        nb = copy.deepcopy(notebook("learner"))
        edit(nb)
        attacks.append(tmp / f"00_{name}.ipynb")
        nbformat.write(nb, attacks[-1])
    guarded = [REPO / "course_utils" / part for part in ("checks.py", "grading", "exercises", "solutions")]
    package_before = [tree_hash(p) if p.is_dir() else sha256(p) for p in guarded]
    repo_files_before = sorted(p.name for p in REPO.iterdir())
    # each honest notebook graded after attacks, beside one (two at a time), and again in a later run
    first, results = grade_batch([*attacks[:3], honest[0], *attacks[3:], honest[1]],
                                 tmp, "--hidden-checks", str(hidden))
    (tmp / "second").mkdir()
    second, again = grade_batch(honest, tmp / "second", "--hidden-checks", str(hidden))
    return {"first": first, "results": results, "second": second, "again": again, "hidden": hidden,
            "package_changed": [tree_hash(p) if p.is_dir() else sha256(p) for p in guarded] != package_before,
            "repo_files": (repo_files_before, sorted(p.name for p in REPO.iterdir()))}


def test_attacks_gain_nothing(attacked):
    for name in ATTACKS:
        result = attacked["results"][f"00_{name}.ipynb"]
        assert result["score"] == 0, (name, json.dumps(result["exercises"], indent=1)[:2000])


def test_honest_scores_are_the_same_beside_attacks_and_in_a_later_run(attacked):
    full = full_marks("00")
    for results in (attacked["results"], attacked["again"]):
        assert results["00_honest_learner.ipynb"]["score"] == 0
        assert results["00_honest_solution.ipynb"]["score"] == full
    blocks = [b.rstrip().splitlines() for b in attacked["first"].stdout.split("== ")[1:]]
    solution_rows = [b[-1] for b in blocks if "00_honest_solution" in b[0]]
    learner_rows = [b[-1] for b in blocks if "00_honest_learner" in b[0]]
    assert solution_rows == [f"score: {full}/{full}"] and learner_rows == [f"score: 0/{full}"]


def test_nothing_outside_the_sandbox_was_changed_or_left_running(attacked):
    assert not attacked["package_changed"]
    before, after = attacked["repo_files"]
    assert before == after and "sitecustomize.py" not in after
    import site

    assert not any((Path(p) / "sitecustomize.py").exists() for p in site.getsitepackages())
    sleepers = subprocess.run(["pgrep", "-f", "grader-test-sleeper"], capture_output=True, text=True).stdout
    assert sleepers.strip() == ""


def test_lying_objects_are_named_and_get_no_point(attacked):
    result = attacked["results"]["00_objects_that_lie.ipynb"]
    assert "a Agreeable, a subclass of Tensor" in failure(result, "next_token_probs")
    assert "a Yes, a subclass of str" in failure(result, "q_model_output")


def test_secrets_do_not_reach_the_sandbox(attacked):
    result = attacked["results"]["00_look_for_secrets.ipynb"]
    text = json.dumps(result)
    assert SECRET not in text and "COURSE_GRADER_SECRET" not in text
    assert str(attacked["hidden"]) not in text and "private-hidden-checks" not in text
    assert "Hidden checks for chapter" not in text


def test_report_lines_cannot_be_forged(attacked):
    lines = attacked["first"].stdout.splitlines()
    blocks = attacked["first"].stdout.count("\n== ") + 1
    assert sum(line.startswith("score: ") for line in lines) == blocks == len(ATTACKS) + 2
    assert not any(line.startswith("== fake.ipynb") for line in lines)
    result = attacked["results"]["00_forge_report_lines.ipynb"]
    assert any("ok\\nscore: 9/9" in e for e in result["cell_errors"])


# ---------------------------------------------------------------------------------------------
# Broken submissions and awkward files, made from the chapter-00 solution notebook


def syntax_error(nb):
    replace_in(nb, NPARAMS, "model.parameters())", "model.parameters()")


def infinite_loops(nb):
    replace_in(nb, NTP, NTP_BODY, "while True:\n        pass")  # stopped by the case's time limit
    replace_in(nb, CHOICE, 'q_model_output = "b"', 'while True:\n    pass\nq_model_output = "b"')  # by the cell's


def ignores_interrupts(nb):
    insert_after(nb, NPARAMS, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                              "while True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass")


def wrong_shape_and_dtype(nb):
    replace_in(nb, NTP, NTP_BODY, "return logits.softmax(dim=-1)")
    replace_in(nb, NPARAMS, "n_params_answer = sum(", "n_params_answer = float(sum(")
    replace_in(nb, NPARAMS, "model.parameters())", "model.parameters()))")


def nans(nb):
    replace_in(nb, NTP, NTP_BODY, "return logits[:, -1].softmax(dim=-1) * float('nan')")


def changes_its_input(nb):
    replace_in(nb, NTP, NTP_BODY, "logits[:, -1] = logits[:, -1].softmax(dim=-1)\n    return logits[:, -1]")


def redefines_check(nb):
    insert_after(nb, "from course_utils.checks import check", (
        "import course_utils.checks as _c\n"
        "def check(exercise_id, submission, **kwargs):\n"
        "    print('✓ all good')\n"
        "    return submission\n"
        "_c.check = check\n"
        "print('score: 9/9')\n"
        "list, dict, str, getattr, len, RuntimeError = None, None, None, None, None, None\n"
    ))
    replace_in(nb, NPARAMS, "sum(p.numel() for p in model.parameters())", "1")
    replace_in(nb, CHOICE, 'q_model_output = "b"', 'q_model_output = "a"')
    replace_in(nb, NTP, NTP_BODY, "return logits[:, -1]")


def prints_a_megabyte(nb):
    insert_after(nb, NPARAMS, "print('x' * 1_000_000)")


def kernel_dies(nb):
    insert_after(nb, NPARAMS, "import os\nos._exit(1)")


BAD: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    f.__name__: f for f in (syntax_error, infinite_loops, ignores_interrupts, wrong_shape_and_dtype, nans,
                            changes_its_input, redefines_check, prints_a_megabyte, kernel_dies)
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    paths = []
    for name, edit in BAD.items():
        nb = copy.deepcopy(notebook("solution"))
        edit(nb)
        paths.append(tmp / f"00_{name}.ipynb")
        nbformat.write(nb, paths[-1])
    old = tmp / "00_format_v3.ipynb"
    old.write_text(nbformat.writes(nbformat.convert(notebook("solution"), 3)))
    misnamed = tmp / "01_actually_chapter_00.ipynb"
    nbformat.write(notebook("solution"), misnamed)
    not_notebook = tmp / "00_not_a_notebook.ipynb"
    not_notebook.write_text("this is not JSON\n")
    paths += [old, misnamed, not_notebook]
    started = time.monotonic()
    proc, results = grade_batch(paths, tmp, "--cell-timeout", "20", "--check-timeout", "3", "--timeout", "300")
    return proc, results, time.monotonic() - started


def test_batch_with_an_ungradeable_file_grades_the_rest(bad):
    proc, results, _ = bad
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("course-grade: ")
    assert proc.stdout.count("score: ") == len(results) - 1


def test_syntax_error(bad):
    result = bad[1]["00_syntax_error.ipynb"]
    assert any("SyntaxError" in e for e in result["cell_errors"])
    assert points(result) == {"n_params_answer": (0, 3), "q_model_output": (1, 1), "next_token_probs": (4, 4)}
    assert "no variable named `n_params_answer`" in failure(result, "n_params_answer")


def test_infinite_loops_are_stopped_and_the_rest_graded(bad):
    result = bad[1]["00_infinite_loops.ipynb"]
    assert any("did not finish within 20 s (time limit per cell)" in e for e in result["cell_errors"])
    assert points(result) == {"n_params_answer": (3, 3), "q_model_output": (0, 1), "next_token_probs": (0, 4)}
    assert "did not return within 3 s" in failure(result, "next_token_probs")


def test_a_cell_that_ignores_interrupts_is_left_out_and_named(bad):
    result = bad[1]["00_ignores_interrupts.ipynb"]
    assert result["score"] == result["max_score"]
    assert any("did not stop when interrupted" in n and "import signal, time" in n for n in result["notes"])
    assert result["seconds"] < 300 + 30  # --timeout bounds the whole submission


def test_wrong_shape_and_dtype(bad):
    result = bad[1]["00_wrong_shape_and_dtype.ipynb"]
    assert points(result)["n_params_answer"] == (0, 3)
    assert "expected a whole number" in failure(result, "n_params_answer")
    msg = failure(result, "next_token_probs")
    assert "expected shape (2, 10), got (2, 4, 10)" in msg and "keep only the last one" in msg


def test_nans(bad):
    result = bad[1]["00_nans.ipynb"]
    assert "contains NaN" in failure(result, "next_token_probs")
    assert points(result)["next_token_probs"] == (0, 4)


def test_changing_the_input_costs_the_points_and_says_why(bad):
    result = bad[1]["00_changes_its_input.ipynb"]
    assert points(result)["next_token_probs"] == (0, 4)
    assert "changed its input `logits` in place" in failure(result, "next_token_probs")


def test_redefining_check_does_not_fool_the_grader(bad):
    proc, results, _ = bad
    assert points(results["00_redefines_check.ipynb"]) == {
        "n_params_answer": (1, 3), "q_model_output": (0, 1), "next_token_probs": (0, 4)}


def test_a_megabyte_of_output(bad):
    proc, results, _ = bad
    result = results["00_prints_a_megabyte.ipynb"]
    assert result["score"] == result["max_score"]
    assert len(proc.stdout) < 50_000


def test_dead_kernel_is_reported_and_scored_zero(bad):
    result = bad[1]["00_kernel_dies.ipynb"]
    assert result["score"] == 0 and result["max_score"] == full_marks("00")
    assert any("kernel died" in n for n in result["notes"])


def test_an_old_format_notebook_is_converted_and_graded(bad):
    result = bad[1]["00_format_v3.ipynb"]
    assert result["error"] == "" and result["score"] == result["max_score"]


def test_a_chapter_that_disagrees_with_the_file_name_is_named(bad):
    result = bad[1]["01_actually_chapter_00.ipynb"]
    assert result["chapter"] == "00" and result["score"] == result["max_score"]
    assert any("file name says chapter 01" in n and "graded as chapter 00" in n for n in result["notes"])


def test_json_and_csv_reports(bad):
    proc, results, _ = bad
    assert results["00_not_a_notebook.ipynb"]["error"].startswith("not a notebook")
    csv_text = (Path(results["00_nans.ipynb"]["file"]).parent / "report.csv").read_text()
    assert "00_nans.ipynb,00,next_token_probs,0.3,0,4," in csv_text


# ---------------------------------------------------------------------------------------------
# Files that cannot be graded


@pytest.mark.parametrize("content, reason", [
    (b"not json at all", "not a notebook: the file is not valid JSON"),
    (b'{"hello": "world"}', "not a notebook: valid JSON, but without"),
    (b"\xff\xfe\x00binary", "not a notebook: the file is not UTF-8 text"),
])
def test_not_a_notebook_exits_nonzero_with_one_line(tmp_path, content, reason):
    path = tmp_path / "00_submission.ipynb"
    path.write_bytes(content)
    proc = course_grade(str(path))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and str(path) in lines[0]
    assert path.read_bytes() == content


def test_unknown_chapter_and_missing_file(tmp_path):
    nb = notebook("solution")
    nb.metadata["course"]["chapter"] = "77"
    path = tmp_path / "77_x.ipynb"
    nbformat.write(nb, path)
    proc = course_grade(str(path), str(tmp_path / "missing.ipynb"))
    assert proc.returncode == 2
    assert "unknown chapter '77'" in proc.stderr and "cannot read the file" in proc.stderr


def test_without_bubblewrap_the_grader_says_what_to_install(tmp_path):
    path = tmp_path / "00.ipynb"
    nbformat.write(notebook("solution"), path)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    proc = course_grade(str(path), env={"PATH": str(empty_bin)})
    assert proc.returncode == 2
    assert "apt install bubblewrap" in proc.stderr and "--no-sandbox" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# Every chapter's exercises through the sandbox: a notebook holding just the reference answers


def answers_notebook(chapter: str) -> nbformat.NotebookNode:
    """The generated solutions module as a notebook, each value and choice set to its reference."""
    source = (REPO / "course_utils" / "solutions" / f"ch{chapter}.py").read_text()
    values = [ex for ex in exercises_for_chapter(chapter) if ex.kind != "function"]
    settle = "\n".join(
        f"{ex.id} = {ex.id}(**{{p: Resource(p).resolve() for p in inspect.signature({ex.id}).parameters}})"
        for ex in values)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source),
        nbformat.v4.new_code_cell("import inspect\nfrom course_utils.exercises import Resource\n" + settle)])
    nb.metadata["course"] = {"chapter": chapter}
    return nb


def test_every_chapters_reference_answers_score_full_marks_through_the_sandbox(tmp_path):
    chapters = [c.number for c in authoring.find_chapters(REPO)]
    paths = []
    for chapter in chapters:
        paths.append(tmp_path / f"{chapter}_answers.ipynb")
        nbformat.write(answers_notebook(chapter), paths[-1])
    proc, results = grade_batch(paths, tmp_path, "--check-timeout", "60")
    for chapter in chapters:
        result = results[f"{chapter}_answers.ipynb"]
        assert result["score"] == result["max_score"] == full_marks(chapter), \
            (chapter, [f"{e['id']}: {failure(result, e['id'])}" for e in result["exercises"]
                       if e["points"] < e["max_points"]], result["notes"])


# ---------------------------------------------------------------------------------------------
# Time: grading against plain execution of the same notebook


def test_grading_time_against_plain_execution(tmp_path):
    """What the sandbox, the reference computation and the collection step add to running the notebook.

    The other test worker keeps the machine busy in bursts, so when the first pair of runs is over
    the budget, plain execution and grading alternate once more and the fastest run of each is compared.
    """
    from nbclient import NotebookClient

    path = REPO / "chapters" / "solutions" / "00_start_here.ipynb"

    def execute_plainly() -> float:
        nb = nbformat.read(path, as_version=4)
        started = time.monotonic()
        NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
        return time.monotonic() - started

    def grade() -> float:
        started = time.monotonic()
        proc = course_grade(str(path))
        full = full_marks("00")
        assert proc.returncode == 0 and f"score: {full}/{full}" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        return time.monotonic() - started

    plain, graded = [], []
    for _ in range(2):
        plain.append(execute_plainly())
        graded.append(grade())
        overhead = min(graded) - min(plain)
        if overhead <= 10.0:
            break
    print(f"\nplain execution {min(plain):.1f} s (runs: {', '.join(f'{t:.1f}' for t in plain)}), "
          f"course-grade {min(graded):.1f} s (runs: {', '.join(f'{t:.1f}' for t in graded)}), "
          f"overhead {overhead:.1f} s")
    assert overhead <= 10.0


def test_sandboxed_kernels_share_the_cores(monkeypatch):
    from course_utils.grading.cli import _kernel_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert (_kernel_threads(4), _kernel_threads(16), _kernel_threads(1)) == (2, 1, None)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as `make test` sets it for its two workers
    assert _kernel_threads(1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")
    assert _kernel_threads(1) is None


def test_a_course_kept_under_tmp_stays_visible_in_the_sandbox(tmp_path):
    """The sandbox's fresh /tmp is mounted before the course, its environment and the model cache,
    which may all live under /tmp (a clone in /tmp graded nothing when it came after them)."""
    from course_utils.grading.sandbox import Sandbox, bubblewrap

    try:
        bubblewrap()
    except Exception:
        pytest.skip("bubblewrap is not installed")
    args = Sandbox(tmp_path / "root", view=tmp_path / "view").command_prefix()
    mounts = [(args[i], args[i + 2]) for i in range(len(args) - 2) if args[i] in ("--bind", "--ro-bind")]
    targets = [target for _, target in mounts]
    fresh_tmp = targets.index("/tmp")
    later = [path for path in (sys.prefix, str(REPO / "course_utils")) if path in targets]
    assert later and all(targets.index(path) > fresh_tmp for path in later), mounts
