"""Running a submission's cells, then its collection step, in a sandboxed kernel, within time limits.

The grader talks to the kernel directly (a Jupyter kernel client, one execute request per cell) and
never waits without a deadline, so no cell can hold it: a cell over its limit is interrupted; a cell
that ignores the interrupt (it blocks SIGINT, or catches KeyboardInterrupt in a loop) has its whole
sandbox killed, and the notebook is run again from the top without that cell, as long as the
submission's time allows. ``--timeout`` bounds everything, the collection step included. Outputs are
not kept: the grader needs only which cells failed and the answers file.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from course_utils.grading.sandbox import Sandbox

INTERRUPT_GRACE_S = 5.0  # how long an interrupted cell has to stop before its sandbox is killed
KERNEL_START_S = 60.0
MAX_OUTCOMES_BYTES = 256_000_000


@dataclass
class Limits:
    """Seconds: the whole submission, one cell, the collection step."""

    total: float = 600.0
    cell: float = 120.0
    collect: float = 180.0


@dataclass
class CellRun:
    """How one execute request ended: ``ok``, ``error``, ``timeout``, ``stuck`` (ignored the interrupt),
    ``garbled`` (the kernel's replies stopped being valid messages) or ``died``."""

    status: str
    error: str = ""


@dataclass
class RunResult:
    """What the grader keeps from running a submission."""

    cell_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcomes: str | None = None
    failure: str = ""  # set when no answers could be collected at all


def cell_label(source: str, index: int) -> str:
    """``cell 20 [n_params_answer = sum(...]``: 1-based position and the start of its first line."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return f"cell {index + 1} [{first[:40]}{'...' if len(first) > 40 else ''}]"


class SandboxedKernel:
    """One kernel in one sandbox: start, run code with deadlines, kill (whole process tree)."""

    def __init__(self, sandbox: Sandbox) -> None:
        from jupyter_client import KernelManager

        prefix = sandbox.command_prefix()

        class Manager(KernelManager):
            def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
                return prefix + super().format_kernel_cmd(extra_arguments)

        self.sandbox = sandbox
        self.km = Manager(kernel_name="python3", transport="ipc", ip=str(sandbox.run_dir / "kernel"))
        self.km.connection_file = str(sandbox.run_dir / "kernel.json")
        # Interrupt by message: the kernel signals itself. A SIGINT to the process group would reach
        # bwrap, which would end the whole sandbox.
        self.km.kernel_spec.interrupt_mode = "message"
        self.kc: Any = None

    def start(self) -> None:
        import subprocess

        self.km.start_kernel(env=self.sandbox.environment(), cwd=str(self.sandbox.root / "home"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=KERNEL_START_S)

    def alive(self) -> bool:
        with contextlib.suppress(Exception):
            return bool(self.km.is_alive())
        return False

    def run(self, code: str, seconds: float) -> CellRun:
        """Execute ``code``; interrupt it after ``seconds``; ``stuck`` when it ignores the interrupt."""
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + max(seconds, 0.1)
        interrupted = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if interrupted:
                    return CellRun("stuck")
                with contextlib.suppress(Exception):
                    self.km.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + INTERRUPT_GRACE_S
                continue
            try:
                reply = self.kc.get_shell_msg(timeout=min(left, 1.0))
            except queue.Empty:
                if not self.alive():
                    return CellRun("died")
                continue
            except Exception as err:  # a reply that does not parse: the code broke the kernel's messaging
                return CellRun("garbled", f"{type(err).__name__}: {err}")
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # the late reply of an earlier, interrupted request
            content = reply.get("content", {})
            if interrupted:
                return CellRun("timeout")
            if content.get("status") == "ok":
                return CellRun("ok")
            return CellRun("error", f"{content.get('ename', 'Error')}: {str(content.get('evalue', ''))[:200]}")

    def kill(self) -> None:
        """Kill the kernel's whole process tree (the sandbox goes with it)."""
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()


@contextlib.contextmanager
def kernel_in(sandbox: Sandbox) -> Iterator[SandboxedKernel]:
    kernel = SandboxedKernel(sandbox)
    try:
        kernel.start()
        yield kernel
    finally:
        kernel.kill()


def collect_code(sandbox: Sandbox) -> str:
    """The one line the grader runs after the notebook: the collection step (a module, see collect.py)."""
    return ("__import__('course_utils.grading.collect', fromlist=['collect']).collect("
            f"globals(), {sandbox.request_path!r}, {sandbox.outcomes_path!r}, {sandbox.check_timeout!r})")


def _error_line(label: str, run: CellRun, limit: float) -> str:
    if run.status == "timeout":
        return f"{label}: did not finish within {limit:g} s (time limit per cell); interrupted"
    return f"{label}: {run.error}"


def run_submission(cells: list[str], request: str, make_sandbox: Any, limits: Limits) -> RunResult:
    """Run the code ``cells`` in a fresh sandbox, then the collection step; ``make_sandbox()`` gives a new one.

    A cell that ignores its interrupt is left out and the notebook run again from the top (in a new
    sandbox) while time is left. The collection step gets what is left of ``limits.total``, at most
    ``limits.collect``; the cells get the rest.
    """
    started = time.monotonic()
    result = RunResult()
    left_out: set[int] = set()
    garbled: set[int] = set()
    reserve = min(limits.collect, limits.total / 4)
    while True:
        sandbox = make_sandbox()
        sandbox.write_request(request)
        result.cell_errors = []
        stuck = None
        try:
            with kernel_in(sandbox) as kernel:
                stuck = _run_cells(kernel, cells, left_out, started, limits, reserve, result, garbled)
                if stuck is None:
                    _collect(kernel, sandbox, started, limits, result)
                    return result
        except RuntimeError as err:  # the kernel did not start
            result.failure = f"the kernel could not start ({err})"
            return result
        if stuck == -1:
            return result
        label = cell_label(cells[stuck], stuck)
        left_out.add(stuck)
        why = ("broke the kernel's messages" if stuck in garbled else
               "did not stop when interrupted at its time limit")
        result.notes.append(f"{label} {why}; the notebook was run again from the top without it")


def _run_cells(kernel: SandboxedKernel, cells: list[str], left_out: set[int], started: float, limits: Limits,
               reserve: float, result: RunResult, garbled: set[int]) -> int | None:
    """Run the cells; the index of a stuck cell, -1 when the kernel died, None when all ran."""
    for index, source in enumerate(cells):
        if index in left_out or not source.strip():
            continue
        label = cell_label(source, index)
        left = limits.total - reserve - (time.monotonic() - started)
        if left <= 0:
            result.notes.append(f"the notebook used up its {limits.total:g} s; {label} and the cells after it did not run")
            return None
        limit = min(limits.cell, left)
        run = kernel.run(source, limit)
        if run.status in ("stuck", "garbled"):
            if run.status == "garbled":
                garbled.add(index)
            if limits.total - (time.monotonic() - started) > reserve + 5:
                return index
            result.notes.append(f"{label} did not stop when interrupted; no time was left to run the notebook "
                                "again without it")
            result.failure = f"{label} was still running when the submission's time ran out"
            return -1
        if run.status == "died":
            result.failure = f"the kernel died while running {label} (out of memory, exit(), or a crash in native code)"
            return -1
        if run.status in ("error", "timeout"):
            result.cell_errors.append(_error_line(label, run, limit))
    return None


def _collect(kernel: SandboxedKernel, sandbox: Sandbox, started: float, limits: Limits, result: RunResult) -> None:
    limit = max(1.0, min(limits.collect, limits.total - (time.monotonic() - started)))
    run = kernel.run(collect_code(sandbox), limit)
    if run.status == "error":
        result.notes.append(f"the grading step raised {run.error} (the notebook may have replaced Python builtins)")
    elif run.status == "garbled":
        result.notes.append("the kernel's messages were garbled during the grading step")
    elif run.status in ("timeout", "stuck"):
        result.notes.append(f"the grading step did not finish within {limit:g} s; cases not reached score 0")
    elif run.status == "died":
        result.notes.append("the kernel died during the grading step; cases not reached score 0")
    try:
        result.outcomes = sandbox.read_outcomes(MAX_OUTCOMES_BYTES)
    except ValueError as err:
        result.notes.append(f"the answers were not read: {err}")
