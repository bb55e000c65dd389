"""course-grade end to end: shipped notebooks, broken submissions, files that are not notebooks.

Every test runs the real console script in a subprocess (never learner code in this process).
Submissions are graded in batches with --jobs 2, once per module, so the suite stays fast.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from course_utils import authoring, grading

REPO = Path(grading.__file__).resolve().parent.parent
CHAPTERS = [c.stem for c in authoring.find_chapters(REPO)]
TIMEOUTS = ["--timeout", "300", "--cell-timeout", "120"]

pytestmark = pytest.mark.slow


def course_grade(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``course-grade`` (the installed script, or the module when the package is not installed)."""
    script = Path(sys.executable).with_name("course-grade")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "course_utils.grading"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_batch(paths: list[Path], tmp: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """Grade ``paths`` in one run (2 in parallel); results by file name. Checks the files are unchanged."""
    before = {p: sha256(p) for p in paths if p.exists()}
    report = tmp / "report.json"
    proc = course_grade(*map(str, paths), "--json", str(report), "--csv", str(tmp / "report.csv"),
                        "--jobs", "2", *TIMEOUTS, *extra)
    assert {p: sha256(p) for p in before} == before, "a submission was modified"
    results = {Path(r["file"]).name: r for r in json.loads(report.read_text())} if report.exists() else {}
    return proc, results


def points(result: dict) -> dict[str, tuple[int, int]]:
    return {e["id"]: (e["points"], e["max_points"]) for e in result["exercises"]}


def failure(result: dict, exercise_id: str) -> str:
    """Every non-passing check message of one exercise, joined."""
    ex = next(e for e in result["exercises"] if e["id"] == exercise_id)
    return "\n".join(f"{c['name']}: {c['message']}" for c in ex["checks"] if c["status"] != "pass")


# ---------------------------------------------------------------------------------------------
# Shipped notebooks: solutions get full marks, learner versions run to the end and get 0


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shipped")
    paths = []
    for stem in CHAPTERS:
        # distinct names: a learner and a solution notebook share their file name
        for kind, src in (("learner", REPO / "chapters" / f"{stem}.ipynb"),
                          ("solution", REPO / "chapters" / "solutions" / f"{stem}.ipynb")):
            dst = tmp / f"{stem}.{kind}.ipynb"
            dst.write_bytes(src.read_bytes())
            paths.append(dst)
    originals = [REPO / "chapters" / f"{s}.ipynb" for s in CHAPTERS]
    before = {p: sha256(p) for p in originals}
    proc, results = grade_batch(paths, tmp, "--check-timeout", "60")  # generous: the machine may be busy
    assert {p: sha256(p) for p in originals} == before
    return proc, results


@pytest.mark.parametrize("stem", CHAPTERS)
def test_solution_notebook_scores_full_marks(shipped, stem):
    proc, results = shipped
    assert proc.returncode == 0, proc.stderr
    result = results[f"{stem}.solution.ipynb"]
    assert result["max_score"] > 0
    assert result["score"] == result["max_score"], json.dumps(result["exercises"], indent=1)
    assert result["cell_errors"] == []
    assert any(c["hidden"] for e in result["exercises"] for c in e["checks"]), "hidden checks were not run"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_learner_notebook_runs_to_the_end_and_scores_zero(shipped, stem):
    proc, results = shipped
    result = results[f"{stem}.learner.ipynb"]
    assert result["cell_errors"] == [], result["cell_errors"]
    assert result["score"] == 0 and result["max_score"] > 0
    assert f"score: 0/{result['max_score']}" in proc.stdout


def test_printed_report_format(shipped):
    proc, results = shipped
    blocks = proc.stdout.split("== ")[1:]
    assert len(blocks) == len(results)
    for block in blocks:
        assert block.rstrip().splitlines()[-1].startswith("score: ")
    assert "✓ 0.1 n_params_answer 3/3" in proc.stdout
    assert "✗ 0.3 next_token_probs 0/4" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Broken submissions, made from the chapter-00 solution notebook


def solution_00() -> nbformat.NotebookNode:
    return nbformat.read(REPO / "chapters" / "solutions" / "00_start_here.ipynb", as_version=4)


def cell_with(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def replace_in(nb: nbformat.NotebookNode, marker: str, old: str, new: str) -> None:
    cell = cell_with(nb, marker)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


def insert_after(nb: nbformat.NotebookNode, marker: str, source: str) -> None:
    index = nb.cells.index(cell_with(nb, marker))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, id=f"extra-{index}"))


NTP = 'check("next_token_probs"'
NTP_BODY = "return logits[:, -1, :].softmax(dim=-1)"
NPARAMS = 'check("n_params_answer"'
CHOICE = 'check("q_model_output"'


def syntax_error(nb):
    replace_in(nb, NPARAMS, "model.parameters())", "model.parameters()")


def infinite_loops(nb):
    replace_in(nb, NTP, NTP_BODY, "while True:\n        pass")  # stopped by the check's time limit
    replace_in(nb, CHOICE, 'q_model_output = "b"', 'while True:\n    pass\nq_model_output = "b"')  # by the cell's


def wrong_shape_and_dtype(nb):
    replace_in(nb, NTP, NTP_BODY, "return logits.softmax(dim=-1)")
    replace_in(nb, NPARAMS, "n_params_answer = sum(", "n_params_answer = float(sum(")
    replace_in(nb, NPARAMS, "model.parameters())", "model.parameters()))")


def nans(nb):
    replace_in(nb, NTP, NTP_BODY, "return logits[:, -1].softmax(dim=-1) * float('nan')")


def redefines_check(nb):
    insert_after(nb, "from course_utils.checks import check", (
        "import course_utils.checks as _c\n"
        "def check(exercise_id, submission, **kwargs):\n"
        "    print('✓ all good')\n"
        "    return submission\n"
        "_c.check = check\n"
        "_c.run_check = lambda ex, chk, sub, **kw: _c.CheckResult(chk.name, 'pass')\n"
        "_c.grade_namespace = lambda *a, **k: {'chapter': '00', 'exercises': [], 'notes': []}\n"
        "_c._REGISTRY.clear()\n"
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
    f.__name__: f for f in (syntax_error, infinite_loops, wrong_shape_and_dtype, nans, redefines_check,
                            prints_a_megabyte, kernel_dies)
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    paths = []
    for name, edit in BAD.items():
        nb = copy.deepcopy(solution_00())
        edit(nb)
        path = tmp / f"00_{name}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    not_notebook = tmp / "00_not_a_notebook.ipynb"
    not_notebook.write_text("this is not JSON\n")
    paths.append(not_notebook)
    started = time.monotonic()
    proc, results = grade_batch(paths, tmp, "--cell-timeout", "25", "--check-timeout", "3")
    return proc, results, time.monotonic() - started


def test_batch_with_an_ungradeable_file_grades_the_rest(bad):
    proc, results, _ = bad
    assert proc.returncode == 2
    assert set(results) == {f"00_{n}.ipynb" for n in BAD} | {"00_not_a_notebook.ipynb"}
    assert proc.stderr.strip().splitlines()[-1].startswith("course-grade: ")
    assert proc.stdout.count("score: ") == len(BAD)


def test_syntax_error(bad):
    result = bad[1]["00_syntax_error.ipynb"]
    assert any("SyntaxError" in e for e in result["cell_errors"])
    assert points(result) == {"n_params_answer": (0, 3), "q_model_output": (2, 2), "next_token_probs": (4, 4)}
    assert "no variable named `n_params_answer`" in failure(result, "n_params_answer")


def test_infinite_loops_are_stopped_and_the_rest_graded(bad):
    result = bad[1]["00_infinite_loops.ipynb"]
    assert any("did not finish within 25 s (time limit per cell)" in e for e in result["cell_errors"])
    assert points(result) == {"n_params_answer": (3, 3), "q_model_output": (0, 2), "next_token_probs": (0, 4)}
    assert "did not return within 3 s" in failure(result, "next_token_probs")


def test_wrong_shape_and_dtype(bad):
    result = bad[1]["00_wrong_shape_and_dtype.ipynb"]
    assert points(result)["n_params_answer"] == (2, 3)
    assert "expected a whole number" in failure(result, "n_params_answer")
    msg = failure(result, "next_token_probs")
    assert "expected shape (2, 10), got (2, 4, 10)" in msg
    assert "keep only the last one" in msg
    assert points(result)["next_token_probs"] == (1, 4)  # only "does not change its input" holds


def test_nans(bad):
    result = bad[1]["00_nans.ipynb"]
    assert "contains NaN" in failure(result, "next_token_probs")
    assert points(result)["next_token_probs"] == (1, 4)
    assert result["score"] == result["max_score"] - 3


def test_redefining_check_does_not_fool_the_grader(bad):
    proc, results, _ = bad
    result = results["00_redefines_check.ipynb"]
    assert points(result) == {"n_params_answer": (1, 3), "q_model_output": (0, 2), "next_token_probs": (1, 4)}
    assert "score: 2/9" in proc.stdout


def test_a_megabyte_of_output(bad):
    proc, results, _ = bad
    result = results["00_prints_a_megabyte.ipynb"]
    assert result["score"] == result["max_score"]
    assert len(proc.stdout) < 50_000
    report = Path(proc.args[proc.args.index("--json") + 1])
    assert report.stat().st_size < 200_000


def test_dead_kernel_is_reported_and_scored_zero(bad):
    result = bad[1]["00_kernel_dies.ipynb"]
    assert result["score"] == 0 and result["max_score"] == 9
    assert any("kernel died" in n for n in result["notes"])


def test_json_and_csv_reports(bad, tmp_path):
    proc, results, _ = bad
    assert results["00_not_a_notebook.ipynb"]["error"].startswith("not a notebook")
    csv_text = (Path(results["00_nans.ipynb"]["file"]).parent / "report.csv").read_text()
    assert "00_nans.ipynb,00,next_token_probs,0.3,1,4," in csv_text


# ---------------------------------------------------------------------------------------------
# Files that cannot be graded


@pytest.mark.parametrize("content, reason", [
    (b"not json at all", "not a notebook: the file is not valid JSON"),
    (b'{"hello": "world"}', "not a notebook: valid JSON, but without"),
    (b"\xff\xfe\x00binary", "not a notebook: the file is not valid JSON"),
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
    nb = solution_00()
    nb.metadata["course"]["chapter"] = "77"
    path = tmp_path / "77_x.ipynb"
    nbformat.write(nb, path)
    proc = course_grade(str(path), str(tmp_path / "missing.ipynb"))
    assert proc.returncode == 2
    assert "unknown chapter '77'" in proc.stderr and "cannot read the file" in proc.stderr


# ---------------------------------------------------------------------------------------------
# Overhead: course-grade time minus plain execution time of the same notebook


def test_grading_overhead_is_small(tmp_path):
    """The grader adds at most 5 s to executing the notebook itself.

    The other test worker keeps the machine busy in bursts, so a single pair of timings can differ by
    seconds for reasons that have nothing to do with grading. Plain execution and grading therefore
    alternate twice, and the fastest run of each is compared.
    """
    from nbclient import NotebookClient

    path = REPO / "chapters" / "solutions" / "00_start_here.ipynb"

    def execute_plainly() -> float:
        env_before = dict(os.environ)
        os.environ.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
        try:
            nb = nbformat.read(path, as_version=4)
            started = time.monotonic()
            NotebookClient(nb, kernel_name="python3", timeout=300,
                           resources={"metadata": {"path": str(tmp_path)}}).execute()
            return time.monotonic() - started
        finally:
            os.environ.clear()
            os.environ.update(env_before)

    def grade() -> float:
        started = time.monotonic()
        proc = course_grade(str(path))
        assert proc.returncode == 0 and "score: 9/9" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        return time.monotonic() - started

    plain, graded = [], []
    for _ in range(2):
        plain.append(execute_plainly())
        graded.append(grade())
    overhead = min(graded) - min(plain)
    print(f"\nplain execution {min(plain):.1f} s (runs: {', '.join(f'{t:.1f}' for t in plain)}), "
          f"course-grade {min(graded):.1f} s (runs: {', '.join(f'{t:.1f}' for t in graded)}), "
          f"overhead {overhead:.1f} s")
    assert overhead <= 5.0
