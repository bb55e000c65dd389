"""``course-grade``: grade submitted chapter notebooks, each in a sandbox of its own.

For each file the grader reads the notebook (a file that is not one is reported in one line), works
out its chapter, builds the check inputs (visible and hidden checks) and runs the notebook and then
the collection step in a fresh sandbox (:mod:`course_utils.grading.execute`). It then judges the
answers in its own process against its own references (:mod:`course_utils.grading.verdict`) and
prints one block per file ending in ``score: X/Y``. Submission files are only ever read.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading import execute, verdict
from course_utils.grading.notebook import Ungradeable, chapter_of, code_cells, read_notebook
from course_utils.grading.report import Submission, format_submission, write_csv, write_json
from course_utils.grading.sandbox import Sandbox, SandboxUnavailable, bubblewrap, new_root, release_view

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HIDDEN_DIR = REPO_ROOT / "instructor" / "hidden_checks"


@dataclass(frozen=True)
class Options:
    """Grader settings (times in seconds)."""

    timeout: float = 600.0  # the whole submission, collection step included
    cell_timeout: float = 120.0
    check_timeout: float = 10.0  # one case of one check
    grading_timeout: float = 180.0  # the collection step at most
    hidden_dir: Path = DEFAULT_HIDDEN_DIR
    threads: int | None = None  # torch threads in the kernel (None: the machine's default)
    sandbox: bool = True


_VIEW: dict[str, Path] = {}
_VIEW_LOCK = threading.Lock()


def _view() -> Path:
    """The solution-free copy of the package, made once per grader process (removed at exit)."""
    with _VIEW_LOCK:
        if "path" not in _VIEW:
            import atexit

            parent = Path(tempfile.mkdtemp(prefix="course-grade-view-"))
            atexit.register(shutil.rmtree, parent, True)
            _VIEW["path"] = release_view(parent)
        return _VIEW["path"]


def grade_file(path: str, opts: Options) -> Submission:
    """Grade one file; never raises (the reason lands in ``Submission.error``)."""
    started = time.monotonic()
    sub = Submission(file=path, sandboxed=opts.sandbox)
    try:
        nb = read_notebook(Path(path))
        sub.chapter, notes = chapter_of(nb, Path(path))
        sub.notes += notes
        _run_and_judge(code_cells(nb), sub, opts)
    except Ungradeable as err:
        sub.error = str(err)
    except SandboxUnavailable as err:
        sub.error = str(err)
    except Exception as err:  # the grader's own failure must not hide the other submissions
        sub.error = f"internal grader error: {type(err).__name__}: {err}"
    sub.seconds = round(time.monotonic() - started, 2)
    return sub


def _run_and_judge(cells: list[str], sub: Submission, opts: Options) -> None:
    plan = verdict.plan(sub.chapter, opts.hidden_dir)
    sub.notes += plan.notes
    request = verdict.request_text(plan, opts.check_timeout)
    view = _view() if opts.sandbox else None
    limits = execute.Limits(total=opts.timeout, cell=opts.cell_timeout, collect=opts.grading_timeout)
    parent = Path(tempfile.mkdtemp(prefix="course-grade-"))
    references = threading.Thread(target=verdict.compute_references, args=(plan,), daemon=True)
    references.start()  # the grader's own work overlaps the notebook's run
    try:
        def make_sandbox() -> Sandbox:
            return Sandbox(new_root(parent), view, isolated=opts.sandbox, threads=opts.threads,
                           check_timeout=opts.check_timeout)

        run = execute.run_submission(cells, request, make_sandbox, limits)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
        references.join()
    sub.cell_errors, sub.notes = run.cell_errors, sub.notes + run.notes
    if run.failure:
        sub.notes.append(f"{run.failure}; every exercise scores 0")
        sub.exercises = verdict.zero(plan, f"not graded: {run.failure}")
        return
    outcomes, notes = verdict.read_outcomes(run.outcomes)
    sub.notes += notes
    sub.exercises = verdict.judge(plan, outcomes)


def grade_all(paths: Sequence[str], opts: Options, jobs: int = 1) -> Iterator[Submission]:
    """Grade ``paths``, ``jobs`` at a time; yields in input order.

    The jobs are threads of this process: each waits on its own sandboxed kernel, where the learner
    code runs, and they share one copy of the model and of the reference answers (computed once,
    one at a time, see ``Exercise.expected_output``), so ``--jobs 4`` does not load the model four times.
    """
    if jobs <= 1 or len(paths) <= 1:
        yield from (grade_file(p, opts) for p in paths)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as pool:
        yield from pool.map(grade_file, paths, [opts] * len(paths))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grade", description="Grade submitted chapter notebooks.")
    p.add_argument("submissions", nargs="+", help="notebook files (.ipynb)")
    p.add_argument("--json", type=Path, help="write per-submission, per-exercise results as JSON")
    p.add_argument("--csv", type=Path, help="write one row per submission and exercise as CSV")
    p.add_argument("--timeout", type=float, default=Options.timeout,
                   help="seconds for a whole submission, grading included (%(default)s)")
    p.add_argument("--cell-timeout", type=float, default=Options.cell_timeout, help="seconds per cell (%(default)s)")
    p.add_argument("--check-timeout", type=float, default=Options.check_timeout,
                   help="seconds per case of a check (%(default)s)")
    p.add_argument("--hidden-checks", type=Path, default=DEFAULT_HIDDEN_DIR, help="folder of hidden checks")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (%(default)s)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run notebooks without isolation (only for notebooks you trust)")
    return p


def _skip_slow_optional_imports() -> None:
    """nbformat imports jsonschema, which compiles an optional URI grammar (rfc3987_syntax, about
    1.3 s) that notebook validation never uses; marking it absent keeps grader start-up short."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def _kernel_threads(jobs: int) -> int | None:
    """Threads per sandboxed kernel: the cores shared among the jobs, or the grader's own OMP_NUM_THREADS."""
    if jobs > 1:
        return max(1, (os.cpu_count() or 1) // jobs)
    own = os.environ.get("OMP_NUM_THREADS", "")
    return int(own) if own.isdigit() and int(own) > 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every file was graded (whatever the scores), 2 when a file could not be graded."""
    args = _parser().parse_args(argv)
    _skip_slow_optional_imports()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if not args.no_sandbox:
        try:
            bubblewrap()
        except SandboxUnavailable as err:
            print(f"course-grade: {err}", file=sys.stderr)
            return 2
    threads = _kernel_threads(args.jobs)
    opts = Options(timeout=args.timeout, cell_timeout=args.cell_timeout, check_timeout=args.check_timeout,
                   grading_timeout=min(Options.grading_timeout, args.timeout), hidden_dir=args.hidden_checks,
                   threads=threads, sandbox=not args.no_sandbox)
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
