"""Freed memory goes back to the system after each cell of a kernel."""

from __future__ import annotations

import platform
import subprocess
import sys

import psutil
import pytest

from course_utils import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_heap_memory_is_returned():
    process = psutil.Process()
    memory.release_freed_memory()
    before = process.memory_info().rss
    # Many blocks below glibc's mmap threshold, and a small one after them that stays: freed, the
    # blocks sit in the middle of the heap, which glibc does not shrink by itself.
    blocks = [bytearray(64 * 1024) for _ in range(3000)]  # about 200 MB
    pin = bytearray(64 * 1024)
    del blocks
    held = process.memory_info().rss
    assert memory.release_freed_memory() is True
    after = process.memory_info().rss
    assert held - before > 100e6 and after - before < 50e6, (before, held, after)
    del pin


def test_outside_a_kernel_nothing_is_registered():
    code = "import sys; from course_utils import memory; print(memory.trim_after_each_cell(), 'IPython' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_in_a_kernel_one_hook_runs_after_every_cell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert memory.trim_after_each_cell() and memory.trim_after_each_cell()
        hooks = [f for f in shell.events.callbacks["post_run_cell"] if f is memory._after_cell]
        assert len(hooks) == 1
        shell.run_cell("x = bytearray(10)")  # the hook runs without error
    finally:
        shell.events.unregister("post_run_cell", memory._after_cell)
        InteractiveShell.clear_instance()
