"""Where a submission's code runs: a bubblewrap sandbox the grader builds for each submission.

The sandbox (``bwrap``, from Debian's ``bubblewrap`` package) gives the kernel:

* its own user, process, network, IPC and hostname namespaces: it sees only its own processes, has
  no network at all, and talks to the grader only through the kernel's Unix sockets in a folder of
  its own (the kernel uses ZeroMQ's ``ipc`` transport, so no TCP port is opened anywhere);
* a filesystem of read-only views: the system's libraries, the Python installation, the virtual
  environment, the converted model, and a copy of ``course_utils`` *without* its reference solutions;
  nothing else of the course repository (no hidden checks, no solution notebooks);
* a fresh, empty home folder and temporary folder (deleted afterwards), a scrubbed environment, and
  the submission's request (the check inputs) read-only, its answers file writable;
* its whole process tree killed when the grader closes it (``--die-with-parent`` and the process
  namespace: a process that detached itself into a new session dies too).

Nothing a submission does can reach another submission's sandbox, the grader's process, or a later
run. Without bubblewrap, :class:`SandboxUnavailable` says how to install it; ``--no-sandbox`` runs
kernels without isolation, for notebooks one trusts (the report says so).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.errors import OneLineError

LEARNER_HOME = "/home/learner"
GRADE_IN, GRADE_OUT = "/grade/in", "/grade/out"
# Only what programs need from /etc: no password or key files.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates",
               "localtime", "passwd", "group", "hosts", "nsswitch.conf", "fonts", "mime.types", "matplotlibrc")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")


class SandboxUnavailable(OneLineError, RuntimeError):
    """The sandbox cannot be started here; the message says what to install or which flag to use."""


@functools.cache
def bubblewrap() -> str:
    """The path of a working ``bwrap``, or :class:`SandboxUnavailable` saying why there is none."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "course-grade runs each submission in a bubblewrap sandbox, and bwrap is not installed: "
            "install it (Debian or Ubuntu: apt install bubblewrap), or pass --no-sandbox to grade "
            "notebooks you trust without isolation")
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/", "/", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxUnavailable(
            f"bwrap cannot create a sandbox here ({why}); user namespaces may be switched off "
            "(sysctl kernel.unprivileged_userns_clone=1), or pass --no-sandbox to grade notebooks you trust "
            "without isolation")
    return path


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def release_view(parent: Path) -> Path:
    """A copy of ``course_utils`` without reference solutions, under ``parent`` (made once per grader)."""
    from course_utils.authoring.release import copy_package

    target = parent / "view"
    if not (target / "course_utils").is_dir():
        copy_package(target, _package_dir().parent)
    return target / "course_utils"


def _model_cache() -> Path | None:
    from course_utils.gguf_cache import cache_root

    root = cache_root()
    return root if root.is_dir() else None


@dataclass
class Sandbox:
    """The folders of one submission's sandbox, and the command that starts a kernel inside it.

    ``root`` is a fresh temporary folder of the grader's; ``view`` the solution-free package copy.
    """

    root: Path
    view: Path | None
    isolated: bool = True
    threads: int | None = None
    check_timeout: float = 10.0
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("home", "tmp", "run", "in", "out"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    # Paths as the kernel sees them
    @property
    def request_path(self) -> str:
        return f"{GRADE_IN}/request.json" if self.isolated else str(self.root / "in" / "request.json")

    @property
    def outcomes_path(self) -> str:
        return f"{GRADE_OUT}/outcomes.jsonl" if self.isolated else str(self.root / "out" / "outcomes.jsonl")

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    def write_request(self, text: str) -> None:
        (self.root / "in" / "request.json").write_text(text, encoding="utf-8")

    def read_outcomes(self, limit_bytes: int) -> str | None:
        """The answers file, or None when missing; over ``limit_bytes`` raises ValueError."""
        path = self.root / "out" / "outcomes.jsonl"
        if not path.is_file():
            return None
        if path.stat().st_size > limit_bytes:
            raise ValueError(f"the answers file is over {limit_bytes // 1_000_000} MB")
        return path.read_text(encoding="utf-8", errors="replace")

    def environment(self) -> dict[str, str]:
        """The kernel's whole environment (nothing is inherited from the grader's)."""
        venv_bin = str(Path(sys.executable).parent)
        home = LEARNER_HOME if self.isolated else str(self.root / "home")
        tmp = "/tmp" if self.isolated else str(self.root / "tmp")
        env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg",
            "COURSE_CHECK_TIME_LIMIT": str(self.check_timeout), "COURSE_DEVICE": "cpu",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1", "JUPYTER_PLATFORM_DIRS": "1",
        }
        if (cache := _model_cache()) is not None:
            env["COURSE_CACHE_DIR"] = str(cache)
        if self.threads:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        env.update(self.env)
        return env

    def command_prefix(self) -> list[str]:
        """What goes in front of the kernel's command line: ``bwrap ... --`` (empty without isolation)."""
        if not self.isolated:
            return []
        args = [bubblewrap(), "--unshare-all", "--die-with-parent", "--new-session", "--uid", "65534", "--gid", "65534",
                "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/etc",
                # The fresh /tmp first: a course, its environment or its model cache may live under
                # /tmp, and their binds below must land on top of it, not be hidden by it.
                "--bind", str(self.root / "tmp"), "/tmp", "--bind", str(self.root / "home"), LEARNER_HOME]
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                args += ["--ro-bind", d, d]
        for entry in ETC_ENTRIES:
            args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
        args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
        for prefix in dict.fromkeys([sys.base_prefix, sys.prefix]):
            if not prefix.startswith(SYSTEM_DIRS):
                args += ["--ro-bind", prefix, prefix]
        package = _package_dir()
        if self.view is not None:
            args += ["--ro-bind", str(self.view), str(package)]
        if (cache := _model_cache()) is not None:
            args += ["--ro-bind", str(cache), str(cache)]
        args += ["--ro-bind", str(self.root / "in"), GRADE_IN, "--bind", str(self.root / "out"), GRADE_OUT,
                 "--bind", str(self.run_dir), str(self.run_dir), "--chdir", LEARNER_HOME, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return args + ["--"]


def new_root(parent: Path | None = None) -> Path:
    """A fresh private folder for one submission (removed by the caller)."""
    return Path(tempfile.mkdtemp(prefix="submission-", dir=parent))
