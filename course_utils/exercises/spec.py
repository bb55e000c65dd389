"""The exercise format: how a chapter declares an exercise and the cases its checks try.

A chapter module ``course_utils/exercises/chNN.py`` declares each exercise and its visible checks::

    cosine_similarity = exercise("cosine_similarity", chapter="01", number="1.3", title="Cosine similarity")

    @cosine_similarity.check("8 pairs of random 50-d vectors")
    def _():
        a, b = torch.randn(8, 50, generator=seeded(0)), torch.randn(8, 50, generator=seeded(1))
        return Case(args=(a, b), call="cosine_similarity(a, b)",
                    mistakes=[Mistake("that is the plain dot product: divide by both lengths", lambda: (a * b).sum(-1))])

A check builds its cases; it never sees the learner's answer. Running the learner's function on a
case (:mod:`course_utils.exercises.run`) and judging what came back (:mod:`course_utils.exercises.judge`)
are separate steps, so the grader can run the first inside a sandbox and the second outside it.

The reference solution is not written here: it is the ``### BEGIN SOLUTION`` block of the chapter
source, which ``course-build`` copies into ``course_utils/solutions/chNN.py``. A release for a graded
class leaves that module out; :meth:`Exercise.reference` then raises :class:`ReferenceWithheld`.

Inputs a case cannot carry as plain data (the model, its tokenizer, the GloVe table) are named with
:class:`Resource`; each process builds them itself from the functions registered with :func:`resource`.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import pkgutil
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from course_utils import plain
from course_utils.compare import Mistake
from course_utils.errors import OneLineError

Kind = Literal["function", "value", "choice"]
SOLUTIONS_PACKAGE = "course_utils.solutions"
# Held while a reference answer is computed (see Exercise.expected_output).
_REFERENCES_RUNNING = threading.RLock()


class ReferenceWithheld(OneLineError, LookupError):
    """This installation holds no reference solution for an exercise (a release for a graded class)."""


class UnknownExercise(OneLineError, KeyError):
    """An exercise id (or number) that no chapter declares; the message suggests close ones."""

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# Resources: inputs that each process builds for itself


_RESOURCE_BUILDERS: dict[str, Callable[..., Any]] = {}


def resource(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register how to build the resource ``name`` (its keyword arguments are its params)."""

    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        _RESOURCE_BUILDERS[name] = build
        return build

    return register


@functools.cache
def _built(name: str, params: tuple[tuple[str, Any], ...]) -> Any:
    if name not in _RESOURCE_BUILDERS:
        known = ", ".join(sorted(_RESOURCE_BUILDERS)) or "none"
        raise KeyError(f"unknown resource {name!r} (known: {known})")
    return _RESOURCE_BUILDERS[name](**dict(params))


def forget_resources() -> None:
    """Drop every built resource (after a learner's function was caught changing one)."""
    _built.cache_clear()


@dataclass(frozen=True, init=False)
class Resource:
    """A stand-in for an input built by each process: ``Resource("glove", attr="vectors")``."""

    name: str
    params: tuple[tuple[str, Any], ...]
    attr: str | None

    def __init__(self, name: str, *, attr: str | None = None, **params: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", tuple(sorted(params.items())))
        object.__setattr__(self, "attr", attr)

    def resolve(self) -> Any:
        obj = _built(self.name, self.params)
        for part in (self.attr or "").split(".") if self.attr else ():
            obj = getattr(obj, part)
        return obj

    def __plain_encode__(self) -> dict[str, Any]:
        return {"resource": self.name, "params": plain.encode(dict(self.params)), "attr": self.attr}

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Resource:
        name, attr = data.get("resource"), data.get("attr")
        if type(name) is not str or not (attr is None or type(attr) is str):
            raise plain.BadPlainData("bad resource")
        params = plain.decode(data.get("params"))
        if type(params) is not dict:
            raise plain.BadPlainData("bad resource params")
        return cls(name, attr=attr, **params)

    def __repr__(self) -> str:
        inside = ", ".join([repr(self.name)] + [f"{k}={v!r}" for k, v in self.params])
        return f"Resource({inside})" + (f".{self.attr}" if self.attr else "")


PLAIN_EXTENSIONS = {"resource": Resource.from_plain}


def resolve(value: Any) -> Any:
    """``value`` with every :class:`Resource` inside it (lists, tuples, dicts) replaced by the object."""
    if isinstance(value, Resource):
        return value.resolve()
    if type(value) in (list, tuple):
        return type(value)(resolve(v) for v in value)
    if type(value) is dict:
        return {k: resolve(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Cases and checks


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REFERENCE = _Marker("REFERENCE")  # Case.expected: compare with the reference's output on the same inputs
PROPERTY = _Marker("PROPERTY")  # Case.expected: no expected value; ``compare(got, None)`` checks a property


@dataclass
class Case:
    """One call of the learner's function (or, for values and choices, one look at the answer).

    ``args``/``kwargs`` hold plain data and :class:`Resource` stand-ins. ``expected`` is
    :data:`REFERENCE` (the reference's output on the same inputs), :data:`PROPERTY` (no expected
    value) or a fixed plain value. ``compare(got, want)`` raises ``AssertionError`` with a message;
    by default answers are compared with :func:`course_utils.compare.expect_close` (numbers, tensors)
    or exactly (strings), and ``mistakes`` turn a wrong answer into a hint. ``may_modify`` allows the
    function to change its inputs in place (rarely right).
    """

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    call: str = ""
    mistakes: Sequence[Mistake] = ()
    atol: float = 1e-5
    rtol: float = 1e-4
    compare: Callable[[Any, Any], None] | None = None
    expected: Any = REFERENCE
    may_modify: bool = False
    _reference_output: list[Any] = field(default_factory=list, repr=False, compare=False)

    def inputs(self) -> dict[str, Any]:
        """The plain inputs (what is sent to a sandbox): ``{"args": [...], "kwargs": {...}}``."""
        return {"args": list(self.args), "kwargs": dict(self.kwargs)}


@dataclass
class Check:
    """One named check (one point): ``build()`` returns its case or cases."""

    name: str
    build: Callable[[], Case | Sequence[Case]]
    hidden: bool = False
    time_limit: float | None = None

    def cases(self) -> list[Case]:
        built = self.build()
        cases = [built] if isinstance(built, Case) else list(built)
        if not cases or not all(isinstance(c, Case) for c in cases):
            raise TypeError(f"check {self.name!r} must return a Case or a non-empty list of Cases")
        return cases


def normalise_answer(answer: Any) -> str:
    """Case-, space- and bracket-insensitive form of a short answer: ``" (B). "`` -> ``"b"``."""
    text = unicodedata.normalize("NFKC", str(answer)).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ()[]'\"`.").strip()


# ---------------------------------------------------------------------------------------------
# Exercises


class Exercise:
    """One exercise: where it sits in the course, its checks, and the way to its reference.

    ``kind="function"``: the learner writes a function; cases call it.
    ``kind="value"``: the learner computes a value in the notebook; the reference solution's free
    names (``model``, ...) are resources.
    ``kind="choice"``: a multiple-choice or short-answer question; the answer is a string.
    """

    def __init__(self, id: str, *, chapter: str, number: str, title: str, kind: Kind = "function",
                 graded: bool = True, options: Mapping[str, str] | None = None, explanation: str = "",
                 feedback: Mapping[str, str] | None = None, reference: Callable[..., Any] | None = None) -> None:
        if kind not in ("function", "value", "choice"):
            raise ValueError(f"exercise {id!r}: kind must be 'function', 'value' or 'choice', not {kind!r}")
        if reference is not None and graded:
            raise ValueError(f"exercise {id!r}: only an ungraded demonstration may carry its reference here; "
                             "a graded exercise's reference is its solution block in the chapter source")
        self.id, self.chapter, self.number, self.title, self.kind = id, str(chapter), str(number), title, kind
        self.graded = graded
        self.options = dict(options or {})
        self.explanation = explanation
        self.feedback = {normalise_answer(k): v for k, v in (feedback or {}).items()}
        self.checks: list[Check] = []
        self._demo_reference = reference

    # -- checks

    def check(self, name: str, *, time_limit: float | None = None) -> Callable[[Callable], Callable]:
        """Decorator: register a visible check; the decorated function builds its case(s)."""

        def register(build: Callable[[], Case | Sequence[Case]]) -> Callable[[], Case | Sequence[Case]]:
            self.add_check(name, build, time_limit=time_limit)
            return build

        return register

    def add_check(self, name: str, build: Callable[[], Case | Sequence[Case]], *, hidden: bool = False,
                  time_limit: float | None = None) -> None:
        """Add a check; one with the same name and visibility replaces the old one (re-imports)."""
        self.checks = [c for c in self.checks if (c.name, c.hidden) != (name, hidden)]
        self.checks.append(Check(name, build, hidden, time_limit))

    @property
    def visible_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.hidden]

    # -- the reference

    def reference_function(self) -> Callable[..., Any]:
        """The reference solution as generated from the chapter source; :class:`ReferenceWithheld` if absent."""
        if self._demo_reference is not None:
            return self._demo_reference
        module_name = f"{SOLUTIONS_PACKAGE}.ch{self.chapter}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            raise ReferenceWithheld(
                f"exercise {self.number} ({self.id}): this installation holds no reference solutions") from None
        fn = getattr(module, self.id, None)
        if not callable(fn):
            raise ReferenceWithheld(f"exercise {self.number} ({self.id}): {module_name} has no reference for it; "
                                    "run course-build")
        return fn

    @property
    def has_reference(self) -> bool:
        try:
            self.reference_function()
        except ReferenceWithheld:
            return False
        return True

    def reference_value(self) -> Any:
        """For value and choice exercises: the reference answer, its free names filled with resources."""
        fn = self.reference_function()
        names = list(inspect.signature(fn).parameters)
        return fn(**{name: Resource(name).resolve() for name in names})

    def expected_output(self, case: Case) -> Any:
        """What the reference gives for ``case``, as plain data (raises ReferenceWithheld).

        Computed once per case object: a grader judging many submissions reuses it. One reference
        runs at a time in a process, because a reference may put hooks on the shared model while
        another grading job's thread asks for its own.
        """
        if not case._reference_output:
            with _REFERENCES_RUNNING:
                if not case._reference_output:
                    if self.kind == "function":
                        result = self.reference_function()(*resolve(case.args), **resolve(case.kwargs))
                    else:
                        result = self.reference_value()
                    case._reference_output.append(plain.to_plain(result, f"the reference of {self.id}"))
        return case._reference_output[0]

    def __repr__(self) -> str:
        return f"<Exercise {self.number} {self.id!r} ({self.kind}, chapter {self.chapter}, {len(self.checks)} checks)>"


# ---------------------------------------------------------------------------------------------
# The registry


_REGISTRY: dict[str, Exercise] = {}
_LOAD_ERRORS: dict[str, str] = {}


def register(ex: Exercise) -> Exercise:
    """Add ``ex``; ids are unique across the course (registering the same exercise again is fine)."""
    old = _REGISTRY.get(ex.id)
    if old is not None and (old.chapter, old.number) != (ex.chapter, ex.number):
        raise ValueError(f"exercise id {ex.id!r} is already used by exercise {old.number} (chapter {old.chapter})")
    if old is not None:  # the chapter module was imported again: keep the one object (and its checks)
        return old
    _REGISTRY[ex.id] = ex
    return ex


def exercise(id: str, *, chapter: str, number: str, title: str, kind: Literal["function", "value"] = "function",
             graded: bool = True, reference: Callable[..., Any] | None = None) -> Exercise:
    """Declare a function or value exercise; its id is the name the notebook binds the answer to."""
    return register(Exercise(id, chapter=chapter, number=number, title=title, kind=kind, graded=graded,
                             reference=reference))


def choice(id: str, *, chapter: str, number: str, title: str, options: Mapping[str, str] | None = None,
           explanation: str = "", feedback: Mapping[str, str] | None = None) -> Exercise:
    """Declare a multiple-choice (or, without ``options``, short-answer) question with one check.

    The accepted answer is the chapter source's solution block (``q_x = "b"``). ``feedback`` maps a
    wrong option to a hint; ``explanation`` is shown once the answer is right.
    """
    ex = Exercise(id, chapter=chapter, number=number, title=title, kind="choice", options=options,
                  explanation=explanation, feedback=feedback)
    ex.add_check("your answer", lambda: Case(call=id))
    return register(ex)


def hidden_check(exercise_id: str, name: str, *, time_limit: float | None = None) -> Callable[[Callable], Callable]:
    """Decorator for instructor-only checks (files under ``instructor/hidden_checks/``)."""

    def register_hidden(build: Callable[[], Case | Sequence[Case]]) -> Callable[[], Case | Sequence[Case]]:
        get_exercise(exercise_id).add_check(name, build, hidden=True, time_limit=time_limit)
        return build

    return register_hidden


def chapter_modules() -> list[str]:
    """Names of the chapter modules: ``["ch00", "ch01", ...]``."""
    package = importlib.import_module("course_utils.exercises")
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if re.fullmatch(r"ch\d\d", m.name))


def load_chapters() -> dict[str, str]:
    """Import every chapter module (once); returns {module: error} for those that failed to import."""
    for name in chapter_modules():
        full = f"course_utils.exercises.{name}"
        if name in _LOAD_ERRORS:
            continue
        try:
            importlib.import_module(full)
        except Exception as err:  # one broken chapter must not take the others down
            _LOAD_ERRORS[name] = f"{type(err).__name__}: {err}"
    return dict(_LOAD_ERRORS)


def load_errors() -> dict[str, str]:
    """Chapter modules that failed to import, with the reason."""
    return dict(_LOAD_ERRORS)


def get_exercise(id_or_number: str) -> Exercise:
    """The exercise with this id (or number, e.g. ``"1.3"``); :class:`UnknownExercise` otherwise."""
    load_chapters()
    if id_or_number in _REGISTRY:
        return _REGISTRY[id_or_number]
    for ex in _REGISTRY.values():
        if ex.number == id_or_number:
            return ex
    close = difflib.get_close_matches(str(id_or_number), list(_REGISTRY), n=3, cutoff=0.5)
    msg = f"no exercise with id {id_or_number!r}"
    msg += f"; did you mean {', '.join(map(repr, close))}?" if close else f"; known ids: {', '.join(sorted(_REGISTRY))}"
    if _LOAD_ERRORS:
        msg += "; some chapters failed to load: " + "; ".join(f"{m}: {e}" for m, e in _LOAD_ERRORS.items())
    raise UnknownExercise(msg)


def _number_key(ex: Exercise) -> tuple:
    """``"1.10"`` after ``"1.9"``; a demonstration (number ``"demo"``) first."""
    return tuple((0, int(p), "") if p.isdigit() else (-1, 0, p) for p in ex.number.split("."))


def exercises_for_chapter(chapter: str, *, graded_only: bool = True) -> list[Exercise]:
    """The chapter's exercises in number order (demonstrations left out unless ``graded_only=False``)."""
    load_chapters()
    found = [ex for ex in _REGISTRY.values() if ex.chapter == str(chapter) and (ex.graded or not graded_only)]
    return sorted(found, key=_number_key)


def known_chapters() -> list[str]:
    """Chapters that declare at least one exercise: ``["00", "01", ...]``."""
    return [name[2:] for name in chapter_modules()]
