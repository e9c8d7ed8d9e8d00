"""Rule test events: ``X.tests.yml`` beside a rule file ``X.yml`` (format: docs/rule-pack.md).

A test file has two lists, ``positive`` (each case must raise at least one alert) and ``negative``
(no case may raise one). A case is one event (a mapping with ``fields``) or ``events:`` (a list of
them, for correlations); each event has ``fields`` (the flat fields a reader would produce),
optionally ``logsource`` (``product``/``service``/``category``; default ``product: windows``) and
``timestamp`` (ISO 8601; default: one second after the case's previous event, the first at
2024-01-01T00:00:00Z). A case may have a ``name``.

For Windows events the ``logsource.service`` is a shorthand for the ``Channel`` field (``security``
-> ``Security``, ``sysmon`` -> ``Microsoft-Windows-Sysmon/Operational``...) when the fields do not
name one; the event's hint is ``product: windows`` only, as the Windows readers set it. Other
products get the hint as written (``product: linux, category: process_creation`` is what the
auditd reader gives its derived events).

Each case runs alone against the rules of its rule file only (the base rules of a correlation
live in the same file), through the same index and correlation engine as ``watchpost hunt``.
Bad test files (unreadable YAML, a case without fields, a bad timestamp) are reported with the
file and the case, and the other cases still run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from watchpost.alerts import Alert
from watchpost.events import Event, LogsourceHint, Origin
from watchpost.hunting.ruleset import RuleSet, load_ruleset
from watchpost.matching.model import Match

TESTS_SUFFIX = ".tests.yml"
RULE_SUFFIXES = (".yml", ".yaml")
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
WINDOWS_CHANNELS = {
    "security": "Security",
    "system": "System",
    "application": "Application",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "powershell": "Microsoft-Windows-PowerShell/Operational",
    "powershell-classic": "Windows PowerShell",
}
KINDS = ("positive", "negative")


@dataclass(frozen=True, slots=True)
class TestEvent:
    """One event of a case, as the engine will see it."""

    fields: dict[str, Any]
    timestamp: datetime
    logsource: LogsourceHint


@dataclass(frozen=True, slots=True)
class TestCase:
    """A positive (must alert) or negative (must not alert) case; ``place`` is ``positive[0]``."""

    place: str
    name: str
    expect_alert: bool
    events: tuple[TestEvent, ...]

    @property
    def label(self) -> str:
        return f"{self.place} {self.name}".strip()


@dataclass
class RuleTestFile:
    """The cases of one test file and the problems met reading it."""

    path: Path
    rule_path: Path
    cases: list[TestCase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for case in self.cases if case.place.startswith(kind))


@dataclass(frozen=True, slots=True)
class CaseResult:
    """How one case (or a test file that could not run) went."""

    path: Path
    case: str
    passed: bool
    alerts: int
    reason: str

    def describe(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        detail = f": {self.reason}" if self.reason else ""
        return f"{verdict} {self.path} {self.case}{detail}"


class CaseError(ValueError):
    """A case that cannot be read; the message says why."""


def rule_path_for(tests_path: Path) -> Path:
    """The rule file a test file tests: ``X.tests.yml`` -> ``X.yml`` (or ``X.yaml``)."""
    stem = tests_path.name[: -len(TESTS_SUFFIX)]
    for suffix in RULE_SUFFIXES:
        candidate = tests_path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return tests_path.with_name(stem + ".yml")


def tests_path_for(rule_path: Path) -> Path:
    """The test file of a rule file: ``X.yml`` -> ``X.tests.yml``."""
    return rule_path.with_name(rule_path.stem + TESTS_SUFFIX)


def is_tests_file(path: Path) -> bool:
    return path.name.endswith(TESTS_SUFFIX)


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """Test files under folders (recursive, sorted), named directly, or beside named rule files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*" + TESTS_SUFFIX) if p.is_file()))
        elif is_tests_file(path):
            found.append(path)
        elif tests_path_for(path).exists():
            found.append(tests_path_for(path))
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def find_rule_files(paths: Sequence[Path]) -> list[Path]:
    """Rule files (not test files) under folders or named directly."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            candidates = [path]
        found.extend(p for p in candidates if not is_tests_file(p) and not _hidden(p, path))
    return found


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return any(part.startswith(".") for part in parts)


def untested_rules(paths: Sequence[Path]) -> list[str]:
    """Rule files under ``paths`` without a test file holding a positive and a negative case."""
    missing: list[str] = []
    for rule in find_rule_files(paths):
        tests = tests_path_for(rule)
        if not tests.exists():
            missing.append(f"{rule}: no test file {tests.name}")
            continue
        loaded = load_test_file(tests)
        for kind in KINDS:
            if loaded.count(kind) == 0:
                missing.append(f"{rule}: {tests.name} has no {kind} case")
    return missing


def load_test_file(path: Path) -> RuleTestFile:
    """The cases of ``path``; unreadable parts become problems naming the file and the case."""
    loaded = RuleTestFile(path, rule_path_for(path))
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        loaded.problems.append(f"cannot read the test file: {' '.join(str(error).split())}")
        return loaded
    if not isinstance(document, dict):
        loaded.problems.append("a test file is a mapping with 'positive' and 'negative' lists")
        return loaded
    unknown = sorted(str(key) for key in document if key not in (*KINDS, "rule", "description"))
    if unknown:
        loaded.problems.append(f"unknown keys {unknown} (expected 'positive', 'negative')")
    if isinstance(document.get("rule"), str):
        loaded.rule_path = path.parent / document["rule"]
    for kind in KINDS:
        items = document.get(kind) or []
        if not isinstance(items, list):
            loaded.problems.append(f"'{kind}' must be a list of cases")
            continue
        for number, item in enumerate(items):
            place = f"{kind}[{number}]"
            try:
                loaded.cases.append(read_case(item, place, kind == "positive"))
            except CaseError as error:
                loaded.problems.append(f"{place}: {error}")
    return loaded


def read_case(item: Any, place: str, expect_alert: bool) -> TestCase:
    if not isinstance(item, dict):
        raise CaseError("a case is a mapping (one event, or 'events:' with a list of them)")
    name = str(item.get("name") or "")
    raw_events = item.get("events", [item])
    if not isinstance(raw_events, list) or not raw_events:
        raise CaseError("'events' must be a non-empty list")
    events: list[TestEvent] = []
    moment = DEFAULT_START - timedelta(seconds=1)
    for position, raw in enumerate(raw_events):
        try:
            event = read_event(raw, moment + timedelta(seconds=1))
        except CaseError as error:
            raise CaseError(f"event {position}: {error}" if "events" in item else str(error)) from None
        events.append(event)
        moment = event.timestamp
    return TestCase(place, name, expect_alert, tuple(events))


def read_event(raw: Any, default_time: datetime) -> TestEvent:
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
        raise CaseError("an event needs 'fields' (a mapping of field names to values)")
    fields = {str(key): value for key, value in raw["fields"].items()}
    timestamp = read_timestamp(raw.get("timestamp"), default_time)
    source = raw.get("logsource") or {}
    if not isinstance(source, dict):
        raise CaseError("'logsource' must be a mapping (product, service, category)")
    product = str(source.get("product", "windows")).lower()
    service = str(source["service"]).lower() if source.get("service") else None
    category = str(source["category"]).lower() if source.get("category") else None
    if product == "windows":
        channel = WINDOWS_CHANNELS.get(service or "")
        if channel is not None and "Channel" not in fields:
            fields["Channel"] = channel
        return TestEvent(fields, timestamp, LogsourceHint(product="windows"))
    return TestEvent(fields, timestamp, LogsourceHint(product, service, category))


def read_timestamp(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CaseError(f"timestamp {value!r} is not ISO 8601") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def events_of(case: TestCase, source: Path) -> list[Event]:
    """The case's events in time order, each with an origin naming the test file and case."""
    built = [
        Event(
            item.timestamp,
            dict(item.fields),
            Origin(f"{source}#{case.place}", index + 1, "element"),
            item.logsource,
        )
        for index, item in enumerate(case.events)
    ]
    return sorted(built, key=lambda event: event.timestamp)


def alerts_over(ruleset: RuleSet, events: Iterable[Event]) -> list[Alert]:
    """Every output alert ``ruleset`` raises over ``events`` (matching, then correlation)."""
    from watchpost.correlation import CorrelationEngine

    correlation = CorrelationEngine(ruleset.correlations)
    alerts: list[Alert] = []
    for event in events:
        for rule in ruleset.index.match(event):
            if rule.meta.id not in ruleset.hidden:
                alerts.append(Alert(rule.meta, event.timestamp, (event,), (rule.meta.id,)))
            if rule.meta.id in ruleset.correlated_ids:
                alerts.extend(correlation.feed(Match(rule.meta, event)))
    alerts.extend(correlation.flush())
    return alerts


def run_test_file(loaded: RuleTestFile, ruleset: RuleSet | None = None) -> list[CaseResult]:
    """Run every case of ``loaded``; problems of the file or its rule are failed results."""
    results = [CaseResult(loaded.path, "-", False, 0, problem) for problem in loaded.problems]
    if not loaded.rule_path.exists():
        results.append(CaseResult(loaded.path, "-", False, 0, f"no rule file {loaded.rule_path.name}"))
        return results
    if ruleset is None:
        ruleset = load_ruleset([loaded.rule_path])
    if ruleset.problems:
        reasons = "; ".join(problem.describe() for problem in ruleset.problems)
        results.append(CaseResult(loaded.path, "-", False, 0, f"the rule cannot run: {reasons}"))
        return results
    for case in loaded.cases:
        alerts = alerts_over(ruleset, events_of(case, loaded.path))
        passed = bool(alerts) == case.expect_alert
        reason = (
            ""
            if passed
            else (
                "no alert was raised"
                if case.expect_alert
                else f"{len(alerts)} alert(s) raised: " + ", ".join(sorted({a.rule.title for a in alerts}))
            )
        )
        results.append(CaseResult(loaded.path, case.label, passed, len(alerts), reason))
    return results


def run_rule_tests(paths: Sequence[Path]) -> Iterator[CaseResult]:
    """Results of every test file found under ``paths`` (see `find_test_files`)."""
    for path in find_test_files(paths):
        yield from run_test_file(load_test_file(path))
