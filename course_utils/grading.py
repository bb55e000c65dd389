"""Batch grading of submitted notebooks (console script ``course-grade``).

For each submission the grader:

1. reads the notebook (a file that is not a notebook is reported in one line, nothing is run);
2. runs it top to bottom in a fresh kernel, offline, in a temporary folder, with a time limit per
   cell (an endless loop is interrupted and the next cell runs) and per notebook;
3. in the same kernel, runs a grading cell of its own: it throws away the imported
   ``course_utils.checks`` and ``course_utils.exercises`` modules and imports them again (so a
   submission that redefined ``check`` or changed the registry gains nothing), loads the hidden
   checks, runs every check on the objects the notebook defined, and prints one JSON line framed by
   a random nonce, which is the only output the grader reads;
4. prints one line per exercise and ``score: X/Y`` (one point per check).

The submission file is never written to, and learner code only ever runs in the kernel process.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import re
import logging
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DEFAULT_HIDDEN_DIR = REPO_ROOT / "instructor" / "hidden_checks"
MAX_OUTPUT_CHARS = 100_000  # per cell; what is printed beyond this is dropped (in memory only)
_CHAPTER_PREFIX = re.compile(r"^(\d\d)_")


class Ungradeable(Exception):
    """A file that cannot be graded at all; the message is the one-line reason."""


class KernelDied(Exception):
    """The submission's kernel exited; the message says where."""


@dataclass
class Options:
    """Grader settings (all times in seconds)."""

    timeout: float = 600.0  # the whole notebook
    cell_timeout: float = 120.0  # one cell
    check_timeout: float = 10.0  # one check
    grading_timeout: float = 180.0  # the grading cell as a whole
    hidden_dir: Path = DEFAULT_HIDDEN_DIR
    threads: int | None = None  # torch threads in the kernel (None: leave the default)


@dataclass
class Submission:
    """The outcome of grading one file."""

    file: str
    chapter: str = ""
    exercises: list[dict[str, Any]] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""  # set when the file could not be graded at all
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(e["points"] for e in self.exercises)

    @property
    def max_score(self) -> int:
        return sum(e["max_points"] for e in self.exercises)


# ---------------------------------------------------------------------------------------------
# Reading a submission


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (nbformat 4), or :class:`Ungradeable` with the reason."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise Ungradeable(f"cannot read the file ({err.strerror or err})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Ungradeable(f"not a notebook: the file is not valid JSON ({err})") from None
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        raise Ungradeable("not a notebook: valid JSON, but without the 'cells' and 'nbformat' of a Jupyter notebook")
    try:
        return nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as err:
        raise Ungradeable(f"not a readable Jupyter notebook ({type(err).__name__}: {err})") from None


def chapter_of(nb: Any, path: Path) -> str:
    """The chapter: notebook metadata ``course.chapter``, else the ``NN_`` prefix of the file name."""
    course = nb.metadata.get("course")
    chapter = str(course.get("chapter", "")) if isinstance(course, dict) else ""
    if not chapter and (m := _CHAPTER_PREFIX.match(path.name)):
        chapter = m.group(1)
    if not chapter:
        raise Ungradeable("unknown chapter: no course.chapter in the notebook metadata and no NN_ prefix in the name")
    if not (PACKAGE_DIR / "exercises" / f"ch{chapter}.py").is_file():
        raise Ungradeable(f"unknown chapter {chapter!r}: the course has no exercises for it")
    return chapter


def hidden_checks_file(chapter: str, hidden_dir: Path) -> Path | None:
    """``hidden_dir/NN_slug.py`` for this chapter, or None when there is none."""
    found = sorted(hidden_dir.glob(f"{chapter}_*.py")) if hidden_dir.is_dir() else []
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------
# Running it in a kernel


def _kernel_env(opts: Options) -> dict[str, str]:
    """The kernel's environment: offline, course_utils importable, short in-notebook check limits."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg",
               COURSE_CHECK_TIME_LIMIT=str(opts.check_timeout), PYDEVD_DISABLE_FILE_VALIDATION="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    if opts.threads:
        env.update(OMP_NUM_THREADS=str(opts.threads), MKL_NUM_THREADS=str(opts.threads))
    return env


def _client_class() -> type:
    """A NotebookClient that keeps at most MAX_OUTPUT_CHARS of output per cell (in memory)."""
    import nbformat
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        uncapped_cells: set[int] = set()

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
            if cell_index in self.uncapped_cells:
                return super().output(outs, msg, display_id, cell_index)
            used = getattr(self, "_used", {})
            self._used = used
            content = msg.get("content", {})
            size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
            before = used.get(cell_index, 0)
            used[cell_index] = before + size
            if before + size <= MAX_OUTPUT_CHARS:
                return super().output(outs, msg, display_id, cell_index)
            if before <= MAX_OUTPUT_CHARS:
                note = f"[output beyond {MAX_OUTPUT_CHARS:,} characters dropped by the grader]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None

    return CappedClient


def _quiet_log() -> logging.Logger:
    """nbclient reports time-outs as errors on stderr; the grader reports them itself."""
    log = logging.getLogger("course_utils.grading.nbclient")
    log.setLevel(logging.CRITICAL)
    return log


def _error_of(cell: Any) -> str | None:
    """``SyntaxError: invalid syntax`` for a cell whose run ended in an error, else None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {str(out.get('evalue', ''))[:200]}".rstrip(": ")
    return None


# Runs in a namespace of its own, so that names the submission rebound (list, dict, check, ...) do
# not matter; NAMESPACE is the submission's, SETTINGS come from the grader.
GRADING_CODE = """\
import importlib, sys
try:
    old = sys.modules.get("course_utils.checks")
    submitted = dict(getattr(old, "_SUBMITTED", None) or {})
    handed_out = dict(getattr(old, "_HANDED_OUT", None) or {})
except Exception:
    submitted, handed_out = {}, {}
for name in [n for n in list(sys.modules) if n == "course_utils.checks" or n.startswith("course_utils.exercises")]:
    del sys.modules[name]
checks = importlib.import_module("course_utils.checks")
if checks.__file__ != SETTINGS["checks_file"]:
    raise RuntimeError("course_utils.checks was replaced by " + str(checks.__file__))
result = checks.grade_namespace(NAMESPACE, SETTINGS["chapter"], hidden_path=SETTINGS["hidden"],
                                time_limit_s=SETTINGS["limit"], submitted=submitted, handed_out=handed_out)
checks.emit_grade(result, SETTINGS["nonce"])
"""


def grading_source(chapter: str, hidden: Path | None, nonce: str, check_timeout: float) -> str:
    """The code of the grading cell (runs after the submission, in its kernel)."""
    settings = {"chapter": chapter, "hidden": str(hidden) if hidden else None, "limit": check_timeout,
                "nonce": nonce, "checks_file": str(PACKAGE_DIR / "checks.py")}
    scope = f'{{"__builtins__": __import__("builtins"), "NAMESPACE": globals(), "SETTINGS": {settings!r}}}'
    return f'exec(compile({GRADING_CODE!r}, "<course-grade>", "exec"), {scope})\n'


def parse_result(text: str, nonce: str) -> dict[str, Any] | None:
    """The JSON between the two nonces in ``text``, or None."""
    m = re.search(re.escape(nonce) + r"(\{.*?\})" + re.escape(nonce), text, flags=re.S)
    if not m:
        return None
    try:
        return json.loads(m.group(1))
    except json.JSONDecodeError:
        return None


def _stdout_of(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def cell_label(nb: Any, index: int) -> str:
    """``cell 20 [n_params_answer = sum(...]``: 1-based position and the start of the first line."""
    first = next((line.strip() for line in nb.cells[index].source.splitlines() if line.strip()), "")
    return f"cell {index + 1} [{first[:40]}{'...' if len(first) > 40 else ''}]"


def _run_cells(client: Any, nb: Any, sub: Submission, opts: Options, started: float) -> None:
    """Execute the submission's code cells in order, within the per-cell and per-notebook limits."""
    from nbclient.exceptions import DeadKernelError

    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        left = opts.timeout - (time.monotonic() - started)
        if left <= 0:
            sub.notes.append(f"the notebook used up its {opts.timeout:g} s; {cell_label(nb, index)} "
                             "and the cells after it did not run")
            return
        limit = max(1, int(min(opts.cell_timeout, left)))
        client.timeout = limit
        client.error_on_timeout = {"ename": "CellTimeout", "evalue": f"did not finish within {limit} s; interrupted"}
        cell_started = time.monotonic()
        try:
            client.execute_cell(cell, index)
        except DeadKernelError:
            raise KernelDied(f"the kernel died while running {cell_label(nb, index)}") from None
        except Exception as err:  # nbclient's own trouble with one cell: record it, go on
            sub.cell_errors.append(f"{cell_label(nb, index)}: {type(err).__name__}: {err}")
            continue
        if (err := _error_of(cell)) is None:
            continue
        if time.monotonic() - cell_started >= limit and err.split(":")[0] in ("KeyboardInterrupt", "CellTimeout"):
            err = f"did not finish within {limit} s (time limit per cell); interrupted"
        sub.cell_errors.append(f"{cell_label(nb, index)}: {err}")


def _run_grading_cell(client: Any, nb: Any, chapter: str, hidden: Path | None, opts: Options) -> dict[str, Any] | None:
    """Append and run the grading cell; return its parsed result (None when it printed none)."""
    import nbformat

    nonce = secrets.token_hex(16)
    cell = nbformat.v4.new_code_cell(grading_source(chapter, hidden, nonce, opts.check_timeout))
    nb.cells.append(cell)
    index = len(nb.cells) - 1
    client.uncapped_cells = {index}
    client.timeout = int(opts.grading_timeout)
    client.error_on_timeout = {"ename": "CellTimeout", "evalue": "grading did not finish in time"}
    client.execute_cell(cell, index)
    result = parse_result(_stdout_of(cell), nonce)
    if result is None and (err := _error_of(cell)):
        raise RuntimeError(f"the grading step failed ({err})")
    return result


def execute_and_grade(nb: Any, chapter: str, sub: Submission, opts: Options) -> None:
    """Run ``nb`` in a fresh kernel in a temporary folder, then grade it there; fills ``sub``."""
    from nbclient.exceptions import DeadKernelError

    hidden = hidden_checks_file(chapter, opts.hidden_dir)
    if hidden is None:
        sub.notes.append(f"no hidden checks for chapter {chapter} in {opts.hidden_dir}: visible checks only")
    with tempfile.TemporaryDirectory(prefix="course-grade-") as workdir:
        client = _client_class()(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                                 timeout=int(opts.cell_timeout), iopub_timeout=10, record_timing=False,
                                 resources={"metadata": {"path": workdir}}, log=_quiet_log())
        started = time.monotonic()
        result, why = None, "the grading step printed no result"
        try:
            with client.setup_kernel(env=_kernel_env(opts), cwd=workdir, stderr=subprocess.DEVNULL):
                _run_cells(client, nb, sub, opts, started)
                result = _run_grading_cell(client, nb, chapter, hidden, opts)
        except KernelDied as err:
            why = str(err)
            sub.notes.append(f"{why} (out of memory, exit(), or a crash in native code); every exercise scores 0")
        except DeadKernelError:
            why = "the kernel died during grading"
            sub.notes.append(f"{why}; every exercise scores 0")
        except Exception as err:
            why = f"grading stopped: {type(err).__name__}: {err}"
            sub.notes.append(why)
    if result is None:
        sub.exercises = _zero_scores(chapter, hidden, f"not graded: {why}")
        return
    sub.exercises = result["exercises"]
    sub.notes += result.get("notes", []) + [f"chapter module failed to import: {k}: {v}"
                                             for k, v in result.get("load_errors", {}).items()]


def _zero_scores(chapter: str, hidden: Path | None, why: str) -> list[dict[str, Any]]:
    """Every exercise of the chapter at 0 points (used when the kernel could not grade)."""
    from course_utils import checks

    if hidden is not None:
        checks._load_hidden(hidden)
    return [{"id": ex.id, "number": ex.number, "title": ex.title, "kind": ex.kind, "points": 0,
             "max_points": len(ex.checks),
             "checks": [{"name": c.name, "status": "skipped", "message": why, "hidden": c.hidden} for c in ex.checks]}
            for ex in checks.exercises_for_chapter(chapter)]


def grade_file(path: str, opts: Options) -> Submission:
    """Grade one file; never raises (the reason lands in ``Submission.error``)."""
    started = time.monotonic()
    sub = Submission(file=path)
    try:
        nb = read_notebook(Path(path))
        sub.chapter = chapter_of(nb, Path(path))
        execute_and_grade(_prepared(nb), sub.chapter, sub, opts)
    except Ungradeable as err:
        sub.error = str(err)
    except Exception as err:  # the grader's own failure must not hide the other submissions
        sub.error = f"internal grader error: {type(err).__name__}: {err}"
    sub.seconds = round(time.monotonic() - started, 2)
    return sub


def _prepared(nb: Any) -> Any:
    """The notebook without stored outputs (they are the learner's, not this run's)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


# ---------------------------------------------------------------------------------------------
# Reporting


def _first_failure(exercise: dict[str, Any]) -> str:
    failed = next((c for c in exercise["checks"] if c["status"] != "pass"), None)
    if failed is None:
        return ""
    label = ("[hidden] " if failed.get("hidden") else "") + failed["name"]
    return f"{label}: {failed['message']}"


def format_submission(sub: Submission) -> str:
    """The text printed for one submission, ending with ``score: X/Y``."""
    lines = [f"== {sub.file}" + (f" (chapter {sub.chapter})" if sub.chapter else "")]
    if sub.error:
        return "\n".join(lines + [f"cannot grade: {sub.error}"])
    for err in sub.cell_errors[:10]:
        lines.append(f"  error in {err}")
    if len(sub.cell_errors) > 10:
        lines.append(f"  ... and {len(sub.cell_errors) - 10} more cells with errors")
    for ex in sub.exercises:
        mark = "✓" if ex["points"] == ex["max_points"] else "✗"
        lines.append(f"{mark} {ex['number']} {ex['id']} {ex['points']}/{ex['max_points']}")
        if mark == "✗":
            lines += ["    " + line for line in _first_failure(ex).splitlines()[:8]]
    lines += [f"  note: {note}" for note in sub.notes]
    lines.append(f"score: {sub.score}/{sub.max_score}")
    return "\n".join(lines)


def write_json(subs: Sequence[Submission], path: Path) -> None:
    rows = [dict(asdict(s), score=s.score, max_score=s.max_score) for s in subs]
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_csv(subs: Sequence[Submission], path: Path) -> None:
    """One row per submission and exercise (one row with the error for an ungradeable file)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "chapter", "exercise", "number", "points", "max_points", "first_failure", "error"])
        for s in subs:
            if s.error:
                w.writerow([s.file, s.chapter, "", "", 0, 0, "", s.error])
            for ex in s.exercises:
                w.writerow([s.file, s.chapter, ex["id"], ex["number"], ex["points"], ex["max_points"],
                            _first_failure(ex), ""])


# ---------------------------------------------------------------------------------------------
# Command line


def grade_all(paths: Sequence[str], opts: Options, jobs: int = 1) -> Iterator[Submission]:
    """Grade ``paths`` (``jobs`` at a time, each in its own worker process); yields in input order."""
    if jobs <= 1 or len(paths) <= 1:
        yield from (grade_file(p, opts) for p in paths)
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(grade_file, paths, [opts] * len(paths))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grade", description="Grade submitted chapter notebooks.")
    p.add_argument("submissions", nargs="+", help="notebook files (.ipynb)")
    p.add_argument("--json", type=Path, help="write per-submission, per-exercise results as JSON")
    p.add_argument("--csv", type=Path, help="write one row per submission and exercise as CSV")
    p.add_argument("--timeout", type=float, default=Options.timeout, help="seconds per notebook (%(default)s)")
    p.add_argument("--cell-timeout", type=float, default=Options.cell_timeout, help="seconds per cell (%(default)s)")
    p.add_argument("--check-timeout", type=float, default=Options.check_timeout, help="seconds per check (%(default)s)")
    p.add_argument("--hidden-checks", type=Path, default=DEFAULT_HIDDEN_DIR, help="folder of hidden checks")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (%(default)s)")
    return p


def _skip_slow_optional_imports() -> None:
    """nbformat imports jsonschema, which compiles an optional URI grammar (rfc3987_syntax, about
    1.3 s) that notebook validation never uses; marking it absent keeps grader start-up short."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every file was graded (whatever the scores), 2 when a file could not be graded."""
    args = _parser().parse_args(argv)
    _skip_slow_optional_imports()
    os.environ["HF_HUB_OFFLINE"] = "1"
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None
    opts = Options(timeout=args.timeout, cell_timeout=args.cell_timeout, check_timeout=args.check_timeout,
                   hidden_dir=args.hidden_checks, threads=threads)
    subs = []
    for sub in grade_all(args.submissions, opts, args.jobs):
        print(format_submission(sub), flush=True)
        if sub.error:
            print(f"course-grade: {sub.file}: {sub.error}", file=sys.stderr, flush=True)
        subs.append(sub)
    if args.json:
        write_json(subs, args.json)
    if args.csv:
        write_csv(subs, args.csv)
    return 2 if any(s.error for s in subs) else 0


if __name__ == "__main__":
    sys.exit(main())
