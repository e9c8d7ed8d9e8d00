"""The short wire from readers to sinks: read events, match rules, correlate, yield alerts.

    readers -> events -> matching -> correlation -> alerts -> (the caller's sinks)

`Hunt` is the reusable object (rules loaded once, statistics and problems kept); `hunt()` is the
one-call API. Alerts stream: a hunt over several inputs reads them side by side and yields each
alert as soon as no input still unread can come before it (`source_hunts`), in time order.
`Hunt.request_stop` (a signal handler's call) ends a run early; what was found so far still comes
out, and `HuntStats.stopped` says the run is partial.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from watchpost.alert_context import AlertContext
from watchpost.alert_merging import AlertMerging, MergeSettings
from watchpost.alerts import Alert
from watchpost.errors import InputNotFound, NoRunnableRules
from watchpost.hunting.byte_ranges import SPLIT_BYTES, split_sources
from watchpost.hunting.detection import Correlator, Detection, Detector, join_ranges
from watchpost.hunting.ruleset import RuleSet, load_ruleset
from watchpost.hunting.source_hunts import (
    Keyed,
    SourceMatcher,
    merge_problems,
    merged_matches,
    run_sources,
)
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.evtx import EVTX_MAGIC
from watchpost.rules.model import LoadProgress, level_rank
from watchpost.rules.selection import RuleSelection, select_rules


class Named(Protocol):
    """An input as statistics name it (`Source`, `SourceRef`)."""

    @property
    def name(self) -> str: ...


INTERLEAVE_AT_MOST = 256
"""Inputs read side by side at most (each holds an open file and its reader's state); beyond, or
beyond `INTERLEAVE_BYTES` of inputs whose reader may hold a whole document, inputs are matched one
after the other and alerts come out once all are read (same alerts, same order)."""
INTERLEAVE_BYTES = 512 << 20

@dataclass
class HuntOptions:
    """How to run a hunt. ``rules`` empty means the bundled T1049 pack; paths may be `str` or `Path`."""

    rules: Sequence[Path | str] = ()
    input_format: str | None = None
    min_level: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    placeholders: Path | str | None = None
    lateness: timedelta = timedelta(minutes=5)
    max_groups: int = 100_000
    jobs: int = 1
    """Worker processes matching sources in parallel (several files); alerts do not depend on it."""
    split_bytes: int = SPLIT_BYTES
    """With ``jobs`` > 1, JSON Lines and Sysmon for Linux syslog files of at least twice this size
    are matched in byte ranges of about this size by several workers (`byte_ranges`); 0: never."""
    strict: bool = False
    """Refuse to run (`NoRunnableRules`) when any rule cannot run, not only when none can."""
    host: str | None = None
    """The host of alerts whose events name none (`watchpost.alert_context`)."""
    merging: MergeSettings = field(default_factory=MergeSettings)
    """One alert per activity, exact repeats (`watchpost.alert_merging`)."""
    selection: RuleSelection | None = None
    """Which rules run (`watchpost.rules.selection`); None runs every rule loaded."""
    time_field: str | None = None
    """JSON input: the field each event's time is read from (`watchpost.readers.time_field`)."""


@dataclass
class HuntStats:
    """What a hunt read and raised, for the closing summary and the reports."""

    sources: int = 0
    sources_done: int = 0
    """Sources fully read and matched (the progress line shows done/total)."""
    sources_failed: int = 0
    events: int = 0
    events_in_range: int = 0
    undecoded: int = 0
    """Records counted in ``events`` that were never decoded: their raw text shows that no loaded
    rule can match them (EVTX: `readers.evtx.RecordSelection`; JSON Lines: `record_gates`)."""
    matches: int = 0
    found: int = 0
    """Matches of output rules (at or above ``min_level``) found in sources matched whole: alerts
    to come once their time order is settled (the progress line shows them). A lower bound: a
    source whose matches went to a spill file (`source_hunts.SPILL_AT`) adds none here."""
    alerts: int = 0
    alerts_by_level: Counter[str] = field(default_factory=Counter)
    alerts_by_rule: Counter[str] = field(default_factory=Counter)
    load_seconds: float = 0.0
    """Time spent loading (or compiling) the rules, apart from reading events."""
    started: float = field(default_factory=time.monotonic)
    """When reading began (after the rules were loaded)."""
    stopped: str | None = None
    """Why the run ended before reading everything (``"SIGINT"``, ``"SIGTERM"``, ...); None when
    it completed."""
    settled: datetime | None = None
    """Every alert about events up to this time has been yielded (the merge's watermark)."""
    unfinished: list[str] = field(default_factory=list)
    """Inputs not read to their end when the run stopped early (the first few)."""

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def complete(self) -> bool:
        return self.stopped is None


def bundled_pack() -> Path:
    """The folder of the bundled rule pack (package data)."""
    return Path(__file__).resolve().parent.parent / "packs"


class Hunt:
    """Rules loaded once; `run` may be called on several inputs.

    Raises `InputNotFound` for a rule path that does not exist and `NoRunnableRules` when no
    rule can run (any rule, with ``strict``); the rules' problems stay on ``problems``.
    ``progress`` is told how loading a large rule set goes (`progress.rule_load_progress`).
    """

    def __init__(self, options: HuntOptions | None = None, progress: LoadProgress | None = None) -> None:
        self.options = options or HuntOptions()
        self.problems = ProblemLog()
        self.stats = HuntStats()
        self._done_names: set[str] = set()
        rule_paths = [Path(path) for path in self.options.rules] or [bundled_pack()]
        for path in rule_paths:
            if not path.exists():
                raise InputNotFound(str(path), "rule")
        placeholders = self.options.placeholders
        loading = time.monotonic()
        self.ruleset: RuleSet = load_ruleset(
            rule_paths, placeholders=Path(placeholders) if placeholders is not None else None,
            progress=progress,
        )
        self.stats.load_seconds = time.monotonic() - loading
        if self.options.selection is not None:
            self._check_runnable()  # rules that could not load, before the filters
            chosen = self.options.selection.with_min_level(self.options.min_level)
            self.ruleset = select_rules(self.ruleset, chosen).ruleset
            if not self.ruleset.detections and not self.ruleset.correlations:
                raise NoRunnableRules("no rule is left after the rule filters", self.ruleset.problems,
                                      self.ruleset.report.notes)
        self.context = AlertContext(rule_paths, self.options.host)
        self.merging = AlertMerging(self.options.merging)
        for problem in self.ruleset.problems:
            self.problems.add("rule", problem.path, problem.rule, problem.reason)
        self._check_runnable()
        minimum = level_rank(self.options.min_level) if self.options.min_level else -1
        ruleset = self.ruleset
        self._shown = frozenset(
            key for key, rule in zip(ruleset.detection_ids(), ruleset.detections, strict=True)
            if rule.meta.id not in ruleset.hidden and level_rank(rule.meta.level) >= minimum
        )
        """Keys of the rules whose matches are alerts of their own (for `HuntStats.found`)."""

    def _check_runnable(self) -> None:
        ruleset, skipped = self.ruleset, self.ruleset.problems
        runnable = len(ruleset.detections) + len(ruleset.correlations)
        if runnable == 0:
            files = ruleset.report.files
            found = f"{files} rule file{'s' if files != 1 else ''} read" if files else "no rule file found"
            raise NoRunnableRules(f"no rule can run ({found}, {len(skipped)} could not be loaded)", skipped)
        if self.options.strict and skipped:
            raise NoRunnableRules(f"{len(skipped)} rules cannot run (strict)", skipped)

    def request_stop(self, reason: str) -> None:
        """End the current run early (safe from a signal handler): reading stops, correlation
        windows are flushed, and the alerts found so far still come out."""
        if self.stats.stopped is None:
            self.stats.stopped = reason

    def run(self, paths: Sequence[Path | str]) -> Iterator[Alert]:
        """Alerts from ``paths`` (files, directories, archives, ``-``), output rules only, with
        their context set, one per activity (`alert_merging`), filtered and counted.

        Raises `InputNotFound` at once for a path that does not exist. Alerts come out in time
        order as soon as it is settled, and are the same whatever ``jobs`` is.
        """
        given = [path if str(path) == "-" else Path(path) for path in paths]
        for path in given:
            if isinstance(path, Path) and not (path.exists() or path.is_symlink()):
                raise InputNotFound(str(path))
        return self._staged(self._run(given))

    def _staged(self, found: Iterator[Alert | datetime]) -> Iterator[Alert]:
        """The stages after correlation: context (`alert_context`), one alert per activity
        (`alert_merging`, released by the watermarks between the alerts), level filter, counts."""
        apply = self.context.apply
        in_context = (item if isinstance(item, datetime) else apply(item) for item in found)
        for alert in self.merging.alerts(in_context):
            yield from self._keep(alert)

    def _run(self, paths: Sequence[Path | str]) -> Iterator[Alert | datetime]:
        from watchpost.readers.registry import iter_sources

        options, stats = self.options, self.stats
        correlator = Correlator(self.ruleset, options.lateness, options.max_groups, self.problems)
        sources = list(iter_sources(paths, self.problems))
        stats.sources += len(sources)
        stats.started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="watchpost-") as spill_dir:
            detector = Detector(self.ruleset, options.input_format, options.since, options.until,
                                options.lateness, spill_dir, options.time_field)
            for item in correlator.stream(self._found(detector.matcher, sources)):
                stats.settled = correlator.settled
                yield item
        stats.settled = correlator.settled

    def _found(self, matcher: SourceMatcher, sources: Sequence[Source]) -> Iterator[Keyed]:
        """Every source's kept matches in merge order: read side by side when they are few
        enough (alerts stream), else matched whole one after the other or in ``jobs`` workers."""
        options = self.options
        if options.jobs <= 1 and interleavable(sources):
            streams = [self._counted(matcher, number, source) for number, source in enumerate(sources)]
            return self._until_stopped(heapq.merge(*streams), sources)
        units = (split_sources(list(sources), options.split_bytes, options.input_format)
                 if options.jobs > 1 else sources)
        return merged_matches(self._outcomes(matcher, units), matcher.spill_dir)

    def _until_stopped(self, found: Iterator[Keyed], sources: Sequence[Source]) -> Iterator[Keyed]:
        stats = self.stats
        for item in found:
            if stats.stopped is not None:
                self._note_unfinished(sources)
                return
            yield item

    def _note_unfinished(self, sources: Sequence[Named]) -> None:
        done = self._done_names
        self.stats.unfinished = [source.name for source in sources if source.name not in done][:20]

    def _counted(self, matcher: SourceMatcher, number: int, source: Source) -> Iterator[Keyed]:
        """One source's stream, counted into the hunt's statistics as it is read."""
        stats, problems = self.stats, self.problems
        events_before, problems_before = stats.events, problems.by_path[source.name]
        yield from matcher.stream(number, source, stats, problems)
        if stats.events == events_before and problems.by_path[source.name] > problems_before:
            stats.sources_failed += 1
        stats.sources_done += 1
        self._done_names.add(source.name)

    def _outcomes(self, matcher: SourceMatcher, sources: Sequence[Source]) -> Iterator[Detection]:
        """Each source's outcome, counted; no further source is started once a stop is asked."""
        stats = self.stats
        outcomes = run_sources(matcher, sources, self.options.jobs, lambda: stats.stopped is not None)
        yield from self._tallied(join_ranges(outcomes, self.options.lateness))
        if stats.stopped is not None:
            self._note_unfinished(sources)

    def correlate(self, detections: Iterable[Detection], sources: Sequence[Named]) -> Iterator[Alert]:
        """The alerts of ``detections`` made elsewhere (`watchpost.spark`: executors) of
        ``sources`` (anything with a ``name``: `SourceRef`s), in source order: counted,
        correlated and filtered as `run` does it, so the alerts are those of `run`. Reading
        stops at the next detection once a stop is asked."""
        return self._staged(self._correlated(detections, sources))

    def _correlated(self, detections: Iterable[Detection], sources: Sequence[Named]
                    ) -> Iterator[Alert | datetime]:
        stats = self.stats
        stats.started = time.monotonic()
        stats.sources += len({source.name for source in sources})
        options = self.options
        correlator = Correlator(self.ruleset, options.lateness, options.max_groups, self.problems)
        with tempfile.TemporaryDirectory(prefix="watchpost-") as spill_dir:
            joined = self._tallied(join_ranges(self._until_asked(detections, sources), options.lateness))
            for item in correlator.stream(merged_matches(joined, spill_dir)):
                stats.settled = correlator.settled
                yield item
        stats.settled = correlator.settled

    def _until_asked(self, detections: Iterable[Detection], sources: Sequence[Named]) -> Iterator[Detection]:
        for detection in detections:
            if self.stats.stopped is not None:
                self._note_unfinished(sources)
                return
            yield detection

    def _tallied(self, outcomes: Iterable[Detection]) -> Iterator[Detection]:
        """Each outcome, counted into the statistics, its problems into the hunt's."""
        stats = self.stats
        for outcome in outcomes:
            problems = outcome.problems
            if problems is not None:
                merge_problems(self.problems, problems)
                if outcome.events == 0 and problems.by_path[outcome.name] > 0 and outcome.parts == 1:
                    stats.sources_failed += 1
            stats.events += outcome.events
            stats.events_in_range += outcome.events_in_range
            stats.undecoded += outcome.undecoded
            stats.matches += outcome.matches
            stats.found += sum(1 for item in outcome.found if item[3] in self._shown)
            if outcome.complete and outcome.part == outcome.parts - 1:
                stats.sources_done += 1
                self._done_names.add(outcome.name)
            yield outcome

    def _keep(self, alert: Alert) -> Iterator[Alert]:
        minimum = self.options.min_level
        if minimum is not None and level_rank(alert.rule.level) < level_rank(minimum):
            return
        self.stats.alerts += 1
        self.stats.alerts_by_level[alert.rule.level] += 1
        self.stats.alerts_by_rule[alert.rule.title] += 1
        yield alert


def interleavable(sources: Sequence[Source]) -> bool:
    """Whether ``sources`` can be read side by side within `INTERLEAVE_AT_MOST` open inputs and
    `INTERLEAVE_BYTES` of inputs that may be read whole (anything but EVTX)."""
    if len(sources) > INTERLEAVE_AT_MOST:
        return False
    whole = 0
    for source in sources:
        if source.path is None or getattr(source, "head", b"")[:len(EVTX_MAGIC)] == EVTX_MAGIC:
            continue
        try:
            whole += os.stat(source.path).st_size
        except OSError:
            continue
    return whole <= INTERLEAVE_BYTES


def hunt(
    paths: Sequence[Path | str],
    rules: Sequence[Path | str] = (),
    **options: object,
) -> Iterator[Alert]:
    """Run ``rules`` (default: the bundled T1049 pack) over ``paths`` and yield alerts.

    Raises `InputNotFound` for a path that does not exist and `NoRunnableRules` when no rule
    can run.

    >>> for alert in hunt(["logs/"], rules=["my_rules/"]):      # doctest: +SKIP
    ...     print(alert.rule.title, alert.host, alert.timestamp)
    """
    settings = HuntOptions(rules=list(rules), **options)  # type: ignore[arg-type]
    return Hunt(settings).run(paths)
