"""The short wire from readers to sinks: read events, match rules, correlate, yield alerts.

    readers -> events -> matching -> correlation -> alerts -> (the caller's sinks)

`Hunt` is the reusable object (rules loaded once, statistics and problems kept); `hunt()` is the
one-call API.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from watchpost.alerts import Alert
from watchpost.events import Event
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.rules.model import level_rank
from watchpost.ruleset import RuleSet, load_ruleset


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


@dataclass
class HuntStats:
    """What a hunt read and raised, for the closing summary."""

    sources: int = 0
    sources_failed: int = 0
    events: int = 0
    events_in_range: int = 0
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
        for problem in self.ruleset.problems:
            self.problems.add("rule", problem.path, problem.rule, problem.reason)

    def run(self, paths: Sequence[Path | str]) -> Iterator[Alert]:
        """Alerts from ``paths`` (files, directories, archives, ``-``), output rules only."""
        from watchpost.correlation import CorrelationEngine

        ruleset = self.ruleset
        correlating = ruleset.correlated_ids
        correlation = CorrelationEngine(
            ruleset.correlations, self.options.lateness, self.options.max_groups, self.problems
        )
        for event in self._events(paths):
            for rule in ruleset.index.match(event):
                self.stats.matches += 1
                if rule.meta.id not in ruleset.hidden:
                    yield from self._keep(Alert(rule.meta, event.timestamp, (event,), (rule.meta.id,)))
                if rule.meta.id in correlating:
                    for alert in correlation.feed(Match(rule.meta, event)):
                        yield from self._keep(alert)
        for alert in correlation.flush():
            yield from self._keep(alert)

    def _events(self, paths: Sequence[Path | str]) -> Iterator[Event]:
        from watchpost.readers.registry import iter_sources, read_source

        streams: list[Iterator[Event]] = []
        for source in iter_sources([Path(p) if p != "-" else "-" for p in paths], self.problems):
            self.stats.sources += 1
            events = read_source(source, self.problems, self.options.input_format)
            streams.append(self._counted(source.name, events))
        merged: Iterable[Event] = heapq.merge(*streams, key=lambda e: e.timestamp) if streams else ()
        since, until = self.options.since, self.options.until
        for event in merged:
            moment = event.timestamp
            if (since is not None and moment < since) or (until is not None and moment > until):
                continue
            self.stats.events_in_range += 1
            yield event

    def _counted(self, name: str, events: Iterator[Event]) -> Iterator[Event]:
        """Count events; a source that gave none and left a problem counts as failed."""
        problems_before = self.problems.by_path[name]
        count = 0
        for event in events:
            count += 1
            self.stats.events += 1
            yield event
        if count == 0 and self.problems.by_path[name] > problems_before:
            self.stats.sources_failed += 1

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
