"""The watch loop: follow sources, match, correlate, deliver, checkpoint; again.

One batch is: poll every follower (round robin) until ``batch_bytes`` of lines or nothing new;
match each event with the rule set and feed the correlation engine exactly as `Hunt` does; move
the watermark when the sources are idle; hand the alerts to every sink (each makes them durable;
alerts queued for a network sink are committed at once). At most every ``checkpoint_every``
seconds, a full checkpoint: positions, correlation state, delivered keys. See docs/watch.md.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from watchpost.alert_context import AlertContext
from watchpost.alerts import Alert
from watchpost.correlation import CorrelationEngine
from watchpost.correlation.occurrence import Occurrence
from watchpost.events import Event
from watchpost.hunting.ruleset import RuleSet, load_ruleset
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.rules.model import level_rank
from watchpost.watch.correlation_state import EngineSaver, load_occurrence, restore_engine, rules_fingerprint
from watchpost.watch.delivery import DeliverySink
from watchpost.watch.followers import DirectoryFollower, FileFollower, Follower, FollowOptions, StdinFollower
from watchpost.watch.heap import HeapTrimmer
from watchpost.watch.identity import canonical_name
from watchpost.watch.joins import ReaderSessions
from watchpost.watch.state import Checkpoint, StateStore
from watchpost.watch.state_faults import StateFault
from watchpost.watch.status import SinkAlarm, WatchStatus
from watchpost.watch.tails import UNKNOWN_FORMAT

WATERMARKS = ("events", "clock")


@dataclass
class WatchOptions:
    """How to watch. ``rules`` empty means the bundled T1049 pack."""

    rules: Sequence[Path] = ()
    placeholders: Path | None = None
    input_format: str | None = None
    min_level: str | None = None
    lateness: timedelta = timedelta(minutes=5)
    max_groups: int = 100_000
    poll_interval: float = 0.1
    idle_after: float = 1.0
    """Seconds without new input after which the watermark moves (see `Watch._watermark`)."""
    watermark: str = "events"
    batch_bytes: int = 4 << 20
    max_queue: int = 10_000
    stop_when_idle: float | None = None
    """Exit (closing every window, as at the end of a hunt) once idle for this many seconds."""
    start_at_end: bool = False
    status_file: Path | None = None
    status_every: float = 5.0
    checkpoint_every: float = 1.0
    """Seconds between full checkpoints (positions and correlation state) at most; alerts are
    delivered every batch all the same (docs/watch.md, "Crash safety")."""


@dataclass
class WatchCounters:
    events: int = 0
    matches: int = 0
    alerts: int = 0
    batches: int = 0
    started: float = field(default_factory=time.monotonic)


class Watch:
    """A running watch over ``inputs`` (files, directories, ``-``) delivering to ``sinks``."""

    def __init__(self, options: WatchOptions, inputs: Sequence[str], store: StateStore,
                 sinks: Sequence[DeliverySink], ruleset: RuleSet | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        """``notify`` gets one line for the operator (standard error) when something needs
        attention while the watch runs: a followed name that does not exist yet, a sink failing."""
        from watchpost.hunting.engine import bundled_pack

        self.options = options
        self.store = store
        self.sinks = list(sinks)
        self.problems = ProblemLog()
        self.counters = WatchCounters()
        self.stopping = threading.Event()
        self.ruleset = ruleset or load_ruleset(list(options.rules) or [bundled_pack()],
                                               placeholders=options.placeholders)
        self.context = AlertContext(list(options.rules) or [bundled_pack()])  # rule paths as hunt shows them
        for problem in self.ruleset.problems:
            self.problems.add("rule", problem.path, problem.rule, problem.reason)
        self.saver = EngineSaver()
        self.heap = HeapTrimmer()
        self.stored = store.stored_occurrences()
        """The state file's occurrence rows, read back when a parked occurrence is needed."""
        self.sessions = ReaderSessions()
        """Each followed file's reader, remembering across chunks where its format joins lines."""
        self.correlation_dirty = False
        self.correlation = self._restored_correlation()
        self.notify: Callable[[str], None] = notify or (lambda line: None)
        self.alarm = SinkAlarm(self.sinks, self.notify)
        follow = FollowOptions(self.problems, options.input_format, options.start_at_end, store.positions(),
                               self.notify)
        self.followers: list[Follower] = [_follower(item, follow) for item in inputs]
        self.status = WatchStatus(self)
        self.max_event: datetime | None = None
        self.last_input = time.monotonic()
        self.advanced_to: datetime | None = None
        self.pending = Checkpoint()
        """What the sinks delivered since the last checkpoint written."""
        self.unsaved = False
        """Input was read since the last full checkpoint (its positions moved)."""
        self.last_full = time.monotonic()
        self.checkpoint_now = False
        """The next batch ends with a full checkpoint whatever the time (see `_step`)."""
        self.last_event: Event | None = None
        """The last event taken (`BatchFailed` names it)."""
        self.unreadable = any(isinstance(follower, StdinFollower) for follower in self.followers)
        """A source whose position cannot be saved: what it gave is only kept by the correlation
        state, so that is saved after every batch that read something."""

    # -- public ----------------------------------------------------------------------------

    def run(self) -> None:
        """Until `stop` (or idle for ``stop_when_idle``): one batch after the other. A batch
        that raises ends the run **without** a checkpoint: its alerts may not all be delivered,
        so the positions stay at the last checkpoint and the next run reads the batch again
        (`BatchFailed` says where; a `StateFault` is passed on as it is)."""
        completed = False
        try:
            while not self.stopping.is_set():
                if self._step():
                    break
            completed = True
        except StateFault:
            raise
        except Exception as exc:
            raise BatchFailed(self._where(), exc) from exc
        finally:
            try:
                if completed:
                    self._final_checkpoint()
            finally:
                for follower in self.followers:
                    follower.close()
                with contextlib.suppress(OSError):
                    self.status.write()

    def _final_checkpoint(self) -> None:
        try:
            self._checkpoint()
        except StateFault:
            raise
        except Exception as exc:
            raise BatchFailed("at the final checkpoint", exc) from exc

    def stop(self) -> None:
        self.stopping.set()

    # -- one batch -------------------------------------------------------------------------

    def _step(self) -> bool:
        """One batch; True when the watch should end (idle with ``stop_when_idle``)."""
        options = self.options
        alerts: list[Alert] = []
        read = 0 if self._backpressure() else self._read(alerts)
        now = time.monotonic()
        if read:
            self.last_input = now
        idle = now - self.last_input
        ending = options.stop_when_idle is not None and idle >= options.stop_when_idle and not read
        if ending:
            self._read(alerts, release=True)  # lines held back for a join (watch/joins.py) first
            alerts.extend(self._keep(self.correlation.flush()))
            self.correlation_dirty = True
        elif not read and idle >= options.idle_after:
            alerts.extend(self._watermark(idle))
        self.unsaved = self.unsaved or read > 0
        self._deliver(alerts)
        if ending or self.checkpoint_now or (self.unreadable and read) or (
                now - self.last_full >= options.checkpoint_every
                and (self.unsaved or self.correlation_dirty or self.pending.delivered)):
            self._checkpoint()
        self.counters.batches += 1
        self.alarm.check()
        self.status.maybe_write()
        if not read and not ending:
            self.stopping.wait(options.poll_interval)
        return ending

    def _read(self, alerts: list[Alert], release: bool = False) -> int:
        """Poll the followers until ``batch_bytes`` or nothing new; match what was read, the
        files' events merged by time (`merge_by_time`). ``release``: lines held back for a join
        are read too (`Follower.poll`)."""
        taken = 0
        runs: dict[tuple[str, tuple[int, int] | None], list[Event]] = {}
        while taken < self.options.batch_bytes and not self.stopping.is_set():
            progressed = False
            for follower in self.followers:
                chunk = follower.poll(release)
                if chunk is None:
                    continue
                progressed = True
                taken += max(len(chunk.data), 1) + 100 * len(chunk.events or ())
                if chunk.format in (None, UNKNOWN_FORMAT):
                    continue
                run = runs.setdefault((chunk.name, chunk.identity), [])
                run.extend(self.sessions.decode(chunk, self.problems))
            if not progressed:
                break
        for event in merge_by_time(list(runs.values())):
            self.last_event = event
            self._match_or_quarantine(event, alerts)
        return taken

    def _match_or_quarantine(self, event: Event, alerts: list[Alert]) -> None:
        """`_match`, and an event whose matching raises is **quarantined**: reported with its
        file and line (stage ``quarantine``) and skipped, so that one hostile line cannot stop
        the stream; the other events of the batch go on."""
        try:
            self._match(event, alerts)
        except Exception as exc:  # noqa: BLE001 - any failure on one event: that event only
            origin = event.origin
            place = None if origin.record is None else f"{origin.kind} {origin.record}"
            self.problems.add("quarantine", origin.path, place,
                              f"processing this event failed ({type(exc).__name__}: {exc}): skipped")

    def _match(self, event: Event, alerts: list[Alert]) -> None:
        """As `Hunt._alerts`: output rules alert, correlated rules feed the engine."""
        counters = self.counters
        counters.events += 1
        moment = event.timestamp
        if self.max_event is None or moment > self.max_event:
            self.max_event = moment
        ruleset = self.ruleset
        for rule in ruleset.index.match(event):
            counters.matches += 1
            meta = rule.meta
            if meta.id not in ruleset.hidden:
                alerts.extend(self._keep([Alert(meta, moment, (event,), (meta.id,))]))
            if meta.id in ruleset.correlated_ids:
                event.forget_lowered()
                alerts.extend(self._keep(self.correlation.feed(Match(meta, event))))
                self.correlation_dirty = True

    def _watermark(self, idle: float) -> list[Alert]:
        """The sources have been idle: the input has reached the newest event's time (``events``)
        or, for ``clock``, also the wall clock minus the idle time. The engine then releases what
        it holds up to there and closes the windows that end before it."""
        if self.max_event is None and self.options.watermark != "clock":
            return []
        reached = self.max_event or datetime.min.replace(tzinfo=UTC)
        if self.options.watermark == "clock":
            reached = max(reached, datetime.now(UTC) - timedelta(seconds=idle))
        target = _later(reached, self.options.lateness)
        if self.advanced_to is not None and target <= self.advanced_to:
            return []
        self.advanced_to = target
        self.correlation_dirty = True
        alerts = self._keep(self.correlation.advance(target))
        # Windows decided by the idle time, not by input: saved with the alerts they gave.
        self.checkpoint_now = self.checkpoint_now or bool(alerts)
        return alerts

    def _keep(self, alerts: list[Alert]) -> list[Alert]:
        minimum = self.options.min_level
        if minimum is not None:
            alerts = [a for a in alerts if level_rank(a.rule.level) >= level_rank(minimum)]
        self.counters.alerts += len(alerts)
        return [self.context.apply(alert) for alert in alerts]

    def _backpressure(self) -> bool:
        return any(sink.pending() >= self.options.max_queue for sink in self.sinks)

    def _deliver(self, alerts: list[Alert]) -> None:
        """Hand ``alerts`` to every sink; what a network sink queued is committed now (with the
        delivered keys gathered so far), the rest waits for the next full checkpoint."""
        if not alerts:
            return
        for sink in self.sinks:
            sink.deliver(alerts, self.pending)
        if self.pending.outbox:
            self._write(self.pending)

    def _checkpoint(self) -> None:
        """A full checkpoint: what was delivered, positions, and the correlation state if it
        changed (incrementally: only occurrences not saved yet)."""
        batch = self.pending
        for follower in self.followers:
            batch.positions.extend(follower.positions())
        snapshot = None
        if self.correlation_dirty:
            snapshot = self.saver.save(self.correlation)
            batch.correlation = snapshot.structure
            batch.occurrences_added, batch.occurrences_removed = snapshot.added, snapshot.removed
            batch.meta["rules"] = rules_fingerprint(self.correlation.specs)
        self._write(batch)
        if snapshot is not None:
            self.saver.written(snapshot)
            self.correlation.park(self.saver.stored)  # their rows are in the state file now
        self.correlation_dirty = self.unsaved = self.checkpoint_now = False
        self.last_full = time.monotonic()
        self.heap.maybe_trim(self.last_full)  # what the snapshot and the batches freed (watch/heap.py)
        for follower in self.followers:
            if isinstance(follower, DirectoryFollower):
                self.store.forget_positions(follower.gone())

    def _write(self, batch: Checkpoint) -> None:
        self.store.checkpoint(batch)
        self.pending = Checkpoint()
        for sink in self.sinks:
            sink.committed()

    def _recall(self, seq: int) -> Occurrence:
        """A parked occurrence, read back from its row (written by a checkpoint before it was
        parked; deleted only by a checkpoint that finds no entry holding it)."""
        return load_occurrence(self.stored[seq])

    def _restored_correlation(self) -> CorrelationEngine:
        """The saved engine or, when there is none that fits, an empty one (whose snapshot
        replaces the saved one at the first checkpoint). Either way the engine parks held
        matches once their rows are written (`CorrelationEngine.park`): memory then holds
        their measured values, not their events."""
        engine = self._saved_correlation()
        engine.hold_outside(self._recall)
        engine.park(self.saver.stored, everything=True)
        return engine

    def _saved_correlation(self) -> CorrelationEngine:
        options, specs, store = self.options, self.ruleset.correlations, self.store
        blob = store.get_meta("correlation")
        if blob is not None and store.get_meta("rules") == rules_fingerprint(specs):
            try:
                occurrences = self.stored
                engine = restore_engine(blob, specs, options.lateness, options.max_groups, self.problems,
                                        occurrences)
                self.saver = EngineSaver(occurrences)
                return engine
            except Exception as exc:  # a damaged or foreign snapshot: say so, start afresh
                self.problems.add("correlation", str(self.store.path), None,
                                  f"saved correlation state not restored ({type(exc).__name__}: {exc})")
        elif blob is not None:
            self.problems.add("correlation", str(self.store.path), None,
                              "the correlation rules changed since the state was saved: open windows dropped")
        store.clear_occurrences()
        self.correlation_dirty = True
        return CorrelationEngine(specs, options.lateness, options.max_groups, self.problems)

    def _where(self) -> str:
        event = self.last_event
        if event is None:
            return "before any event was read"
        origin = event.origin
        place = "" if origin.record is None else f" ({origin.kind} {origin.record})"
        return f"after {origin.path}{place}"

    def health(self) -> dict[str, Any]:
        return self.status.snapshot()


def merge_by_time(runs: list[list[Event]]) -> Iterable[Event]:
    """The events of one batch, each file's in its order, merged by timestamp (ties in the
    order the files were first read), as a hunt merges its sources: a restart's backlogs are
    read a file at a time (up to `followers.READ_LIMIT` per poll), so one file's events may be minutes
    ahead of another's, and the correlation engine would take the other's as late matches
    (behind its release horizon) where a hunt has them in time order."""
    if len(runs) == 1:
        return runs[0]
    return heapq.merge(*runs, key=attrgetter("timestamp"))


class BatchFailed(Exception):
    """A batch raised: nothing of it was checkpointed (see `Watch.run`); ``where`` names the
    last event taken (file and place) or the step."""

    def __init__(self, where: str, cause: BaseException) -> None:
        self.where = where
        self.cause = cause
        super().__init__(f"a batch failed {where} ({type(cause).__name__}: {cause}); positions are "
                         "kept at the last checkpoint, so a restart reads the batch again")


def _later(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, the latest time there is when that is beyond year 9999 (a hostile
    line dated 9999-12-31 would make every idle watermark raise)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _follower(item: str, options: FollowOptions) -> Follower:
    if item == "-":
        return StdinFollower(options)
    path = canonical_name(item)
    if path.is_dir():
        return DirectoryFollower(path.resolve(), options)
    return FileFollower(path, options)
