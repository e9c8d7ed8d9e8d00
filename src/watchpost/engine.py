"""The short wire from readers to sinks: read events, match rules, correlate, yield alerts.

    readers -> events -> matching -> correlation -> alerts -> (the caller's sinks)

`Hunt` is the reusable object (rules loaded once, statistics and problems kept); `hunt()` is the
one-call API.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from watchpost.alerts import Alert
from watchpost.events import Event
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.rules.model import level_rank
from watchpost.rules.selection import RuleSelection, select_rules
from watchpost.ruleset import RuleSet, load_ruleset
from watchpost.source_hunts import (
    SourceMatcher,
    SourceOutcome,
    merge_problems,
    merged_matches,
    run_sources,
)

if TYPE_CHECKING:
    from watchpost.correlation import CorrelationEngine


@dataclass
class HuntOptions:
    """How to run a hunt. ``rules`` empty means the bundled T1049 pack."""

    rules: Sequence[Path] = ()
    input_format: str | None = None
    min_level: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    placeholders: Path | None = None
    lateness: timedelta = timedelta(minutes=5)
    max_groups: int = 100_000
    jobs: int = 1
    """Worker processes matching sources in parallel (several files); alerts do not depend on it."""
    selection: RuleSelection | None = None
    """Which rules run (`watchpost.rules.selection`); None runs every rule loaded."""
    time_field: str | None = None
    """JSON input: the field each event's time is read from (`watchpost.readers.time_field`)."""


@dataclass
class HuntStats:
    """What a hunt read and raised, for the closing summary."""

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
    alerts: int = 0
    alerts_by_level: Counter[str] = field(default_factory=Counter)
    alerts_by_rule: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def bundled_pack() -> Path:
    """The folder of the bundled rule pack (package data)."""
    return Path(__file__).resolve().parent / "packs"


class Hunt:
    """Rules loaded once; `run` may be called on several inputs."""

    def __init__(self, options: HuntOptions | None = None) -> None:
        self.options = options or HuntOptions()
        self.problems = ProblemLog()
        self.stats = HuntStats()
        rule_paths = list(self.options.rules) or [bundled_pack()]
        self.ruleset: RuleSet = load_ruleset(rule_paths, placeholders=self.options.placeholders)
        if self.options.selection is not None:
            chosen = self.options.selection.with_min_level(self.options.min_level)
            self.ruleset = select_rules(self.ruleset, chosen).ruleset
        for problem in self.ruleset.problems:
            self.problems.add("rule", problem.path, problem.rule, problem.reason)

    def run(self, paths: Sequence[Path | str]) -> Iterator[Alert]:
        """Alerts from ``paths`` (files, directories, archives, ``-``), output rules only.

        One source is matched as it is read. Several sources are matched one by one (or by
        ``jobs`` worker processes) and their matches merged by timestamp before correlation:
        alerts come out in time order and are the same whatever ``jobs`` is.
        """
        from watchpost.correlation import CorrelationEngine
        from watchpost.readers.registry import iter_sources

        correlation = CorrelationEngine(
            self.ruleset.correlations, self.options.lateness, self.options.max_groups, self.problems
        )
        sources = list(iter_sources([Path(p) if p != "-" else "-" for p in paths], self.problems))
        self.stats.sources += len(sources)
        with tempfile.TemporaryDirectory(prefix="watchpost-") as spill_dir:
            options = self.options
            matcher = SourceMatcher(
                self.ruleset, options.input_format, options.since, options.until, spill_dir,
                options.time_field,
            )
            if len(sources) == 1:
                found = self._streamed(matcher, sources[0])
            else:
                found = merged_matches(self._outcomes(matcher, sources), spill_dir)
            for position, event in found:
                yield from self._alerts(position, event, correlation)
        for alert in correlation.flush():
            yield from self._keep(alert)

    def _alerts(self, position: int, event: Event, correlation: CorrelationEngine) -> Iterator[Alert]:
        ruleset = self.ruleset
        rule = ruleset.detections[position]
        if rule.meta.id not in ruleset.hidden:
            yield from self._keep(Alert(rule.meta, event.timestamp, (event,), (rule.meta.id,)))
        if rule.meta.id in ruleset.correlated_ids:
            for alert in correlation.feed(Match(rule.meta, event)):
                yield from self._keep(alert)

    def _streamed(self, matcher: SourceMatcher, source: Source) -> Iterator[tuple[int, Event]]:
        """The kept matches of one source as it is read (nothing held back)."""
        events, selection = matcher.events(source, self.problems)
        problems_before = self.problems.by_path[source.name]
        stats, match, positions, kept = self.stats, self.ruleset.index.match, matcher.positions, matcher.kept
        count = 0
        for event in events:
            count += 1
            stats.events += 1
            if not matcher.in_range(event):
                continue
            stats.events_in_range += 1
            for rule in match(event):
                stats.matches += 1
                position = positions[id(rule)]
                if position in kept:
                    yield position, event
        if selection is not None:
            count += selection.skipped
            stats.events += selection.skipped
            stats.events_in_range += selection.skipped
            stats.undecoded += selection.skipped
        if count == 0 and self.problems.by_path[source.name] > problems_before:
            stats.sources_failed += 1
        stats.sources_done += 1

    def _outcomes(self, matcher: SourceMatcher, sources: Sequence[Source]) -> Iterator[SourceOutcome]:
        """Each source's outcome, counted."""
        stats = self.stats
        for outcome in run_sources(matcher, sources, self.options.jobs):
            problems = outcome.problems
            if problems is not None:
                merge_problems(self.problems, problems)
                if outcome.events == 0 and problems.by_path[outcome.name] > 0:
                    stats.sources_failed += 1
            stats.events += outcome.events
            stats.events_in_range += outcome.in_range
            stats.undecoded += outcome.undecoded
            stats.matches += outcome.matches
            stats.sources_done += 1
            yield outcome

    def _keep(self, alert: Alert) -> Iterator[Alert]:
        minimum = self.options.min_level
        if minimum is not None and level_rank(alert.rule.level) < level_rank(minimum):
            return
        self.stats.alerts += 1
        self.stats.alerts_by_level[alert.rule.level] += 1
        self.stats.alerts_by_rule[alert.rule.title] += 1
        yield alert


def hunt(
    paths: Sequence[Path | str],
    rules: Sequence[Path | str] = (),
    **options: object,
) -> Iterator[Alert]:
    """Run ``rules`` (default: the bundled T1049 pack) over ``paths`` and yield alerts.

    >>> for alert in hunt(["logs/"], rules=["my_rules/"]):      # doctest: +SKIP
    ...     print(alert.rule.title, alert.host, alert.timestamp)
    """
    settings = HuntOptions(rules=[Path(r) for r in rules], **options)  # type: ignore[arg-type]
    return Hunt(settings).run(paths)
