"""The streaming correlation engine: matches in, correlation alerts out.

Matches arrive in approximately timestamp order. They wait in a reorder buffer until the
*release horizon* (the latest time seen, by a match or by `advance`, minus ``lateness``) passes
them, and are then processed strictly in (time, arrival) order, interleaved with the ends of
windows that fall due. A match older than the horizon when it arrives is late: it is counted,
reported (stage ``"correlation"``) and still placed in its group's window when that window has
neither fired nor closed; otherwise it is not correlated (docs/correlation.md, "Lateness").
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Container, Sequence
from datetime import datetime, timedelta

from watchpost.alerts import Alert
from watchpost.correlation.alerting import alert_of, occurrence_of
from watchpost.correlation.occurrence import Occurrence, Parked, Recall, micros, moment
from watchpost.correlation.processes import ProcessTable
from watchpost.correlation.spec import CorrelationSpec, base_rule_ids, suppressed_rule_ids
from watchpost.correlation.state import CorrelationState, Fired, Reporter
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog

DEFAULT_MAX_GROUPS = 100_000
"""Groups held per correlation at most (each holds one window of entries)."""
DEFAULT_LATENESS = timedelta(minutes=5)
END_OF_TIME = 2**62
EXPIRY_STEP = 1_000_000
"""Groups are swept for expiry each time the horizon has moved on by this much (1 s)."""


class CorrelationEngine:
    """Runs compiled correlations over a stream of detection matches."""

    # an engine pickled before process tables existed restores without them (never mutated here)
    processes: dict[str, ProcessTable] = {}  # noqa: RUF012
    markers: dict[str, list[ProcessTable]] = {}  # noqa: RUF012

    def __init__(
        self,
        specs: Sequence[CorrelationSpec],
        lateness: timedelta = DEFAULT_LATENESS,
        max_groups: int = DEFAULT_MAX_GROUPS,
        problems: ProblemLog | None = None,
    ) -> None:
        if max_groups < 1:
            raise ValueError("max_groups must be at least 1")
        self.specs = list(specs)
        self.lateness_us = max(0, lateness // timedelta(microseconds=1))
        self.problems = problems if problems is not None else ProblemLog()
        self.stats: Counter[str] = Counter()
        self.states = {
            spec.id: CorrelationState(spec, max_groups, self._reporter(spec)) for spec in self.specs
        }
        self.consumers: dict[str, list[tuple[CorrelationState, int]]] = {}
        for spec in self.specs:
            for slot, rule in enumerate(spec.rules):
                self.consumers.setdefault(rule, []).append((self.states[spec.id], slot))
        self.processes: dict[str, ProcessTable] = {}
        """Per correlation with ``x-watchpost-processes``: processes behind its alerts and
        collector lineages (`watchpost.correlation.processes`)."""
        self.markers: dict[str, list[ProcessTable]] = {}
        for spec in self.specs:
            if spec.processes is not None:
                pairs = zip(spec.rules, spec.value_sources, strict=False)
                values = {rule: fields[0] for rule, fields in pairs if len(fields) == 1}
                table = self.processes[spec.id] = ProcessTable(spec.processes, spec.timespan_us, values)
                for rule in spec.processes.marker_rules:
                    self.markers.setdefault(rule, []).append(table)
        hidden = suppressed_rule_ids((), self.specs)
        self.outputs = frozenset(spec.id for spec in self.specs if spec.id not in hidden)
        self.windowed = [state for state in self.states.values() if not state.spec.decided_on_arrival]
        self.base_rules = base_rule_ids(self.specs)
        self._buffer: list[tuple[int, int, Occurrence | Parked]] = []
        self._seen: int | None = None
        self._horizon: int | None = None
        self._expired = -END_OF_TIME
        self._seq = itertools.count()
        self.recall: Recall | None = None
        """Brings back parked occurrences (`hold_outside`); not part of the saved state."""

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["recall"] = None
        return state

    # -- public ----------------------------------------------------------------------------

    def feed(self, match: Match) -> list[Alert]:
        """Take one detection match; the alerts it (or the time it reveals) lets fire."""
        if match.rule.id not in self.consumers and match.rule.id not in self.markers:
            return []
        occ = Occurrence.of_match(match, next(self._seq))
        out: list[Alert] = []
        if self._horizon is not None and occ.ts < self._horizon:
            self._late(occ, out)
        else:
            heapq.heappush(self._buffer, (occ.ts, occ.seq, occ))
        if self._seen is None or occ.ts > self._seen:
            self._seen = occ.ts
        self._progress(out)
        return out

    def advance(self, watermark: datetime) -> list[Alert]:
        """The input has reached ``watermark``: release what the lateness allows, close what
        ends before the new horizon."""
        moment_us = micros(watermark)
        if self._seen is None or moment_us > self._seen:
            self._seen = moment_us
        out: list[Alert] = []
        self._progress(out)
        return out

    def flush(self) -> list[Alert]:
        """End of input: release every buffered match, decide every open window, forget all."""
        out: list[Alert] = []
        self._release_until(END_OF_TIME, out)
        for state in self.states.values():
            state.groups.clear()
            state.closing.clear()
        self._buffer.clear()
        self._seen = self._horizon = None
        self._expired = -END_OF_TIME
        return out

    @property
    def horizon(self) -> datetime | None:
        """Matches up to this time have been processed (None before any)."""
        return None if self._horizon is None else moment(self._horizon)

    def held_groups(self) -> int:
        return sum(len(state.groups) for state in self.states.values())

    # -- occurrences held outside ------------------------------------------------------------

    def hold_outside(self, recall: Recall) -> None:
        """The owner will keep occurrences elsewhere: from now on `park` may replace them by
        `Parked` stand-ins, and ``recall`` brings one back (by seq) when a window with it fires
        or the reorder buffer releases it. Entries of correlations that feed other correlations
        are never parked (a chain compares its events by identity), nor are fired
        correlations' occurrences (several share events)."""
        self.recall = recall
        for state in self.states.values():
            state.made = None if state.spec.id in self.consumers else []

    def park(self, stored: Container[int], everything: bool = False) -> int:
        """Replace the held matches whose seq is in ``stored`` (the owner has them) by `Parked`
        stand-ins: in the entries made since the last call (all entries with ``everything``,
        after a restore) and in the reorder buffer. How many entries or buffered matches were
        parked."""
        if self.recall is None:
            raise RuntimeError("park() needs hold_outside() first")
        parked: dict[int, Parked] = {}

        def stand_in(occ: Occurrence) -> Parked | None:
            if len(occ.events) != 1 or occ.group or occ.seq not in stored:
                return None
            found = parked.get(occ.seq)
            if found is None:
                found = parked[occ.seq] = Parked(occ.seq)
            return found

        count = 0
        for state in self.states.values():
            made = state.made
            if made is None:
                continue
            if everything:
                made = [entry for group in state.groups.values() for entry in group.entries]
            for entry in made:
                occ = entry.occ
                if isinstance(occ, Occurrence) and (replacement := stand_in(occ)) is not None:
                    entry.occ = replacement
                    count += 1
            state.made = []
        buffer = self._buffer
        for index, (ts, seq, held) in enumerate(buffer):
            if isinstance(held, Occurrence) and (replacement := stand_in(held)) is not None:
                buffer[index] = (ts, seq, replacement)  # same (ts, seq): the heap order holds
                count += 1
        return count

    def recalled(self, held: Occurrence | Parked) -> Occurrence:
        """``held`` itself, or the occurrence it stands for."""
        if isinstance(held, Occurrence):
            return held
        if self.recall is None:
            raise RuntimeError(f"occurrence {held.seq} is parked and nothing can recall it")
        return self.recall(held.seq)

    # -- internals -------------------------------------------------------------------------

    def _progress(self, out: list[Alert]) -> None:
        if self._seen is None:
            return
        horizon = self._seen - self.lateness_us
        if self._horizon is not None and horizon <= self._horizon:
            return
        self._horizon = horizon
        self._release_until(horizon, out)
        if horizon - self._expired >= EXPIRY_STEP:
            self._expired = horizon
            for state in self.states.values():
                state.expire(horizon)

    def _release_until(self, horizon: int, out: list[Alert]) -> None:
        buffer = self._buffer
        while True:
            next_match = buffer[0][0] if buffer else None
            state, closes = self._next_close()
            if next_match is not None and next_match <= horizon and (closes is None or next_match <= closes):
                _, _, held = heapq.heappop(buffer)
                self._dispatch(self.recalled(held), out)
            elif state is not None and closes is not None and closes <= horizon:
                self._emit(state.close_next(), out)
            else:
                return

    def _next_close(self) -> tuple[CorrelationState | None, int | None]:
        chosen: CorrelationState | None = None
        earliest: int | None = None
        for state in self.windowed:
            end = state.next_close()
            if end is not None and (earliest is None or end < earliest):
                chosen, earliest = state, end
        return chosen, earliest

    def _dispatch(self, occ: Occurrence, out: list[Alert]) -> int:
        """Give ``occ`` to every correlation that references its rule; how many refused it."""
        horizon = self._horizon if self._horizon is not None else occ.ts
        refused = 0
        for marking in self.markers.get(occ.rule_id, ()):
            marking.observe_marker(occ.rule_id, occ.events[0], occ.ts)
        for state, slot in self.consumers.get(occ.rule_id, ()):
            table = self.processes.get(state.spec.id)
            if (table is not None and len(occ.events) == 1
                    and not table.admits(occ.rule_id, occ.events[0], occ.ts)):
                continue
            before = state.refused
            fired = state.insert(occ, slot, horizon)
            refused += state.refused - before
            self._emit(fired, out)
        return refused

    def _emit(self, fired: list[Fired], out: list[Alert]) -> None:
        pending = deque(fired)
        while pending:
            one = pending.popleft()
            alert = alert_of(one, self.recalled)
            self.stats["alerts"] += 1
            table = self.processes.get(one.spec.id)
            if table is not None:
                table.alerted_on(zip(alert.events, alert.event_rules, strict=False), one.window_end)
            if one.spec.id in self.outputs:
                out.append(alert)
            chained = occurrence_of(one, alert, next(self._seq))
            for state, slot in self.consumers.get(chained.rule_id, ()):
                before = state.refused
                horizon = self._horizon if self._horizon is not None else chained.ts
                pending.extend(state.insert(chained, slot, horizon))
                if state.refused > before:
                    self._report(
                        state.spec,
                        chained,
                        "a fired correlation reached a correlation whose window had already fired or closed",
                    )

    def _late(self, occ: Occurrence, out: list[Alert]) -> None:
        assert self._horizon is not None
        self.stats["late"] += 1
        behind = (self._horizon - occ.ts) / 1_000_000
        refused = self._dispatch(occ, out)
        self._release_until(self._horizon, out)  # windows the late match made due
        outcome = (
            "not correlated: its window had already fired or closed"
            if refused
            else "correlated out of order in the windows still open"
        )
        if refused:
            self.stats["late_dropped"] += 1
        self._report(
            None,
            occ,
            f"match of rule {occ.rule_id} arrived {behind:g} s behind the release horizon "
            f"(lateness allowance {self.lateness_us / 1_000_000:g} s); {outcome}",
        )

    def _reporter(self, spec: CorrelationSpec) -> Reporter:
        def report(reason: str, occ: Occurrence | None) -> None:
            self.stats["groups_evicted"] += 1
            self._report(spec, occ, reason)

        return report

    def _report(self, spec: CorrelationSpec | None, occ: Occurrence | None, reason: str) -> None:
        if occ is not None and occ.events:
            origin = occ.events[0].origin
            path = origin.path
            place = None if origin.record is None else f"{origin.kind} {origin.record}"
        else:
            path = spec.meta.path if spec is not None else "-"
            place = None
        if spec is not None:
            reason = f"correlation {spec.meta.title!r}: {reason}"
        self.problems.add("correlation", path, place, reason)
