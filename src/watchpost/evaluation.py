"""Measured detection quality: the pack over labelled emulation and labelled real events.

``watchpost evaluate`` (`watchpost.commands.evaluate`) runs the rules over

- a fresh emulation (`watchpost.simulation`: every scenario plus benign background with its near
  misses), scored against the simulation's ``labels.csv``; and
- the real sample logs labelled in ``../shared/samples/LABELS.csv``, each file hunted on its own;

and reports, per scenario, per rule and per labelled real event, what was found and what was not.

Scoring (docs/DETECTION.md):

- an alert *covers* a record when the record is one of the alert's events (its origin file and
  place); a correlation covers all the events behind it;
- a positive *action* (``activity`` in the labels: one command, one API-call sequence) is detected
  when an alert covers one of its positive records; recall is over actions, and the share of
  positive records covered is shown too;
- an alert is a true positive when it covers a positive or companion record, "context" when it
  covers only context records (attack activity that is not T1049, e.g. a whoami burst), and a
  false positive otherwise (near misses and unlabelled background);
- a *trap* scenario (``trap-*``: benign collectors such as the Azure guest agent or
  gatherNetworkInfo.vbs) has only negative records; every alert covering one of them is a false
  positive, counted per trap;
- a labelled real event is ``yes`` (must be covered), ``companion`` (must be covered with its
  positive, e.g. the 4689 of the splunk NETSTAT.EXE), ``no`` (no alert may cover it) or
  ``ambiguous`` (the pack's policy decides; docs/rule-pack.md: mappings and target-side 5145
  events are not alerted).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watchpost.alerts import Alert
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.simulation.records import COMPANION, CONTEXT, NEGATIVE, POSITIVE

AMBIGUOUS_POLICY = "no alert"
"""What the pack does with LABELS.csv's ambiguous rows (share mappings, 5145 target side)."""

PlaceKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One row of a simulation's labels.csv."""

    log: str
    place: int
    scenario: str
    activity: str
    label: str
    note: str


@dataclass
class ScenarioScore:
    name: str
    actions: set[str] = field(default_factory=set)
    detected: set[str] = field(default_factory=set)
    positive_records: int = 0
    covered_records: int = 0
    tp_alerts: int = 0
    context_alerts: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def missed(self) -> list[str]:
        return sorted(self.actions - self.detected)


@dataclass
class RuleScore:
    title: str
    level: str
    file: str
    tp: int = 0
    context: int = 0
    fp: int = 0
    scenarios: set[str] = field(default_factory=set)


@dataclass
class TrapScore:
    """A benign trap scenario: its records and the alerts that covered any of them."""

    name: str
    records: int = 0
    alerts: int = 0
    rules: Counter[str] = field(default_factory=Counter)


TRAP_PREFIX = "trap-"


@dataclass
class EmulationReport:
    scenarios: dict[str, ScenarioScore] = field(default_factory=dict)
    rules: dict[str, RuleScore] = field(default_factory=dict)
    near_misses: Counter[str] = field(default_factory=Counter)
    near_misses_alerted: Counter[str] = field(default_factory=Counter)
    false_positives: list[Alert] = field(default_factory=list)
    traps: dict[str, TrapScore] = field(default_factory=dict)
    records: int = 0
    background: int = 0

    @property
    def recall(self) -> float:
        actions = sum(len(s.actions) for s in self.scenarios.values())
        detected = sum(len(s.detected) for s in self.scenarios.values())
        return detected / actions if actions else 1.0


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One row of ../shared/samples/LABELS.csv."""

    path: str
    event_id: int
    record_id: int | None
    time: str
    host: str
    text: str
    expected: str
    category: str


@dataclass(frozen=True, slots=True)
class SampleResult:
    row: SampleRow
    rules: tuple[str, ...]

    @property
    def passed(self) -> bool:
        expected = self.row.expected
        if expected in ("yes", "companion"):
            return bool(self.rules)
        return not self.rules  # "no", and "ambiguous" under the pack's policy (no alert)


@dataclass
class SamplesReport:
    results: list[SampleResult] = field(default_factory=list)
    other_alerts: Counter[str] = field(default_factory=Counter)  # rule title -> alerts on unlabelled events

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)


def read_labels(path: Path) -> list[LabelRow]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [
            LabelRow(
                row["log"], int(row["place"]), row["scenario"], row["activity"], row["label"], row["note"]
            )
            for row in csv.DictReader(stream)
        ]


def hunt_alerts(paths: Sequence[Path], rules: Sequence[Path] = ()) -> list[Alert]:
    return list(Hunt(HuntOptions(rules=list(rules))).run(list(paths)))


def covered_places(alert: Alert, root: Path) -> set[PlaceKey]:
    """The (log relative to ``root``, place) of every event behind ``alert``."""
    found: set[PlaceKey] = set()
    for event in alert.events:
        origin = event.origin
        if origin.record is None:
            continue
        try:
            relative = Path(origin.path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        found.add((relative, origin.record))
    return found


def score_emulation(root: Path, alerts: Iterable[Alert], labels: Sequence[LabelRow]) -> EmulationReport:
    """Score ``alerts`` raised over the simulation folder ``root`` against its labels."""
    report = EmulationReport()
    by_place = {(row.log, row.place): row for row in labels}
    for row in labels:
        if row.label == NEGATIVE and row.scenario.startswith(TRAP_PREFIX):
            report.traps.setdefault(row.scenario, TrapScore(row.scenario)).records += 1
        if row.label == NEGATIVE:
            report.near_misses[row.activity] += 1
            continue
        score = report.scenarios.setdefault(row.scenario, ScenarioScore(row.scenario))
        if row.label == POSITIVE:
            score.actions.add(row.activity)
            score.positive_records += 1
    covered: set[PlaceKey] = set()
    for alert in alerts:
        places = covered_places(alert, root)
        covered |= places
        rows = [by_place[place] for place in places if place in by_place]
        kinds = {row.label for row in rows}
        rule = report.rules.setdefault(
            alert.rule.id, RuleScore(alert.rule.title, alert.rule.level, Path(alert.rule.path).name)
        )
        scenario_names = {row.scenario for row in rows if row.label != NEGATIVE}
        if kinds & {POSITIVE, COMPANION}:
            rule.tp += 1
        elif CONTEXT in kinds:
            rule.context += 1
        else:
            rule.fp += 1
            report.false_positives.append(alert)
        for name in scenario_names:
            score = report.scenarios[name]
            rule.scenarios.add(name)
            score.rules[alert.rule.title] += 1
            if kinds & {POSITIVE, COMPANION}:
                score.tp_alerts += 1
            else:
                score.context_alerts += 1
            for row in rows:
                if row.scenario == name and row.label == POSITIVE:
                    score.detected.add(row.activity)
        for row in rows:
            if row.label == NEGATIVE:
                report.near_misses_alerted[row.activity] += 1
        for name in {row.scenario for row in rows if row.label == NEGATIVE and row.scenario in report.traps}:
            report.traps[name].alerts += 1
            report.traps[name].rules[alert.rule.title] += 1
    for row in labels:
        if row.label == POSITIVE and (row.log, row.place) in covered:
            report.scenarios[row.scenario].covered_records += 1
    return report


def read_sample_labels(path: Path) -> list[SampleRow]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [
            SampleRow(
                row["path"],
                int(row["event_id"]),
                int(row["record_id"]) if row["record_id"] else None,
                row["time_created"],
                row["host"],
                row["text"],
                row["expected_t1049"],
                row["category"],
            )
            for row in csv.DictReader(stream)
        ]


def matches_row(alert: Alert, row: SampleRow, file: Path) -> bool:
    """True when one of the alert's events is the labelled event (by record id, else by time and id)."""
    moment = datetime.fromisoformat(row.time.replace("Z", "+00:00"))
    for event in alert.events:
        if not event.origin.path.endswith(row.path.split("/")[-1]):
            continue
        if row.record_id is not None and event.origin.record == row.record_id:
            return True
        if (
            row.record_id is None
            and str(event.fields.get("EventID")) == str(row.event_id)
            and abs((event.timestamp - moment).total_seconds()) < 0.001
        ):
            return True
    return False


def score_samples(samples: Path, rules: Sequence[Path] = ()) -> SamplesReport:
    """Hunt each labelled sample file on its own and check each labelled row."""
    rows = read_sample_labels(samples / "LABELS.csv")
    report = SamplesReport()
    by_file: dict[str, list[SampleRow]] = defaultdict(list)
    for row in rows:
        by_file[row.path.split("!")[0]].append(row)
    for relative, file_rows in by_file.items():
        file = samples / relative
        alerts = hunt_alerts([file], rules)
        claimed: set[int] = set()
        for row in file_rows:
            hits = [index for index, alert in enumerate(alerts) if matches_row(alert, row, file)]
            claimed.update(hits)
            report.results.append(SampleResult(row, tuple(sorted({alerts[i].rule.title for i in hits}))))
        for index, alert in enumerate(alerts):
            if index not in claimed:
                report.other_alerts[alert.rule.title] += 1
    order = {row: index for index, row in enumerate(rows)}
    report.results.sort(key=lambda result: order[result.row])
    return report
