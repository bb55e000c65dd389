"""The collection step: runs in the submission's kernel, after its cells, inside the sandbox.

It calls the learner's answers on the check inputs the grader sent (``request.json``, plain data)
and writes what came back, one line per case, to the answers file (``outcomes.jsonl``). It decides
nothing: the grader reads the file after the sandbox is gone and judges it against references that
only the grader has. A submission that tampers with this step can only change its own answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from course_utils import plain
from course_utils.checks import MISSING, learner_answer
from course_utils.exercises.run import Outcome, run_case
from course_utils.exercises.spec import PLAIN_EXTENSIONS, load_chapters


def _record(key: list[Any], outcome: Outcome) -> str:
    return plain.dumps({"key": key, "outcome": asdict(outcome)}) + "\n"


def collect(namespace: Mapping[str, Any], request_path: str, outcomes_path: str, seconds: float) -> None:
    """Run every case of the request on the learner's answers in ``namespace``; append the outcomes."""
    request = plain.loads(Path(request_path).read_text(encoding="utf-8"), extensions=PLAIN_EXTENSIONS)
    load_chapters()  # chapter modules register the resources their cases name (a notebook may not have imported them)
    with open(outcomes_path, "a", encoding="utf-8") as out:
        for ex in request["exercises"]:
            answer, why = learner_answer(ex["id"], namespace)
            stop: Outcome | None = None
            for i, chk in enumerate(ex["checks"]):
                for j, inputs in enumerate(chk["cases"]):
                    if answer is MISSING:
                        outcome = Outcome("unanswered", message=why)
                    elif stop is not None:
                        outcome = stop
                    else:
                        outcome = run_case(answer, ex["kind"], inputs, seconds=chk.get("time_limit") or seconds)
                        if outcome.status in ("timeout", "unanswered"):
                            stop = Outcome(outcome.status, message=outcome.message if outcome.status == "unanswered"
                                           else "not run: an earlier case of this exercise timed out")
                    out.write(_record([ex["id"], i, j], outcome))
                    out.flush()
