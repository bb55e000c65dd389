"""The markers a chapter source uses, and what they turn into.

* ``### BEGIN SOLUTION`` / ``### END SOLUTION`` around the reference solution. Inside a function the
  learner gets ``raise NotImplementedError()``; at the top level, ``NAME = ...  # YOUR ANSWER HERE``
  for each name the block assigns.
* ``### BEGIN HIDDEN CHECKS`` / ``### END HIDDEN CHECKS`` around a whole cell of instructor-only checks.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Version = Literal["learner", "solution"]

MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<edge>BEGIN|END) (?P<what>SOLUTION|HIDDEN CHECKS)[ \t]*$")
_COMMENTED_MARKER = re.compile(r"^\s*#\s+### (BEGIN|END) (SOLUTION|HIDDEN CHECKS)\s*$")
CELL_START = re.compile(r"^# %%")


class SourceError(ValueError):
    """A chapter source that cannot be built; the message starts with ``file:line:``."""


# ---------------------------------------------------------------------------------------------
# Validating the markers (on the raw text, so errors can name file:line)


@dataclass
class _Open:
    what: str
    line: int


def validate_markers(text: str, path: Path | str) -> None:
    """Raise :class:`SourceError` for unbalanced or misplaced markers, naming ``path:line``."""
    lines = text.splitlines()
    open_blocks: list[_Open] = []
    cell_start = 0
    for lineno, line in enumerate(lines, start=1):
        if CELL_START.match(line):
            _close_cell(open_blocks, path)
            cell_start = lineno
            continue
        if _COMMENTED_MARKER.match(line):
            raise SourceError(f"{path}:{lineno}: markers work only in code cells, not in markdown")
        m = MARKER.match(line)
        if not m:
            continue
        if m["edge"] == "BEGIN":
            _begin(open_blocks, m["what"], lineno, path, lines, cell_start, m["indent"])
        else:
            _end(open_blocks, m["what"], lineno, path, lines)
    _close_cell(open_blocks, path)


def _close_cell(open_blocks: list[_Open], path: Path | str) -> None:
    if open_blocks:
        block = open_blocks[-1]
        raise SourceError(f"{path}:{block.line}: ### BEGIN {block.what} is never closed in its cell")


def _begin(open_blocks: list[_Open], what: str, lineno: int, path: Path | str, lines: list[str],
           cell_start: int, indent: str) -> None:
    if open_blocks:
        raise SourceError(f"{path}:{lineno}: ### BEGIN {what} inside the {open_blocks[-1].what} block "
                          f"opened at line {open_blocks[-1].line}")
    if what == "HIDDEN CHECKS" and (indent or any(l.strip() for l in lines[cell_start:lineno - 1])):
        raise SourceError(f"{path}:{lineno}: ### BEGIN HIDDEN CHECKS must be the first line of its cell")
    open_blocks.append(_Open(what, lineno))


def _end(open_blocks: list[_Open], what: str, lineno: int, path: Path | str, lines: list[str]) -> None:
    if not open_blocks or open_blocks[-1].what != what:
        raise SourceError(f"{path}:{lineno}: ### END {what} without a matching ### BEGIN {what}")
    start = open_blocks.pop().line
    if what == "SOLUTION" and not any(l.strip() for l in lines[start:lineno - 1]):
        raise SourceError(f"{path}:{start}: empty solution block")
    if what == "HIDDEN CHECKS":
        rest = next((l for l in lines[lineno:] if l.strip()), "")
        if rest and not CELL_START.match(rest):
            raise SourceError(f"{path}:{lineno}: ### END HIDDEN CHECKS must be the last line of its cell")


# ---------------------------------------------------------------------------------------------
# Transforming one code cell


def assigned_names(block: str) -> list[str]:
    """Names bound by the top-level statements of ``block``, in order: ``a, b = 1, 2`` -> ["a", "b"]."""
    names: list[str] = []
    for stmt in ast.parse(textwrap.dedent(block)).body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(stmt.name)
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    return list(dict.fromkeys(names))


def _stub(block: list[str], indent: str, where: str) -> list[str]:
    """The learner's replacement for a solution block."""
    if indent:
        return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
    try:
        names = assigned_names("\n".join(block))
    except SyntaxError as err:
        raise SourceError(f"{where}: solution block is not valid Python ({err.msg})") from None
    if not names:
        raise SourceError(f"{where}: a top-level solution block must assign at least one name")
    return [f"{name} = ...  # YOUR ANSWER HERE" for name in names]


def transform_code(source: str, version: Version, where: str = "<cell>") -> str:
    """``source`` with each solution block kept (solution) or stubbed (learner); marker lines removed."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    for line in source.splitlines():
        m = MARKER.match(line)
        if m and m["what"] == "SOLUTION" and m["edge"] == "BEGIN":
            block, indent = [], m["indent"]
        elif m and m["what"] == "SOLUTION":
            out += block if version == "solution" else _stub(block or [], indent, where)
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    return "\n".join(out)


def hidden_body(source: str) -> str | None:
    """The inside of a hidden-checks cell, or None when the cell is an ordinary one."""
    lines = source.strip("\n").splitlines()
    first = MARKER.match(lines[0]) if lines else None
    if not (first and first["what"] == "HIDDEN CHECKS" and first["edge"] == "BEGIN"):
        return None
    return "\n".join(lines[1:-1]).strip("\n")
