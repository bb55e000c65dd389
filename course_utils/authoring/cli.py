"""``course-build``: regenerate the chapters' notebooks and modules, check them, or write a release."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from course_utils.authoring.markers import SourceError
from course_utils.authoring.notebooks import REPO_ROOT, build_all, find_chapters, stale_files
from course_utils.authoring.release import ReleaseError, build_release


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 on success, 1 when ``--check`` finds stale files, 2 on a source or release error."""
    parser = argparse.ArgumentParser(prog="course-build", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("--check", action="store_true", help="only report generated files that are out of date")
    parser.add_argument("--release", type=Path, metavar="DIR",
                        help="write a release without solutions, answer keys or hidden checks into DIR")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
    parser.add_argument("--only", action="append", metavar="NN", help="only chapter NN (repeat for several)")
    args = parser.parse_args(argv)
    only = set(args.only) if args.only else None
    try:
        if args.check:
            stale = stale_files(args.root, only)
            for path in stale:
                print(f"stale: {_rel(path, args.root)}")
            print(f"course-build --check: {len(stale)} stale file(s)" + ("; run course-build" if stale else ""))
            return 1 if stale else 0
        if args.release:
            notebooks = build_release(args.release, args.root)
            print(f"course-build: release with {len(notebooks)} chapter(s) written to {args.release}")
            return 0
        changed = build_all(args.root, only)
    except (SourceError, ReleaseError) as err:
        print(f"course-build: {err}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {_rel(path, args.root)}")
    print(f"course-build: {len(find_chapters(args.root))} chapter(s), {len(changed)} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
