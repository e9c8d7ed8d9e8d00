"""What the semantic tests share: the pack's test cases as one table of events, and alert groups.

Each `.tests.yml` of the pack holds cases (a few events each) for one rule file. The engine's
alerts come from `watchpost.ruletests.alerts_over`, as `watchpost rules test` and `watchpost hunt`
raise them; the same events go into one SQL table, each case moved to a day of its own so that
no window of one case reaches another, and the converted queries run over it. Both sides are reduced to
*alert groups*: for a detection rule the events it matched, for a correlation the groups
(group-by values as the engine compares them: lower-cased text, process ids as decimal numbers)
that alerted in each case.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT
from watchpost.correlation.keys import is_pid_field, normalise_key
from watchpost.hunting.ruleset import load_ruleset
from watchpost.ruletests import alerts_over, events_of, find_test_files, load_test_file

PACK = PROJECT / "src" / "watchpost" / "packs" / "t1049"
CORRELATION_FIXTURES = PROJECT / "tests" / "fixtures" / "convert" / "correlations"
"""One rule file per correlation type (and an upper bound), with cases: what the pack lacks."""
CASE_GAP = timedelta(days=1)
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
"""Case n starts at BASE_TIME + n days: no window (10 minutes at most) reaches the next case."""
EVENT_COLUMN = "sigma_event"
TIME_COLUMN = "timestamp"

SECURITY_4688 = (
    "watchpost also runs process_creation rules on Security 4688 events through its security_audit "
    "logsource pipeline (Image -> NewProcessName, ParentImage -> ParentProcessName, ...); a query "
    "converted without a pipeline reads Sigma's (Sysmon) names only")
NO_LOGSOURCE = (
    "a query converted without a pipeline has no logsource condition: the same text in another "
    "channel matches, where watchpost admits a rule's events by logsource")
UNNAMED_DATA = (
    "event 800 writes several unnamed <Data> elements: watchpost keeps them as a list and a rule "
    "matches when one of them does; a SQL column holds one value, so this harness leaves list "
    "values out of the table (as a flat SIEM schema would have to choose one) and the query finds "
    "no `Data` to read")
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("proc_creation_win_net_use_session.tests.yml", "positive[0]"): SECURITY_4688,
    ("proc_creation_win_net_use_session.tests.yml", "positive[3]"): SECURITY_4688,
    ("proc_creation_win_net_use_session.tests.yml", "positive[4]"): SECURITY_4688,
    ("proc_creation_win_netstat.tests.yml", "positive[0]"): SECURITY_4688,
    ("proc_creation_win_netstat.tests.yml", "positive[3]"): SECURITY_4688,
    ("proc_creation_win_qwinsta_query_session.tests.yml", "positive[1]"): SECURITY_4688,
    ("ps_module_win_t1049_cmdlet_invocation.tests.yml", "negative[2]"): NO_LOGSOURCE,
    ("ps_classic_script_win_t1049_cmdlet_invocation.tests.yml", "positive[0]"): UNNAMED_DATA,
    ("ps_classic_script_win_t1049_cmdlet_invocation.tests.yml", "positive[1]"): UNNAMED_DATA,
    ("ps_classic_script_win_t1049_cmdlet_invocation.tests.yml", "negative[2]"): NO_LOGSOURCE,
}
"""(test file, case) -> why a query converted without a pipeline gives other alert groups there
(listed in docs/convert.md, "Semantic tests")."""
PROCESS_LINEAGE = (
    "x-watchpost-processes is not expressed by any target: watchpost leaves out the programs a "
    "benign collector starts through a shell (netsh trace stop -> gatherNetworkInfo.vbs -> cmd /c "
    "ipconfig ...), which no per-event filter can see; the converted burst counts them")
CORRELATION_DIFFERENCES: dict[tuple[str, str], str] = {
    **KNOWN_DIFFERENCES,
    ("discovery_burst_windows.tests.yml", "negative[6]"): PROCESS_LINEAGE,
    ("discovery_burst_windows.tests.yml", "negative[7]"): PROCESS_LINEAGE,
}
"""The same for the alert groups of converted correlations (`test_semantics_spark.py`)."""
HELPER_MATCH_DIFFERENCES: dict[tuple[str, str], str] = {
    **KNOWN_DIFFERENCES,
    ("discovery_burst_macos.tests.yml", "negative[2]"): NO_LOGSOURCE + (
        " (the macOS burst's helper rule matches the case's Linux events; its correlation still does "
        "not fire there)"),
}
"""The same for the matches of every detection rule, helper rules included."""

AlertGroup = tuple[str, int, tuple[str, ...]]
"""(rule id, case number, group): the group is the matched event's number for a detection,
the normalised group-by values for a correlation."""


@dataclass(frozen=True, slots=True)
class EventRow:
    case: int
    number: int
    timestamp: datetime
    fields: dict[str, str]


@dataclass
class RuleFileCases:
    tests_path: Path
    rule_path: Path
    rows: list[EventRow]
    engine_groups: set[AlertGroup]
    case_labels: list[str]
    engine_matches: set[AlertGroup]
    """Every detection rule's matches, helper rules included: (rule id, case, (event number,))."""
    engine_first: dict[AlertGroup, datetime]
    """A correlation group's first alert time (its last event's, on the table's shifted clock)."""

    def place(self, case: int) -> str:
        return self.case_labels[case].split(" ", 1)[0]

    def case_of(self, moment: datetime) -> int:
        """The case of a result's time."""
        return int((moment - BASE_TIME) // CASE_GAP)


def aware(moment: datetime) -> datetime:
    """A result's time in UTC (a naive time, as Spark returns it, is local time)."""
    return moment.astimezone(UTC) if moment.tzinfo is None else moment


def cell(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_text(value: Any) -> str:
    return str(value).lower()


def rule_file_cases(tests_path: Path) -> RuleFileCases:
    """The events of every case of one test file and the engine's alert groups over them."""
    loaded = load_test_file(tests_path)
    ruleset = load_ruleset([loaded.rule_path])
    assert not ruleset.problems, [p.describe() for p in ruleset.problems]
    rows: list[EventRow] = []
    groups: set[AlertGroup] = set()
    matches: set[AlertGroup] = set()
    first: dict[AlertGroup, datetime] = {}
    number = 0
    for index, case in enumerate(loaded.cases):
        events = events_of(case, tests_path)
        shift = BASE_TIME + CASE_GAP * index - events[0].timestamp if events else CASE_GAP
        numbers: dict[int, int] = {}
        for event in events:
            number += 1
            numbers[id(event)] = number
            fields = {name: text for name, value in event.fields.items() if (text := cell(value)) is not None}
            rows.append(EventRow(index, number, event.timestamp + shift, fields))
            matches.update((rule.meta.id, index, (str(number),)) for rule in ruleset.index.match(event))
        for alert in alerts_over(ruleset, events):
            if alert.correlation is None:
                groups.add((alert.rule.id, index, (str(numbers[id(alert.events[0])]),)))
            else:
                group = (alert.rule.id, index, tuple(key_text(value) for _, value in alert.group))
                groups.add(group)
                moment = alert.timestamp + shift
                first[group] = min(first.get(group, moment), moment)
    labels = [case.label for case in loaded.cases]
    return RuleFileCases(tests_path, loaded.rule_path, rows, groups, labels, matches, first)


def semantic_test_files() -> list[Path]:
    """The pack's test files and those of the correlation-type fixtures."""
    return find_test_files([PACK, CORRELATION_FIXTURES])


def normalised_group(names: tuple[str, ...], values: tuple[Any, ...]) -> tuple[str, ...]:
    """A correlation result row's group as the engine shows it (the SQL already normalised it)."""
    out = []
    for name, value in zip(names, values, strict=True):
        key = normalise_key(name, value) if is_pid_field(name) else value
        out.append(key_text(key))
    return tuple(out)


def columns_of(rows: list[EventRow], extra: set[str]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.fields))
    names.update(dict.fromkeys(sorted(extra)))
    return [name for name in names if name not in (EVENT_COLUMN, TIME_COLUMN)]


def rule_fields(rule: Any) -> Iterator[str]:
    """Every field a pySigma detection rule's detections name."""
    def walk(item: Any) -> Iterator[str]:
        field = getattr(item, "field", None)
        if isinstance(field, str):
            yield field
        for child in getattr(item, "detection_items", []) or []:
            yield from walk(child)
    for detection in rule.detection.detections.values():
        yield from walk(detection)


def loaded_fields(loaded: Any) -> set[str]:
    """Fields the loaded rules read: detections, group-by names and aliases, measured fields."""
    names: set[str] = set()
    for item in loaded.rules:
        names.update(rule_fields(item.rule))
    for item in loaded.correlations:
        rule = item.rule
        names.update(rule.group_by or ())
        for alias in rule.aliases:
            names.update(str(field) for field in alias.mapping.values())
        field = rule.condition.to_dict().get("field") if hasattr(rule.condition, "to_dict") else None
        if isinstance(field, str):
            names.add(field)
    return names


def unexplained_differences(cases: RuleFileCases, found: set[AlertGroup], expected: set[AlertGroup],
                            known: dict[tuple[str, str], str]) -> tuple[list[str], set[tuple[str, str]]]:
    """The differences between ``found`` and ``expected`` (the engine's) not in KNOWN_DIFFERENCES,
    and the known differences (file, case) that did occur."""
    unexplained: list[str] = []
    occurred: set[tuple[str, str]] = set()
    for group in sorted(expected ^ found):
        where = (cases.tests_path.name, cases.place(group[1]))
        if where in known:
            occurred.add(where)
        else:
            side = "missing" if group in expected else "extra"
            unexplained.append(f"{side} {group} in {cases.case_labels[group[1]]}")
    return unexplained, occurred
