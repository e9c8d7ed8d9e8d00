"""Builders shared by the correlation tests: rules from YAML, events, matches, a run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from watchpost.alerts import Alert
from watchpost.correlation import (
    CorrelationEngine,
    CorrelationSpec,
    compile_correlations,
    split_range_condition,
)
from watchpost.events import Event, Origin
from watchpost.matching import compile_rule_condition
from watchpost.matching.model import Match, Matcher
from watchpost.problems import ProblemLog
from watchpost.rules.meta import describe_rule
from watchpost.rules.model import RuleMeta, RuleProblem

T0 = datetime(2024, 5, 6, 10, 0, 0, tzinfo=UTC)
RULE_PATH = Path("rules/test.yml")


@dataclass
class Loaded:
    """Detection rules (by name, else title) and compiled correlations of one YAML text."""

    detections: dict[str, RuleMeta]
    specs: list[CorrelationSpec]
    problems: list[RuleProblem]
    by_title: dict[str, CorrelationSpec] = field(default_factory=dict)
    matchers: dict[str, Matcher] = field(default_factory=dict)

    def rule(self, name: str) -> RuleMeta:
        return self.detections[name]

    def spec(self, title: str) -> CorrelationSpec:
        return self.by_title[title]

    def matches(self, one: Event) -> list[Match]:
        """The detection rules (compiled by the real matcher) that ``one`` matches."""
        return [
            Match(self.detections[name], one)
            for name, matcher in self.matchers.items()
            if matcher.matches(one)
        ]


def load(text: str) -> Loaded:
    """Parse ``text`` (multi-document Sigma YAML) as the loader would, range conditions included."""
    documents: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        documents.extend(split_range_condition(document, RULE_PATH))
    collection = SigmaCollection.from_dicts(documents, resolve_references=False)
    rules = [rule for rule in collection if isinstance(rule, SigmaRule)]
    detections = [describe_rule(rule, RULE_PATH) for rule in rules]
    correlations = [(rule, RULE_PATH) for rule in collection if isinstance(rule, SigmaCorrelationRule)]
    specs, problems = compile_correlations(correlations, detections)
    named = {meta.name or meta.title: meta for meta in detections}
    matchers = {
        meta.name or meta.title: compile_rule_condition(rule)
        for meta, rule in zip(detections, rules, strict=True)
    }
    return Loaded(named, specs, problems, {spec.meta.title: spec for spec in specs}, matchers)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


_records = iter(range(1, 10**9))


def event(seconds: float, record: int | None = None, path: str = "logs/test.log", **fields: Any) -> Event:
    return Event(at(seconds), dict(fields), Origin(path, next(_records) if record is None else record))


def match(rule: RuleMeta, seconds: float, **fields: Any) -> Match:
    return Match(rule, event(seconds, **fields))


def run(
    specs: Iterable[CorrelationSpec],
    matches: Iterable[Match],
    lateness: timedelta = timedelta(0),
    max_groups: int = 1000,
    problems: ProblemLog | None = None,
) -> list[Alert]:
    """Feed ``matches`` in the given order, then flush; every alert, in emission order."""
    engine = CorrelationEngine(
        list(specs), lateness, max_groups, problems if problems is not None else ProblemLog()
    )
    alerts: list[Alert] = []
    for one in matches:
        alerts.extend(engine.feed(one))
    alerts.extend(engine.flush())
    return alerts


def records(alert: Alert) -> list[int | None]:
    return [e.origin.record for e in alert.events]


def seconds_of(alert: Alert) -> list[float]:
    return [(e.timestamp - T0).total_seconds() for e in alert.events]
