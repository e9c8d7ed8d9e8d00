"""Time on the command line (issue 17, item 4): ``--tz local``, ``--timefield``, relative and
zoneless ``--from/--to``, and flat Sysmon JSON timed by its ``UtcTime``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from watchpost.cli import main
from watchpost.commands.time_options import parse_time, parse_tz

RULE = """title: Netstat
id: 5e0f1b2c-0000-4000-8000-000000000049
level: low
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: netstat}
  condition: sel
"""


def sysmon(**extra: object) -> dict[str, object]:
    """A flat Sysmon process creation as JSON shippers write it, with no time key of its own."""
    return {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1",
            "CommandLine": "netstat -ano", "Image": "C:\\Windows\\System32\\NETSTAT.EXE", **extra}


@pytest.fixture()
def rule(tmp_path: Path) -> Path:
    path = tmp_path / "netstat.yml"
    path.write_text(RULE, encoding="utf-8")
    return path


def write_jsonl(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path


def hunt(rule: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["hunt", "-r", str(rule), "-f", "jsonl", *args], catch_exceptions=False)
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, alerts, result.stderr


def test_flat_sysmon_json_with_only_utctime_is_timed_by_it(rule: Path, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "sysmon.jsonl", [sysmon(UtcTime="2024-05-01 10:11:12.345")])
    code, alerts, err = hunt(rule, str(log), "-q")
    assert code == 0
    assert [a["timestamp"] for a in alerts] == ["2024-05-01T10:11:12.345000Z"]
    assert "1970" not in err


def test_timefield_names_the_time_of_json_events(rule: Path, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "custom.jsonl", [
        sysmon(logged_at="2024-05-01T12:00:00+02:00", UtcTime="2030-01-01 00:00:00.000"),
    ])
    code, alerts, _ = hunt(rule, str(log), "-q", "--timefield", "logged_at")
    assert code == 0 and [a["timestamp"] for a in alerts] == ["2024-05-01T10:00:00.000000Z"]
    code, alerts, _ = hunt(rule, str(log), "-q", "--timefield", "logged_at",
                           "--from", "2024-05-01T09:59:59Z", "--to", "2024-05-01T10:00:01Z")
    assert len(alerts) == 1


def test_a_timefield_missing_from_events_is_reported_with_its_name(rule: Path, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "custom.jsonl", [sysmon(UtcTime="2024-05-01 10:00:00.000")] * 2)
    code, alerts, err = hunt(rule, str(log), "--timefield", "when")
    assert code == 0 and len(alerts) == 2
    assert "2 events without a time (no field 'when', --timefield)" in err
    assert f"{log}" in err


def test_timefield_works_in_worker_processes(rule: Path, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [sysmon(at="2024-05-01T10:00:00Z")])
    second = write_jsonl(tmp_path / "b.jsonl", [sysmon(at="2024-05-02T10:00:00Z")])
    _, alerts, _ = hunt(rule, str(first), str(second), "-q", "--timefield", "at", "--jobs", "2")
    assert [a["timestamp"] for a in alerts] == ["2024-05-01T10:00:00.000000Z", "2024-05-02T10:00:00.000000Z"]


def test_relative_from_and_to_count_back_from_now(rule: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    times = [now - timedelta(hours=2), now - timedelta(days=3), now - timedelta(days=10)]
    log = write_jsonl(tmp_path / "recent.jsonl", [sysmon(UtcTime=t.isoformat()) for t in times])

    def kept(*args: str) -> list[str]:
        code, alerts, _ = hunt(rule, str(log), "-q", *args)
        assert code == 0
        return [str(a["timestamp"]) for a in alerts]

    assert len(kept("--from", "-24h")) == 1
    assert len(kept("--from", "7d")) == 2
    assert len(kept("--from", "1w", "--to", "-1d")) == 1
    assert len(kept("--from", "-1d12h", "--to", "-90m")) == 1
    code, _, err = hunt(rule, str(log), "--from", "-3x")
    assert code == 2 and "relative time (-24h, 7d)" in err and "'-3x'" in err


def test_a_date_without_a_zone_is_utc_midnight_with_a_note(rule: Path, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "day.jsonl", [sysmon(UtcTime="2024-04-30 23:59:59.999"),
                                               sysmon(UtcTime="2024-05-01 00:00:00.000")])
    code, alerts, err = hunt(rule, str(log), "-q", "--from", "2024-05-01")
    assert code == 0 and [a["timestamp"] for a in alerts] == ["2024-05-01T00:00:00.000000Z"]
    assert "note: --from 2024-05-01 has no time zone: read as 2024-05-01T00:00:00Z (UTC)" in err
    code, alerts, err = hunt(rule, str(log), "-q", "--to", "2024-05-01")
    assert len(alerts) == 2 and "note: --to 2024-05-01 has no time zone" in err
    code, alerts, err = hunt(rule, str(log), "-q", "--to", "2024-05-01T00:00")
    assert code == 2 and "give a time zone" in err
    code, _, err = hunt(rule, str(log), "-q", "--from", "2024-05-01T00:00:00Z")
    assert "note:" not in err


def test_tz_local_shows_the_machines_zone(rule: Path, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "one.jsonl", [sysmon(UtcTime="2024-05-01 10:00:00.000")])
    result = CliRunner().invoke(main, ["hunt", "-r", str(rule), str(log), "-q", "--tz", "local"],
                                env={"TZ": "Asia/Tokyo", "COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0
    assert "2024-05-01 19:00:00.000+09:00" in result.stdout
    assert parse_tz("local").utcoffset(datetime(2024, 5, 1)) is not None


def test_local_zone_follows_daylight_saving_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    zone = parse_tz("local")
    assert zone.utcoffset(datetime(2024, 1, 15)) == timedelta(hours=1)
    assert zone.utcoffset(datetime(2024, 7, 15)) == timedelta(hours=2)


def test_parse_time_forms() -> None:
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    assert parse_time("-24h", now=now) == datetime(2024, 5, 9, 12, 0, tzinfo=UTC)
    assert parse_time("7d", now=now) == datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    assert parse_time("2w", now=now) == now - timedelta(weeks=2)
    assert parse_time("30s", now=now) == now - timedelta(seconds=30)
    assert parse_time("2024-05-01T10:00:00+02:00", now=now) == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert parse_time(None) is None
    with pytest.raises(click.BadParameter):
        parse_time("yesterday", now=now)
    with pytest.raises(click.BadParameter):
        parse_tz("Mars/Olympus")
