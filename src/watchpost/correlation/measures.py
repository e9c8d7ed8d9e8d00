"""What a correlation measures over the entries of one window, and which entries explain it.

An `Entry` is one occurrence placed in one group's window: its time, arrival order, which of the
correlation's rules it came from (``slot``), its measured values, and the occurrence itself (kept
only for the most recent entries of a group, see `GroupWindow`; a `Parked` stand-in when the
engine's owner keeps it elsewhere, see `CorrelationEngine.park`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from watchpost.correlation.occurrence import Occurrence, Parked
from watchpost.correlation.spec import (
    EVENT_COUNT,
    TEMPORAL,
    TEMPORAL_ORDERED,
    VALUE_AVG,
    VALUE_COUNT,
    VALUE_MEDIAN,
    VALUE_PERCENTILE,
    VALUE_SUM,
    CorrelationSpec,
)


class Entry:
    """One occurrence in one group's window (``occ`` is None once dropped to bound memory, a
    `Parked` while its owner holds it)."""

    __slots__ = ("ts", "seq", "slot", "values", "occ")

    def __init__(
        self, ts: int, seq: int, slot: int, values: tuple[object, ...], occ: Occurrence | Parked | None
    ) -> None:
        self.ts = ts
        self.seq = seq
        self.slot = slot
        self.values = values
        self.occ = occ

    @property
    def order(self) -> tuple[int, int]:
        return (self.ts, self.seq)


def measure(spec: CorrelationSpec, entries: Sequence[Entry]) -> float | None:
    """The value the condition is checked against (None: nothing to measure)."""
    kind = spec.type
    if kind == EVENT_COUNT:
        return float(len(entries))
    if kind == TEMPORAL:
        return float(len({entry.slot for entry in entries}))
    if kind == TEMPORAL_ORDERED:
        return float(len(ordered_chain(entries, len(spec.rules))))
    if kind == VALUE_COUNT:
        return float(len({value for entry in entries for value in entry.values}))
    numbers = [float(value) for entry in entries for value in entry.values]  # type: ignore[arg-type]
    if not numbers:
        return None
    if kind == VALUE_SUM:
        return total(numbers)
    if kind == VALUE_AVG:
        try:
            return math.fsum(numbers) / len(numbers)
        except OverflowError:  # the sum is past float's range; the average is not
            return math.fsum(number / len(numbers) for number in numbers)
    if kind in (VALUE_PERCENTILE, VALUE_MEDIAN):
        return percentile(sorted(numbers), spec.percentile if spec.percentile is not None else 50.0)
    raise ValueError(f"unknown correlation type {kind!r}")


def total(numbers: Sequence[float]) -> float:
    """The exact sum of ``numbers``; +-inf when it is past float's range (log values such as
    ``1e308`` are attacker-controlled: `math.fsum` raises OverflowError on them)."""
    try:
        return math.fsum(numbers)
    except OverflowError:
        return sum(numbers)


def evidence(spec: CorrelationSpec, entries: Sequence[Entry]) -> list[Entry]:
    """The entries behind a fired window: the ordered chain for temporal_ordered, the entries
    with a number for the numeric value_* types, all entries otherwise (a value_count below a
    threshold is explained by the events without the field too)."""
    if spec.type == TEMPORAL_ORDERED:
        return ordered_chain(entries, len(spec.rules))
    if spec.type in (VALUE_SUM, VALUE_AVG, VALUE_PERCENTILE, VALUE_MEDIAN):
        with_values = [entry for entry in entries if entry.values]
        return with_values or list(entries)
    return list(entries)


def percentile(ordered: Sequence[float], rank: float) -> float:
    """Linear interpolation between closest ranks: position ``(n - 1) * rank / 100``."""
    position = (len(ordered) - 1) * rank / 100
    low = math.floor(position)
    fraction = position - low
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] * (1 - fraction) + ordered[low + 1] * fraction


def ordered_chain(entries: Sequence[Entry], rule_count: int) -> list[Entry]:
    """The longest run of entries whose rules follow the correlation's rule order in time.

    Among equally long chains the one whose members are latest is chosen, so the chain ending
    at the newest entry starts as late as possible: a process id reused after a newer
    creation event joins the newer instance, not the older one.
    """
    best: list[tuple[int, int] | None] = [None] * rule_count  # per rule: (length, entry index)
    previous: dict[int, int | None] = {}
    top: tuple[int, int] | None = None
    for index, entry in enumerate(entries):
        length, before = 0, None
        for rule in range(entry.slot):
            found = best[rule]
            if found is not None and (
                found[0] > length or (found[0] == length and before is not None and found[1] > before)
            ):
                length, before = found
        length += 1
        current = best[entry.slot]
        if current is None or length >= current[0]:
            best[entry.slot] = (length, index)
            previous[index] = before
            if top is None or length >= top[0]:
                top = (length, index)
    chain: list[Entry] = []
    cursor = top[1] if top is not None else None
    while cursor is not None:
        chain.append(entries[cursor])
        cursor = previous.get(cursor)
    chain.reverse()
    return chain
