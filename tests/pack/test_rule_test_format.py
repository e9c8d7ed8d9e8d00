"""The rule test event format (docs/rule-pack.md): reading, defaults, failures, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from watchpost.cli import main
from watchpost.events import LogsourceHint
from watchpost.ruletests import load_test_file, run_test_file, untested_rules

RULE = """\
title: Netstat
id: 0d6b6d0c-0b1a-4a56-9d59-1c5a8e4f7a10
logsource: {category: process_creation, product: windows}
detection:
  selection: {Image|endswith: '\\\\netstat.exe'}
  condition: selection
level: low
"""
CORRELATION = """\
title: Two netstat in a minute
id: 5a1f3f5e-5e42-4a63-b3e4-47a5f2c0a0b1
correlation:
  {type: event_count, rules: [netstat_base], group-by: [Computer], timespan: 1m, condition: {gte: 2}}
level: medium
---
title: Netstat base
id: 7c1e3f5e-5e42-4a63-b3e4-47a5f2c0a0b2
name: netstat_base
logsource: {category: process_creation, product: windows}
detection:
  selection: {Image|endswith: '\\\\netstat.exe'}
  condition: selection
level: low
"""
NETSTAT = "{EventID: 1, Computer: WS01, Image: 'C:\\\\Windows\\\\System32\\\\NETSTAT.EXE'}"


def write(tmp_path: Path, rule: str, tests: str) -> Path:
    (tmp_path / "rule.yml").write_text(rule, encoding="utf-8")
    path = tmp_path / "rule.tests.yml"
    path.write_text(tests, encoding="utf-8")
    return path


def test_defaults_channel_hint_and_increasing_timestamps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RULE,
        f"""\
positive:
  - name: two events
    events:
      - logsource: {{service: sysmon}}
        fields: {NETSTAT}
      - timestamp: '2024-05-01T10:00:00+02:00'
        logsource: {{product: linux, category: process_creation}}
        fields: {{Image: /usr/bin/netstat}}
      - fields: {{EventID: 4688}}
negative: []
""",
    )
    (case,) = load_test_file(path).cases
    first, second, third = case.events
    assert first.fields["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert first.logsource == LogsourceHint(product="windows")
    assert first.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert second.logsource == LogsourceHint("linux", None, "process_creation")
    assert second.timestamp == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert third.timestamp == datetime(2024, 5, 1, 8, 0, 1, tzinfo=UTC)
    assert "Channel" not in third.fields


def test_wrong_expectations_fail_with_a_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RULE,
        f"""\
positive:
  - name: not netstat
    logsource: {{service: sysmon}}
    fields: {{EventID: 1, Image: 'C:\\\\Windows\\\\System32\\\\cmd.exe'}}
negative:
  - name: netstat
    logsource: {{service: sysmon}}
    fields: {NETSTAT}
""",
    )
    results = run_test_file(load_test_file(path))
    assert [(r.passed, r.reason) for r in results] == [
        (False, "no alert was raised"),
        (False, "1 alert(s) raised: Netstat"),
    ]


def test_correlation_cases_run_through_the_correlation_engine(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CORRELATION,
        f"""\
positive:
  - events:
      - {{logsource: {{service: sysmon}}, fields: {NETSTAT}}}
      - {{logsource: {{service: sysmon}}, fields: {NETSTAT}}}
negative:
  - {{logsource: {{service: sysmon}}, fields: {NETSTAT}}}
  - events:
      - {{logsource: {{service: sysmon}}, timestamp: '2024-01-01T00:00:00Z', fields: {NETSTAT}}}
      - {{logsource: {{service: sysmon}}, timestamp: '2024-01-01T00:05:00Z', fields: {NETSTAT}}}
""",
    )
    results = run_test_file(load_test_file(path))
    assert [r.passed for r in results] == [True, True, True]
    assert [r.alerts for r in results] == [1, 0, 0]


def test_bad_cases_are_reported_with_their_place_and_the_rest_runs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RULE,
        f"""\
positive:
  - name: fine
    logsource: {{service: sysmon}}
    fields: {NETSTAT}
  - name: no fields
    logsource: {{service: sysmon}}
  - events:
      - timestamp: yesterday
        fields: {NETSTAT}
negative: oops
extra: 1
""",
    )
    loaded = load_test_file(path)
    assert len(loaded.cases) == 1
    assert loaded.problems == [
        "unknown keys ['extra'] (expected 'positive', 'negative')",
        "positive[1]: an event needs 'fields' (a mapping of field names to values)",
        "positive[2]: event 0: timestamp 'yesterday' is not ISO 8601",
        "'negative' must be a list of cases",
    ]
    results = run_test_file(loaded)
    assert [r.passed for r in results] == [False, False, False, False, True]


def test_unreadable_test_file_and_missing_rule(tmp_path: Path) -> None:
    path = tmp_path / "gone.tests.yml"
    path.write_text("positive: [\n", encoding="utf-8")
    results = run_test_file(load_test_file(path))
    assert not any(r.passed for r in results)
    assert results[0].reason.startswith("cannot read the test file")
    assert results[-1].reason == "no rule file gone.yml"


def test_rules_without_tests_are_listed(tmp_path: Path) -> None:
    write(tmp_path, RULE, f"positive:\n  - {{logsource: {{service: sysmon}}, fields: {NETSTAT}}}\n")
    (tmp_path / "other.yml").write_text(RULE.replace("0d6b", "1e7c"), encoding="utf-8")
    assert untested_rules([tmp_path]) == [
        f"{tmp_path / 'other.yml'}: no test file other.tests.yml",
        f"{tmp_path / 'rule.yml'}: rule.tests.yml has no negative case",
    ]


def test_cli_rules_test(tmp_path: Path) -> None:
    write(
        tmp_path,
        RULE,
        f"""\
positive:
  - {{logsource: {{service: sysmon}}, fields: {NETSTAT}}}
negative:
  - {{logsource: {{service: security}}, fields: {NETSTAT}}}
""",
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["rules", "test", str(tmp_path), "--require-tests"])
    assert ok.exit_code == 0, ok.output
    last = ok.output.splitlines()[-1]
    assert last == "1 test files, 2 cases passed, 0 failed, 0 rules without complete tests"
    (tmp_path / "more.yml").write_text(RULE.replace("0d6b", "2f8d"), encoding="utf-8")
    missing = runner.invoke(main, ["rules", "test", str(tmp_path), "--require-tests", "-q"])
    assert missing.exit_code == 1
    assert "MISSING" in missing.output and "more.yml" in missing.output
