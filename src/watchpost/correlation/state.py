"""Mutable state of one correlation: its groups, their sliding windows, and when they fire.

Decisions (docs/correlation.md):

- A condition with only lower bounds (``gt``/``gte``) is checked each time an occurrence
  arrives, over the trailing window ``[t - timespan, t]``; the first time it holds the
  correlation fires with the window's entries, and the group starts afresh after them (those
  entries are consumed: no flood of alerts for the same burst).
- Any other condition (upper bounds, ``eq``, ``neq``) and value_avg/value_percentile/
  value_median are decided when a window has ended: the window opened by the oldest pending
  entry, ``[t0, t0 + timespan]``, is measured once the release horizon passes its end, and its
  entries are used up whether it fires or not: the next window opens at the next entry. (Sliding
  such a window entry by entry would always end in a sparse tail window: ``lt`` or an average
  would then fire on the last event of any group.)
- Groups live in least-recently-used order; a group whose windows can no longer change is
  dropped; at ``max_groups`` the least recently used group is evicted (and reported).
"""

from __future__ import annotations

import heapq
import itertools
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from watchpost.correlation.keys import Key, display_key, is_pid_field, normalise_key, number_of
from watchpost.correlation.measures import Entry, evidence, measure
from watchpost.correlation.occurrence import Occurrence
from watchpost.correlation.spec import NUMERIC_TYPES, VALUE_COUNT, CorrelationSpec

KEEP_EVENTS = 100
"""Occurrences kept per group for alerts; older entries keep only their time and value."""
END_ORDER = 2**62
"""Arrival number above any: ``(t, END_ORDER)`` is after every entry at time ``t``."""
MAX_KEYS = 16
"""Group memberships of one occurrence at most (several values of a group-by field)."""
SWEEPS_PER_TIMESPAN = 16
"""`CorrelationState.forget_past` runs at most each time the horizon has moved on by this
fraction of the timespan, and only once the correlation has taken at least half as many entries
as it has groups since the last sweep (a sweep visits every group: at most two visits per entry
taken). Groups hold past entries for at most a sixteenth of the timespan or that many entries."""
OPEN = (-(2**62), -1)
"""``GroupWindow.closed`` of a group that has consumed nothing yet (one tuple for all)."""

GroupKey = tuple[Key, ...]


def shared(key: Key | None) -> Key | None:
    """One copy of each distinct text value held by the windows (a lower-cased program path
    repeats in most entries of a value_count, a host name in many groups; each kept its own
    copy)."""
    return sys.intern(key) if type(key) is str else key


SHARED_VALUES_LIMIT = 4096
_shared_values: dict[tuple[object, ...], tuple[object, ...]] = {}


def shared_values(values: tuple[object, ...]) -> tuple[object, ...]:
    """One copy of each distinct tuple of measured values (most entries of a value_count hold
    one of a few programs: 48 bytes an entry otherwise); at most ``SHARED_VALUES_LIMIT`` are
    remembered, then the memo starts afresh (tuples already shared stay shared)."""
    found = _shared_values.get(values)
    if found is not None:
        return found
    if len(_shared_values) >= SHARED_VALUES_LIMIT:
        _shared_values.clear()
    _shared_values[values] = values
    return values

Reporter = Callable[[str, Occurrence | None], None]


@dataclass(frozen=True, slots=True)
class Fired:
    """A window that met its condition."""

    spec: CorrelationSpec
    shown: tuple[tuple[str, str], ...]
    key: GroupKey
    value: float
    entries: tuple[Entry, ...]
    window_start: int
    window_end: int
    on_arrival: bool
    in_window: int


class GroupWindow:
    """One group's entries, ordered by (time, arrival); ``closed`` is the point up to which
    the group takes no more entries (consumed by an alert or slid past).

    The entries are a ``list``: most groups hold a few entries, and an empty ``deque`` alone
    takes 760 bytes (one 64-slot block) against 56; the oldest entries leave in one ``del``
    (`drop_before`), so a long window is not shifted once per entry."""

    __slots__ = ("key", "shown", "entries", "closed", "newest")

    def __init__(self, key: GroupKey, shown: tuple[tuple[str, str], ...]) -> None:
        self.key = key
        self.shown = shown
        self.entries: list[Entry] = []
        self.closed: tuple[int, int] = OPEN
        self.newest = -(2**62)

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a pickled group (a state file written before the entries were a list holds
        a ``deque``)."""
        for name, value in state[1].items():
            object.__setattr__(self, name, list(value) if name == "entries" else value)  # type: ignore[call-overload]

    def drop_before(self, limit: int) -> None:
        """Forget the entries older than ``limit``."""
        entries = self.entries
        count = 0
        for entry in entries:
            if entry.ts >= limit:
                break
            count += 1
        if count:
            del entries[:count]

    def drop_through(self, order: tuple[int, int]) -> None:
        """Forget the entries up to ``order`` (time, arrival) included."""
        entries = self.entries
        count = 0
        for entry in entries:
            if entry.order > order:
                break
            count += 1
        if count:
            del entries[:count]

    def add(self, entry: Entry) -> int:
        """Place ``entry`` in order; its index (the last one when it is the newest)."""
        entries = self.entries
        if not entries or entries[-1].order <= entry.order:
            entries.append(entry)
            if len(entries) > KEEP_EVENTS:
                entries[-KEEP_EVENTS - 1].occ = None
            self.newest = max(self.newest, entry.ts)
            return len(entries) - 1
        index = len(entries)
        while index > 0 and entries[index - 1].order > entry.order:
            index -= 1
        entries.insert(index, entry)
        self.newest = max(self.newest, entry.ts)
        return index


class CorrelationState:
    """The groups of one correlation and their windows."""

    swept = -(2**62)  # for a state pickled before these attributes existed (see __init__)
    taken = 0

    def __init__(self, spec: CorrelationSpec, max_groups: int, report: Reporter) -> None:
        self.spec = spec
        self.max_groups = max_groups
        self.report = report
        self.groups: OrderedDict[GroupKey, GroupWindow] = OrderedDict()
        self.closing: list[tuple[int, int, GroupKey]] = []  # (window end, tiebreak, group)
        self._tiebreak = itertools.count()
        self.on_arrival = spec.decided_on_arrival
        self.pid_like = tuple(
            tuple(
                is_pid_field(source) or is_pid_field(name)
                for name, source in zip(spec.group_by, sources, strict=True)
            )
            for sources in spec.sources
        )
        self.missing_keys = 0
        self.refused = 0
        self.evicted = 0
        self.swept = -(2**62)
        """The horizon of the last `forget_past` sweep."""
        self.taken = 0
        """Entries taken since that sweep."""
        self.made: list[Entry] | None = None
        """Entries made since the engine last parked occurrences (None: none are parked; see
        `CorrelationEngine.park`). Not part of the saved state."""

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["made"] = None
        return state

    # -- arrival ---------------------------------------------------------------------------

    def insert(self, occ: Occurrence, slot: int, horizon: int) -> list[Fired]:
        """Place ``occ`` (from ``spec.rules[slot]``) in its groups; what fires on arrival."""
        keys = self.group_keys(occ, slot)
        if not keys:
            self.missing_keys += 1
            return []
        values = self.values_of(occ, slot)
        fired: list[Fired] = []
        for key in keys:
            group = self.group_for(key, occ, slot, horizon)
            entry = Entry(occ.ts, occ.seq, slot, values, occ)
            if entry.order <= group.closed:
                self.refused += 1
                continue
            index = group.add(entry)
            self.taken += 1
            if self.made is not None:
                self.made.append(entry)
            if self.on_arrival:
                fired.extend(self.check_arrival(group, index))
            elif index == 0:
                self.schedule(group)
        return fired

    def group_keys(self, occ: Occurrence, slot: int) -> list[GroupKey]:
        sources = self.spec.sources[slot]
        if not sources:
            return [()]
        choices: list[list[Key]] = []
        for name in sources:
            found = occ.keys(name)
            if not found:
                return []
            choices.append(sorted(found, key=repr))
        keys = list(itertools.islice(itertools.product(*choices), MAX_KEYS))
        return keys

    def values_of(self, occ: Occurrence, slot: int) -> tuple[object, ...]:
        spec = self.spec
        if not spec.value_sources:
            return ()
        names = spec.value_sources[slot]
        raw = occ.values(names)
        if spec.type == VALUE_COUNT:
            if len(names) == 1:
                return shared_values(
                    tuple(shared(k) for k in (normalise_key(names[0], v) for v in raw) if k is not None))
            return shared_values(tuple(
                tuple(shared(normalise_key(n, part)) for n, part in zip(names, v, strict=True))
                for v in raw
                if isinstance(v, tuple)
            ))
        if spec.type in NUMERIC_TYPES:
            return tuple(n for n in (number_of(v) for v in raw) if n is not None)
        return ()

    def group_for(self, key: GroupKey, occ: Occurrence, slot: int, horizon: int) -> GroupWindow:
        group = self.groups.get(key)
        if group is not None:
            self.groups.move_to_end(key)
            return group
        if len(self.groups) >= self.max_groups:
            self.expire(horizon)
        while len(self.groups) >= self.max_groups:
            old_key, old = self.groups.popitem(last=False)
            self.evicted += 1
            self.report(
                f"group limit ({self.max_groups}) reached: dropped the state of group "
                f"{dict(old.shown)} ({len(old.entries)} pending events)",
                None,
            )
        sources = self.spec.sources[slot]
        pid_like = self.pid_like[slot]
        shown = []
        for index, name in enumerate(self.spec.group_by):
            written = None if pid_like[index] else occ.display(sources[index], key[index])
            shown.append((name, sys.intern(written if written is not None else display_key(key[index]))))
        key = tuple([sys.intern(part) if isinstance(part, str) else part for part in key])
        group = GroupWindow(key, tuple(shown))
        self.groups[key] = group
        return group

    def check_arrival(self, group: GroupWindow, index: int) -> list[Fired]:
        """Check the trailing windows ending at ``index`` and after it."""
        span = self.spec.timespan_us
        entries = group.entries
        if index == len(entries) - 1:
            group.drop_before(entries[-1].ts - span)
            return self.fire_trailing(group, group.entries)
        fired: list[Fired] = []
        ordered = list(entries)
        anchor = index
        while anchor < len(ordered):
            end = ordered[anchor].ts
            start = anchor
            while start > 0 and ordered[start - 1].ts >= end - span:
                start -= 1
            window = ordered[start : anchor + 1]
            result = self.fire_trailing(group, window)
            if result:
                fired.extend(result)
                ordered = ordered[anchor + 1 :]
                anchor = 0
                continue
            anchor += 1
        group.entries = ordered
        return fired

    def fire_trailing(self, group: GroupWindow, window: list[Entry]) -> list[Fired]:
        """Fire when ``window`` (ending at its last entry) meets the condition; consume it."""
        spec = self.spec
        value = measure(spec, window)
        if not spec.condition.holds(value):
            return []
        assert value is not None
        chosen = tuple(evidence(spec, window))
        last = window[-1]
        fired = Fired(
            spec,
            group.shown,
            group.key,
            value,
            chosen,
            last.ts - spec.timespan_us,
            last.ts,
            True,
            len(window),
        )
        group.closed = max(group.closed, last.order)
        if window is group.entries:
            window.clear()  # `chosen` is a copy
        else:
            group.drop_through(last.order)
        return [fired]

    # -- window ends -----------------------------------------------------------------------

    def schedule(self, group: GroupWindow) -> None:
        end = group.entries[0].ts + self.spec.timespan_us
        heapq.heappush(self.closing, (end, next(self._tiebreak), group.key))

    def next_close(self) -> int | None:
        """The earliest pending window end (stale schedule entries are skipped)."""
        closing = self.closing
        while closing:
            end, _, key = closing[0]
            group = self.groups.get(key)
            if group is not None and group.entries and group.entries[0].ts + self.spec.timespan_us == end:
                return end
            heapq.heappop(closing)
        return None

    def close_next(self) -> list[Fired]:
        """Decide the window that ends first (`next_close` must have returned its end)."""
        end, _, key = heapq.heappop(self.closing)
        group = self.groups[key]
        fired = self.decide(group, end)
        if group.entries:
            self.schedule(group)
        return fired

    def decide(self, group: GroupWindow, end: int) -> list[Fired]:
        """Measure the window ``[first entry, end]``; its entries are used up either way, so the
        next window starts at the next entry after it."""
        entries = group.entries
        window = list(itertools.takewhile(lambda e: e.ts <= end, entries))
        del entries[: len(window)]
        group.closed = max(group.closed, (end, END_ORDER))
        value = measure(self.spec, window)
        if not self.spec.condition.holds(value):
            return []
        assert value is not None
        chosen = tuple(evidence(self.spec, window))
        start = window[0].ts
        return [Fired(self.spec, group.shown, group.key, value, chosen, start, end, False, len(window))]

    # -- housekeeping ----------------------------------------------------------------------

    def expire(self, horizon: int) -> None:
        """Drop groups that no future window can reach (their newest entry is a timespan behind
        the horizon; windows decided at their end have been decided by then), and regularly the
        entries of the other groups that are that far behind (`forget_past`, each time the
        horizon has moved on by ``1 / SWEEPS_PER_TIMESPAN`` of a timespan)."""
        on_arrival = self.on_arrival
        limit = horizon - self.spec.timespan_us
        groups = self.groups
        while groups:
            key, group = next(iter(groups.items()))
            if group.newest >= limit or group.entries and not on_arrival:
                break
            del groups[key]
        if (on_arrival and horizon - self.swept >= self.spec.timespan_us // SWEEPS_PER_TIMESPAN
                and 2 * self.taken >= len(groups)):
            self.swept, self.taken = horizon, 0
            self.forget_past(limit)

    def forget_past(self, limit: int) -> None:
        """Forget the entries older than ``limit`` (a timespan behind the horizon) in every group.

        Every match still to come in order is after the horizon, so its trailing window starts
        after ``limit``: these entries are in no such window. A group trims its entries when it
        gets a new match; without this sweep, a group that gets one every few minutes kept up to
        a timespan of entries before its newest, so the held entries grew for minutes after the
        window had filled (a late match is correlated with what is still held:
        docs/correlation.md, "Lateness")."""
        for group in self.groups.values():
            entries = group.entries
            if entries and entries[0].ts < limit:
                group.drop_before(limit)

    def flush(self) -> list[Fired]:
        """Decide every pending window as if time had run out; forget all groups."""
        fired: list[Fired] = []
        while self.next_close() is not None:
            fired.extend(self.close_next())
        self.groups.clear()
        self.closing.clear()
        return fired
