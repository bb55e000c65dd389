"""Measure what each chapter costs: wall time and peak memory, on this machine (`make bench`).

For every chapter notebook, learner version (``chapters/NN_*.ipynb``) and solution version
(``chapters/solutions/NN_*.ipynb``), this runs all cells in a fresh kernel with the Hub switched off
and records the wall time and the kernel's peak resident memory (RSS, the kernel process and its
children, sampled every 0.1 s). It also measures the one-off model preparation (``course-prepare``
into an empty cache) and booting the model from that cache.

It writes ``build/bench.json`` (raw numbers), ``build/bench.md`` (a Markdown table and a line naming
the machine), and the same table into README.md between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` when those markers exist. It exits with status 1 when a chapter fails or goes
over the budget its issue set (see ``BUDGETS``).

    python tools/bench.py                      # everything, then README
    python tools/bench.py --only 00            # some chapters: build/bench-partial.md, README untouched
    python tools/bench.py --no-readme          # leave README.md alone
    python tools/bench.py --render build/bench.json   # rewrite the table from saved numbers

The numbers depend on the machine and on what else runs on it: measure on an otherwise idle one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = REPO / "chapters"
BUILD = REPO / "build"
README = REPO / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
GB = 1e9

# What the issues allow, on 2 CPU cores: seconds, and peak RSS in GB (of the kernel, for a chapter).
# A chapter without an entry is measured and shown without a budget.
BUDGETS: dict[str, dict[str, float]] = {
    "prepare": {"seconds": 45, "rss_gb": 1.5},  # the one-off conversion
    "boot": {"boot_seconds": 3},  # load_model() from the cache, after torch and TransformerLens are imported
    "00": {"seconds": 60},
    "01": {"seconds": 180, "rss_gb": 1.5},
    "02": {"seconds": 240, "rss_gb": 1.5},
    "03": {"seconds": 300, "rss_gb": 1.5},
    "04": {"seconds": 360, "rss_gb": 1.5},
    "05": {"seconds": 300, "rss_gb": 1.5},
}


# ---------------------------------------------------------------------------------------------
# Measuring


class PeakRSS:
    """Samples the resident memory of a process tree every ``interval`` seconds; keeps the peak."""

    def __init__(self, pid_getter: Callable[[], int | None], interval: float = 0.1) -> None:
        self._pid_getter, self._interval = pid_getter, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, pid: int) -> int:
        try:
            root = psutil.Process(pid)
            total = root.memory_info().rss
            for child in root.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            return total
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            pid = self._pid_getter()
            if pid:
                self.peak = max(self.peak, self._sample(pid))
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        pid = self._pid_getter()
        if pid:
            self.peak = max(self.peak, self._sample(pid))
        self._stop.set()
        self._thread.join()


def _kernel_env() -> None:
    """Kernels inherit this process's environment: offline, quiet, the course importable."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


def run_notebook(path: Path, timeout: int) -> dict:
    """Executes a copy of ``path`` in memory (the file is not touched); wall time and kernel peak RSS."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})

    def kernel_pid() -> int | None:
        km = getattr(client, "km", None)
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    error = None
    started = time.perf_counter()
    # The kernel's own stderr (startup warnings) goes to a file, shown only if the kernel dies.
    with tempfile.TemporaryFile("w+") as kernel_log, PeakRSS(kernel_pid) as rss:
        try:
            client.execute(stderr=kernel_log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            error = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, DeadKernelError):
                kernel_log.seek(0)
                print(kernel_log.read()[-3000:], file=sys.stderr)
    seconds = time.perf_counter() - started
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return {
        "seconds": seconds,
        "peak_rss": rss.peak,
        "code_cells": len(cells),
        "error": error,
    }


def run_script(code: str, env: dict[str, str], timeout: int) -> dict:
    """Runs ``python -c code`` in a subprocess; wall time, peak RSS, and what it printed."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRSS(lambda: process.pid) as rss:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\ntimed out after {timeout} s"
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss": rss.peak, "stdout": stdout, "error": None if process.returncode == 0
            else (stderr.strip().splitlines() or ["failed"])[-1][:300]}


def measure_model(timeout: int) -> list[dict]:
    """The one-off preparation (course-prepare into an empty cache), then a boot from that cache."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        env = {**os.environ, "COURSE_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        prepared = run_script("from course_utils.models import main; main()", env, timeout)
        names = re.search(r"prepared: (.*)", prepared["stdout"])
        rows.append({"name": "model preparation (one-off)", "version": "course-prepare", "budget_key": "prepare",
                     "detail": f"converts {names.group(1) if names else 'the offline models'} into the cache",
                     **_strip(prepared)})
        # The budget (3 s) is for the boot itself; importing torch and TransformerLens is timed apart.
        booted = run_script(
            "import time; t = time.perf_counter()\n"
            "import torch, transformers\n"
            "from transformer_lens.model_bridge import TransformerBridge\n"
            "from course_utils import load_model\n"
            "t1 = time.perf_counter(); load_model(); t2 = time.perf_counter()\n"
            "print(f'import {t1 - t:.2f} load {t2 - t1:.2f}')", env, timeout)
        times = re.search(r"import ([\d.]+) load ([\d.]+)", booted["stdout"])
        if times:
            booted["boot_seconds"] = float(times.group(2))
        rows.append({"name": "model boot from cache", "version": "load_model()", "budget_key": "boot",
                     "detail": (f"a new Python process: imports {float(times.group(1)):.1f} s, then "
                                f"load_model() {float(times.group(2)):.1f} s" if times else ""),
                     **_strip(booted)})
    return rows


def _strip(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "stdout"}


def chapter_notebooks(only: set[str] | None) -> list[tuple[str, str, Path]]:
    found = []
    for version, folder in (("learner", CHAPTERS), ("solution", CHAPTERS / "solutions")):
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            number = path.name[:2]
            if only is None or number in only:
                found.append((number, version, path))
    return sorted(found, key=lambda item: (item[0], item[1]))


def judge(row: dict) -> dict:
    """Adds the budget and whether the row is within it (rows without a budget are only shown)."""
    budget = BUDGETS.get(row.get("budget_key", ""), {})
    row["budget"] = budget
    within = row["error"] is None
    if "seconds" in budget:
        within = within and row["seconds"] <= budget["seconds"]
    if "boot_seconds" in budget:
        within = within and row.get("boot_seconds", float("inf")) <= budget["boot_seconds"]
    if "rss_gb" in budget:
        within = within and row["peak_rss"] <= budget["rss_gb"] * GB
    row["within_budget"] = within if (budget or row["error"]) else None
    return row


# ---------------------------------------------------------------------------------------------
# The machine, and the table


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    os_name = platform.system()
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        os_name = release.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return {
        "cpu": cpu,
        "cores": usable,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{os_name} (Linux {platform.release()})" if platform.system() == "Linux" else f"{os_name} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch_version,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
        "load_before": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def _fmt_budget(budget: dict) -> str:
    parts = []
    if "seconds" in budget:
        seconds = budget["seconds"]
        parts.append(f"{seconds / 60:g} min" if seconds >= 120 and seconds % 60 == 0 else f"{seconds:g} s")
    if "boot_seconds" in budget:
        parts.append(f"{budget['boot_seconds']:g} s for load_model()")
    if "rss_gb" in budget:
        parts.append(f"{budget['rss_gb']:g} GB")
    return ", ".join(parts) or "–"


def render(results: dict) -> str:
    lines = [
        "| What | Version | Wall time | Peak RSS | Budget | Within budget |",
        "|---|---|--:|--:|---|:-:|",
    ]
    for row in results["rows"]:
        verdict = {True: "✓", False: "✗ over" if row["error"] is None else "✗ failed", None: "–"}[row["within_budget"]]
        name = row["name"]
        if row.get("detail"):
            name += f" <br><sub>{row['detail']}</sub>"
        if row["error"]:
            name += f" <br><sub>error: {row['error']}</sub>"
        lines.append(f"| {name} | {row['version']} | {_fmt_seconds(row['seconds'])} | "
                     f"{row['peak_rss'] / GB:.2f} GB | {_fmt_budget(row.get('budget', {}))} | {verdict} |")
    m = results["machine"]
    load = ""
    if m.get("load_before") is not None:
        load = f"; load average {m['load_before']} before the run"
        if m.get("load_after") is not None:
            load += f", {m['load_after']} after"
    lines += [
        "",
        f"Measured on {m['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GiB RAM, {m['os']}, "
        f"Python {m['python']}, torch {m['torch']}, CPU only{load}. "
        "Peak RSS is the resident memory of the chapter's kernel (or, for the model rows, of the Python process), "
        "children included, sampled every 0.1 s; chapters run with the model already prepared, in a fresh kernel "
        "each, with the Hub switched off.",
    ]
    return "\n".join(lines) + "\n"


def write_outputs(results: dict, update_readme: bool, stem: str = "bench") -> None:
    BUILD.mkdir(exist_ok=True)
    (BUILD / f"{stem}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = render(results)
    (BUILD / f"{stem}.md").write_text("# Time and memory per chapter\n\n" + table, encoding="utf-8")
    print(table)
    print(f"written: build/{stem}.md, build/{stem}.json")
    if not update_readme:
        return
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text or text.index(START) > text.index(END):
        print(f"README.md has no {START} ... {END} markers: table left in build/bench.md only")
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table}{END}{tail}", encoding="utf-8")
    print("README.md: table updated")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers to run (default: all)")
    parser.add_argument("--skip-model", action="store_true", help="do not measure the model preparation and boot")
    parser.add_argument("--no-readme", action="store_true", help="write build/bench.md only, not README.md")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell / per step (default 1800)")
    parser.add_argument("--render", type=Path, metavar="BENCH_JSON", help="only rewrite the tables from saved numbers")
    args = parser.parse_args(argv)

    if args.render:
        results = json.loads(args.render.read_text(encoding="utf-8"))
        write_outputs(results, update_readme=not args.no_readme)
        return 0 if all(row["within_budget"] is not False for row in results["rows"]) else 1

    _kernel_env()
    results = {"machine": machine(), "rows": []}
    notebooks = chapter_notebooks(set(args.only) if args.only else None)
    if not notebooks:
        print("no chapter notebooks found", file=sys.stderr)
        return 1
    if not args.skip_model:
        for row in measure_model(args.timeout):
            judge(row)
            results["rows"].append(row)
            print(f"{row['name']}: {row['seconds']:.1f} s, {row['peak_rss'] / GB:.2f} GB"
                  + (f"  ERROR {row['error']}" if row["error"] else ""), flush=True)
    for number, version, path in notebooks:
        print(f"{path.relative_to(REPO)} ...", flush=True)
        row = {"name": f"chapter {path.stem}", "chapter": number, "budget_key": number, "version": version,
               "path": str(path.relative_to(REPO)), **run_notebook(path, args.timeout)}
        judge(row)
        results["rows"].append(row)
        print(f"    {row['seconds']:.1f} s, {row['peak_rss'] / GB:.2f} GB"
              + ("" if row["within_budget"] is not False else "  OVER BUDGET" if row["error"] is None else f"  ERROR {row['error']}"),
              flush=True)
    results["machine"]["load_after"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    # A partial run (some chapters, or no model rows) never replaces the full table.
    partial = bool(args.only) or args.skip_model
    write_outputs(results, update_readme=not (args.no_readme or partial), stem="bench-partial" if partial else "bench")
    failed = [row["name"] + f" ({row['version']})" for row in results["rows"] if row["within_budget"] is False]
    if failed:
        print("over budget or failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
