"""What correlations consume: a detection match or a fired correlation, in one shape.

A fired correlation feeds the correlations that reference it exactly like a match: its time is
that of its last event, its fields are its group-by values and, for any other field, the values
its events carry (so an outer correlation may group by a field the inner one did not group by;
an occurrence whose events disagree on such a field belongs to each of their groups).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from watchpost.correlation.keys import Key, event_keys, field_value, normalise_key, scalars
from watchpost.events import EPOCH, Event
from watchpost.matching.model import Match

MICROSECOND = timedelta(microseconds=1)
Recall = Callable[[int], "Occurrence"]
"""Brings back a parked occurrence by its ``seq`` (see `Parked`)."""


def micros(moment: datetime) -> int:
    """Exact microseconds since the Unix epoch (timestamps are UTC)."""
    return (moment - EPOCH) // MICROSECOND


FIRST_US = micros(datetime.min.replace(tzinfo=UTC))
LAST_US = micros(datetime.max.replace(tzinfo=UTC))


def moment(us: int) -> datetime:
    """The UTC time ``us`` microseconds after the epoch, clamped to what `datetime` holds.

    Window bounds are event times plus or minus a timespan: for events near year 1 or 9999
    they fall outside the years 1-9999 (a window start before an event of year 1), and are shown
    as the first or last representable moment instead of ending the run with OverflowError.
    """
    return EPOCH + timedelta(microseconds=min(max(us, FIRST_US), LAST_US))


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One input of a correlation.

    ``ts`` is in microseconds; ``seq`` orders occurrences with the same time by arrival.
    ``events``/``event_rules`` are the detection events behind it (one for a match) and the
    detection rule each matched. ``group`` holds a fired correlation's group-by keys.
    """

    rule_id: str
    ts: int
    seq: int
    events: tuple[Event, ...]
    event_rules: tuple[str, ...]
    group: tuple[tuple[str, Key], ...] = ()
    shown: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_match(cls, match: Match, seq: int) -> Occurrence:
        event = match.event
        return cls(match.rule.id, micros(event.timestamp), seq, (event,), (match.rule.id,))

    @property
    def timestamp(self) -> datetime:
        return self.events[-1].timestamp if self.events else moment(self.ts)

    def keys(self, name: str) -> set[Key]:
        """The group keys of field ``name`` in this occurrence (empty: it has none)."""
        for group_name, key in self.group:
            if group_name == name:
                return {key}
        if len(self.events) == 1 and not self.group:
            found: set[Key] = set()
            for scalar in scalars(field_value(self.events[0].fields, name)):
                normal = normalise_key(name, scalar)
                if normal is not None:
                    found.add(normal)
            return found
        return event_keys(self.events, name)

    def display(self, name: str, key: Key) -> str | None:
        """The value as written in the events for ``key`` of ``name`` (None: not found)."""
        for group_name, shown in self.shown:
            if group_name == name:
                return shown
        if len(self.events) == 1:
            value = field_value(self.events[0].fields, name)
            if value is not None and not isinstance(value, list | tuple | dict):
                return str(value)
        for event in self.events:
            for scalar in scalars(field_value(event.fields, name)):
                if normalise_key(name, scalar) == key:
                    return str(scalar)
        return None

    def values(self, names: tuple[str, ...]) -> list[object]:
        """Raw scalar values of the measured field(s): one per event (a tuple for several)."""
        found: list[object] = []
        for event in self.events:
            if len(names) == 1:
                found.extend(scalars(field_value(event.fields, names[0])))
                continue
            parts = [next(scalars(field_value(event.fields, name)), None) for name in names]
            if all(part is not None for part in parts):
                found.append(tuple(parts))
        if not found and len(names) == 1:
            for group_name, key in self.group:
                if group_name == names[0]:
                    found.append(key)
        return found


class Parked:
    """Stands for a held occurrence whose body its owner keeps outside the engine.

    A long-running engine (``watchpost watch``) holds minutes of matches in its windows; once
    the owner has stored an occurrence elsewhere (the watch's state file), the entries that hold
    it may keep this instead, and the engine asks the owner's `Recall` for the occurrence when a
    window with it fires. Only matches of correlations that feed no other correlation are
    parked (`CorrelationEngine.park`), so no chain ever sees a recalled copy.
    """

    __slots__ = ("seq",)

    def __init__(self, seq: int) -> None:
        self.seq = seq

    def __repr__(self) -> str:
        return f"Parked({self.seq})"
