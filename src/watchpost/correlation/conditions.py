"""Correlation conditions: one operator or a range of them, and when they can be decided.

Sigma writes a condition as a mapping of operators (``gt``, ``gte``, ``lt``, ``lte``, ``eq``,
``neq``) to thresholds; several operators form a range (``gt: 100`` and ``lte: 200``: all must
hold). pySigma 2.0.1 accepts exactly one operator, so `split_range_condition` (a loader
translator) moves a range out of pySigma's way into the ``x-watchpost-condition`` attribute before
pySigma reads the document, and `condition_of` reads it back.

A condition made only of ``gt``/``gte`` can become true only as events arrive, so it is decided
on arrival; any other condition (an upper bound, ``eq``, ``neq``) can only be decided once the
window has ended (see docs/correlation.md, "When a correlation fires").
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}
"""The Sigma correlation condition operators, by name."""

ARRIVAL_OPERATORS = frozenset({"gt", "gte"})
CONDITION_ATTRIBUTE = "x-watchpost-condition"
"""Top-level attribute that carries a range condition past pySigma (see `split_range_condition`)."""


class ConditionError(ValueError):
    """A correlation condition that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Condition:
    """All ``bounds`` (operator, threshold) must hold for the measured value."""

    bounds: tuple[tuple[str, float], ...]

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return all(OPERATORS[op](value, threshold) for op, threshold in self.bounds)

    @property
    def on_arrival(self) -> bool:
        """True when the condition only has lower bounds: it is decided as events arrive."""
        return all(op in ARRIVAL_OPERATORS for op, _ in self.bounds)

    def describe(self) -> str:
        """``gte 3``, ``gt 100 and lte 200``."""
        return " and ".join(f"{op} {format_number(value)}" for op, value in self.bounds)


def format_number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def parse_condition(mapping: Mapping[str, Any]) -> Condition:
    """The `Condition` of a Sigma condition mapping (``field``/``percentile`` keys are ignored)."""
    bounds: list[tuple[str, float]] = []
    for key, raw in mapping.items():
        op = str(key).lower()
        if op in ("field", "percentile"):
            continue
        if op not in OPERATORS:
            raise ConditionError(f"unknown condition operator {key!r}")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ConditionError(f"threshold of {op!r} is not a number: {raw!r}")
        try:
            threshold = float(raw)
        except ValueError as error:
            raise ConditionError(f"threshold of {op!r} is not a number: {raw!r}") from error
        if not math.isfinite(threshold):
            raise ConditionError(f"threshold of {op!r} is not finite: {raw!r}")
        bounds.append((op, threshold))
    if not bounds:
        raise ConditionError("the condition has no operator (gt, gte, lt, lte, eq, neq)")
    return Condition(tuple(bounds))


def split_range_condition(document: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Loader translator: let pySigma read a correlation whose condition is a range.

    The whole condition mapping is copied to ``x-watchpost-condition`` and pySigma's
    ``correlation.condition`` keeps its first operator (and ``field``/``percentile``). Other
    documents are returned unchanged.
    """
    correlation = document.get("correlation")
    if not isinstance(correlation, dict):
        return [document]
    condition = correlation.get("condition")
    if not isinstance(condition, dict):
        return [document]
    operators = [key for key in condition if str(key).lower() in OPERATORS]
    if len(operators) < 2:
        return [document]
    kept = {key: value for key, value in condition.items() if key not in operators[1:]}
    rewritten = dict(document)
    rewritten[CONDITION_ATTRIBUTE] = dict(condition)
    rewritten["correlation"] = {**correlation, "condition": kept}
    return [rewritten]
