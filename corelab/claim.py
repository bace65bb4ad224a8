"""A lesson's result as a claim: one sentence for the student, its numbers as fields for a test.

A lesson returns a small result object; the notebook shows it (the last expression of a cell, or
``display(result)``) and the student reads its sentence. Jupyter also stores the object's fields
beside that sentence, as JSON under the MIME type ``application/vnd.corelab.claim+json``, so a test
that executes the notebook asserts on the numbers and never on printed English: rewording a
sentence breaks no test, and a wrong number cannot hide behind a right sentence.

Usage, in a lesson::

    @dataclass
    class CounterResult(Claim):
        lost: int
        expected: int

        def sentence(self) -> str:
            return f"without a lock, {self.lost:,} of {self.expected:,} increments were lost"

``fields()`` defaults to the dataclass's scalar fields; override it to add derived numbers or to
leave out tables.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

MIME = "application/vnd.corelab.claim+json"


class Claim:
    """Base of every lesson result that states a claim (see the module docstring)."""

    def sentence(self) -> str:
        """The claim, in the words a student reads, with this run's numbers."""
        raise NotImplementedError

    def fields(self) -> dict[str, Any]:
        """The claim's numbers by name: by default, every scalar field of the dataclass."""
        if not dataclasses.is_dataclass(self):
            raise NotImplementedError(f"{type(self).__name__} is not a dataclass: define fields()")
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), (bool, int, float, str, type(None)))
        }

    def as_json(self) -> dict[str, Any]:
        """What Jupyter stores under ``MIME``: the claim's name, sentence and fields."""
        return {"claim": type(self).__name__, "sentence": self.sentence(), "fields": _jsonable(self.fields())}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # JupyterLab renders text/plain (it has no renderer for our type); nbformat keeps both.
        return {"text/plain": self.sentence(), MIME: self.as_json()}

    def __str__(self) -> str:
        return self.sentence()


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars become Python numbers, NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
