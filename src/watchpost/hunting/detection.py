"""The seam between detection and correlation: what every runner (local, ``--jobs``, Spark) uses.

    detect(source or events) -> Detection        (anywhere: this process, a worker, an executor)
    correlate(detections in source order) -> alerts   (one place: it holds the windows)

A `Detection` holds a source's counts, its problems and its kept matches keyed for the merge,
each naming its rule by id (`RuleSet.detection_ids`), so that it means the same rule in every
process; it pickles. `correlate` merges the detections' matches by key (one total order whatever
ran them: `source_hunts`), feeds correlation, and yields the alerts of output rules and of
correlations in that order: the alerts of a local hunt. A stream of keyed matches read side by
side (`Hunt` on few inputs) goes through the same `Correlator`, so every runner streams, ticks
and stops the same way.

Byte ranges of one file (`byte_ranges`) are detected as sources of their own and put back in
the file's coordinates by `join_ranges`, before the merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchpost.alerts import Alert
from watchpost.events import Event
from watchpost.hunting.byte_ranges import RangeJoin
from watchpost.hunting.ruleset import RuleSet
from watchpost.hunting.source_hunts import Detection, Keyed, SourceMatcher, merged_matches
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source

if TYPE_CHECKING:
    from watchpost.correlation import CorrelationEngine

DEFAULT_LATENESS = timedelta(minutes=5)

__all__ = ["Correlator", "Detection", "Detector", "correlate", "detect", "join_ranges"]


class Detector:
    """A rule set and how to read: immutable once built; pickles as its rule set's bytes
    (`RuleSet.to_bytes`) and its options, so it can be sent to workers and executors."""

    def __init__(
        self,
        ruleset: RuleSet,
        input_format: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lateness: timedelta = DEFAULT_LATENESS,
        spill_dir: str | None = None,
        time_field: str | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.options = (input_format, since, until, lateness, time_field)
        self.matcher = SourceMatcher(ruleset, input_format, since, until, spill_dir, lateness, time_field)

    def __reduce__(self) -> tuple[Any, ...]:
        return _detector, (self.ruleset.to_bytes(), *self.options)

    def detect(
        self, source_or_events: Source | Iterable[Event], number: int = 0, name: str = "records",
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Detection:
        """The `Detection` of a source (a file, an archive member, a byte range) or of events
        (`records.events_from_records`), numbered ``number`` in the merge order."""
        if isinstance(source_or_events, Source):
            return self.matcher.run(number, source_or_events, should_stop)
        detection = Detection(name)
        for item in self.matcher.keyed(number, source_or_events, detection):
            detection.found.append(item)
            if item[4] is None and should_stop():
                detection.complete = False
                break
        return detection


def _detector(data: bytes, input_format: str | None, since: datetime | None, until: datetime | None,
              lateness: timedelta, time_field: str | None = None) -> Detector:
    return Detector(RuleSet.from_bytes(data), input_format, since, until, lateness, time_field=time_field)


def detect(
    source_or_records: Source | Iterable[Event], ruleset: RuleSet, number: int = 0, **options: Any
) -> Detection:
    """One-call `Detector.detect`; ``options`` are `Detector`'s (input_format, since, until,
    lateness)."""
    return Detector(ruleset, **options).detect(source_or_records, number)


def join_ranges(detections: Iterable[Detection], lateness: timedelta) -> Iterator[Detection]:
    """``detections`` in source order, byte ranges put back in their file's coordinates (line
    numbers in origins and problems, merge keys: `byte_ranges.RangeJoin`)."""
    join: RangeJoin | None = None
    for detection in detections:
        if detection.parts > 1:
            if detection.part == 0 or join is None:
                join = RangeJoin(detection.name, lateness)
            if detection.problems is not None:
                join.rebase_problems(detection.problems)
            if detection.part > 0:
                detection.rebase = join.rebaser()
            join.close_range(detection.lines, detection.last_key, detection.latest)
        yield detection


class Correlator:
    """Keyed matches in merge order in, alerts out: output rules' matches become alerts, the
    correlated ones go to the correlation engine, ticks advance it; `settled` follows the keys."""

    def __init__(self, ruleset: RuleSet, lateness: timedelta = DEFAULT_LATENESS, max_groups: int = 100_000,
                 problems: ProblemLog | None = None) -> None:
        from watchpost.correlation import CorrelationEngine

        self.ruleset = ruleset
        self.rules = dict(zip(ruleset.detection_ids(), ruleset.detections, strict=True))
        self.problems = problems if problems is not None else ProblemLog()
        self.engine: CorrelationEngine = CorrelationEngine(ruleset.correlations, lateness, max_groups,
                                                           self.problems)
        self.settled: datetime | None = None

    def alerts(self, found: Iterator[Keyed]) -> Iterator[Alert]:
        """The alerts of ``found`` (closed when done or abandoned), then of the windows still
        open at its end."""
        return (item for item in self.stream(found) if not isinstance(item, datetime))

    def stream(self, found: Iterator[Keyed]) -> Iterator[Alert | datetime]:
        """`alerts`, with the merge's watermark (a `datetime`: no later alert is keyed before it)
        after each tick, for the stages after correlation (`alert_merging`)."""
        engine = self.engine
        try:
            for key, _number, _sequence, rule_id, event in found:
                self.settled = key
                if event is not None:
                    yield from self._of_match(rule_id, event)
                else:  # a tick: no later match comes before ``key``; windows behind it may close
                    yield from engine.advance(key)
                    yield key
        finally:
            close = getattr(found, "close", None)
            if close is not None:
                close()
        yield from engine.flush()

    def _of_match(self, rule_id: str, event: Event) -> Iterator[Alert]:
        ruleset = self.ruleset
        rule = self.rules[rule_id]
        meta = rule.meta
        if meta.id not in ruleset.hidden:
            yield Alert(meta, event.timestamp, (event,), (meta.id,))
        if meta.id in ruleset.correlated_ids:
            yield from self.engine.feed(Match(meta, event))


def correlate(
    detections: Iterable[Detection], ruleset: RuleSet, lateness: timedelta = DEFAULT_LATENESS,
    max_groups: int = 100_000, problems: ProblemLog | None = None, spill_dir: str | None = None,
) -> Iterator[Alert]:
    """The alerts of ``detections`` (in source order), as a local hunt over the same sources
    gives them; problems of correlation (late matches...) go to ``problems``."""
    found = merged_matches(join_ranges(detections, lateness), spill_dir)
    return Correlator(ruleset, lateness, max_groups, problems).alerts(found)
