"""`watchpost search` and `watchpost metrics` through the CLI: the same readers, range, outputs and
problems as `hunt` (issue 17, item 6)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main

EXAMPLES = PROJECT / "examples"
CLOUDTRAIL = EXAMPLES / "cloud" / "aws" / "cloudtrail.jsonl"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture()
def nxlog(tmp_path: Path) -> Path:
    """Flat Windows JSON (NXLog style): 3 x 4688 on ws1, 2 x 4624 on ws2, one hostile value."""
    records = [
        {"EventTime": "2024-05-01T10:00:00Z", "Channel": "Security", "EventID": 4688, "Hostname": "ws1",
         "NewProcessName": "C:\\Windows\\System32\\netstat.exe", "CommandLine": "netstat -ano"},
        {"EventTime": "2024-05-01T10:20:00Z", "Channel": "Security", "EventID": 4688, "Hostname": "ws1",
         "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all"},
        {"EventTime": "2024-05-01T11:05:00Z", "Channel": "Security", "EventID": 4688, "Hostname": "ws1",
         "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
         "CommandLine": "=cmd|' /C calc'!A0 \x1b[31mRED\x1b[0m NETSTAT"},
        {"EventTime": "2024-05-01T12:00:00Z", "Channel": "Security", "EventID": 4624, "Hostname": "ws2",
         "TargetUserName": "alice"},
        {"EventTime": "2024-05-01T12:30:00Z", "Channel": "Security", "EventID": 4624, "Hostname": "ws2",
         "TargetUserName": "bob"},
    ]
    path = tmp_path / "security.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_search_keyword_any_case_finds_every_event_holding_it(nxlog: Path) -> None:
    code, out, err = run("search", str(nxlog), "-k", "netstat", "-f", "jsonl")
    assert code == 0
    found = lines(out)
    assert [f["fields"]["CommandLine"] for f in found] == [  # type: ignore[index]
        "netstat -ano", "=cmd|' /C calc'!A0 \x1b[31mRED\x1b[0m NETSTAT"]
    first = found[0]
    assert first["host"] == "ws1" and first["channel"] == "Security" and first["event_id"] == "4688"
    assert first["record"] == f"{nxlog}:line 1"
    assert "2 events found" in err
    code, out, _ = run("search", str(nxlog), "-k", "netstat", "--case-sensitive", "-f", "jsonl")
    assert len(lines(out)) == 1


def test_search_regex_and_field_tests_combine(nxlog: Path) -> None:
    code, out, _ = run("search", str(nxlog), "-e", r"who(ami)?\s+/all", "-f", "jsonl")
    assert code == 0 and [f["event_id"] for f in lines(out)] == ["4688"]
    _, out, _ = run("search", str(nxlog), "-F", "EventID=4624", "-F", "targetusername=B*", "-f", "jsonl")
    assert [f["fields"]["TargetUserName"] for f in lines(out)] == ["bob"]  # type: ignore[index]
    _, out, _ = run("search", str(nxlog), "-k", "netstat", "-k", "whoami", "-f", "jsonl")
    assert len(lines(out)) == 3
    _, out, _ = run("search", str(nxlog), "-k", "netstat", "-k", "ano", "--and", "-f", "jsonl")
    assert len(lines(out)) == 1


def test_search_from_to_limits_the_events(nxlog: Path) -> None:
    code, out, err = run("search", str(nxlog), "-F", "Channel=Security", "--from", "2024-05-01T10:10:00Z",
                         "--to", "2024-05-01T12:00:00Z", "-f", "jsonl")
    assert code == 0
    assert [f["timestamp"][:19] for f in lines(out)] == [  # type: ignore[index]
        "2024-05-01T10:20:00", "2024-05-01T11:05:00", "2024-05-01T12:00:00"]
    assert "5 events (3 in range)" in err


def test_search_over_cloudtrail_names_account_and_region_and_every_match() -> None:
    expected = sum("DescribeVpcs" in line for line in CLOUDTRAIL.read_text().splitlines())
    code, out, _ = run("search", str(CLOUDTRAIL), "-F", "eventName=DescribeVpcs", "-f", "jsonl")
    found = lines(out)
    assert code == 0 and expected and len(found) == expected
    assert {f["host"] for f in found} == {"aws:111122223333/eu-west-1"}
    assert {f["channel"] for f in found} == {"aws/cloudtrail"}


def test_search_csv_is_formula_neutral_and_the_table_has_no_control_characters(
        nxlog: Path, tmp_path: Path) -> None:
    _, out, _ = run("search", str(nxlog), "-k", "calc", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert "\x1b" not in out and "\\x1b[31mRED" in out
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps({"EventTime": "2024-05-01T10:00:00Z", "Channel": "@SUM(1+1)",
                                   "EventID": 1, "Hostname": "=HYPERLINK(\"http://x\")"}) + "\n")
    for command in ("search", "metrics"):
        extra = ["-k", "hyperlink"] if command == "search" else []
        _, out, _ = run(command, str(hostile), *extra, "-f", "csv")
        cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
        assert "'=HYPERLINK(\"http://x\")" in cells
        assert "'@SUM(1+1)" in cells
        assert not any(cell.startswith(("=", "@", "+")) for cell in cells)
    _, table, _ = run("search", str(nxlog), "-k", "calc")
    assert "\x1b" not in table and "\\x1b[31mRED" in table


def test_search_needs_a_term_and_rejects_a_regex_re2_cannot_run(nxlog: Path) -> None:
    code, _, err = run("search", str(nxlog))
    assert code == 2 and "--keyword" in err
    code, _, err = run("search", str(nxlog), "-e", r"(a)\1")
    assert code == 2 and "RE2" in err
    code, _, err = run("search", str(nxlog), "-F", "no-equals-sign")
    assert code == 2 and "NAME=VALUE" in err


def test_search_and_metrics_report_unreadable_files_and_go_on(nxlog: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(b"ElfFile\x00" + b"\xff" * 200)
    code, out, err = run("search", str(nxlog), str(broken), "-k", "whoami", "-f", "jsonl")
    assert code == 0 and len(lines(out)) == 1
    assert "skipped: " in err and "broken.evtx" in err
    code, _, err = run("metrics", str(broken))
    assert code == 2 and "no input could be read" in err


def test_metrics_count_per_channel_host_and_hour(nxlog: Path) -> None:
    code, out, err = run("metrics", str(nxlog), "-f", "jsonl")
    assert code == 0
    rows = lines(out)
    channel = {(r["channel"], r["event_id"]): r["count"] for r in rows if r["metric"] == "channel"}
    assert channel == {("Security", "4688"): 3, ("Security", "4624"): 2}
    hosts = {r["host"]: r["count"] for r in rows if r["metric"] == "host"}
    assert hosts == {"ws1": 3, "ws2": 2}
    hours = {r["bucket"]: r["count"] for r in rows if r["metric"] == "time"}
    assert hours == {"2024-05-01T10:00:00.000000+00:00": 2, "2024-05-01T11:00:00.000000+00:00": 1,
                     "2024-05-01T12:00:00.000000+00:00": 2}
    first = next(r for r in rows if r["metric"] == "host" and r["host"] == "ws2")
    assert first["first"].startswith("2024-05-01T12:00:00") and first["last"].startswith("2024-05-01T12:30")
    assert first["percent"] == "40.0"


def test_metrics_buckets_follow_the_zone_and_the_range(nxlog: Path) -> None:
    _, out, _ = run("metrics", str(nxlog), "--by", "time", "--bucket", "1d", "--tz", "+14:00", "-f", "jsonl")
    assert {r["bucket"]: r["count"] for r in lines(out)} == {"2024-05-02T00:00:00.000000+14:00": 5}
    _, out, _ = run("metrics", str(nxlog), "--by", "host", "--from", "2024-05-01T11:00:00Z", "-f", "jsonl")
    assert {r["host"]: r["count"] for r in lines(out)} == {"ws1": 1, "ws2": 2}
    code, _, err = run("metrics", str(nxlog), "--bucket", "5x")
    assert code == 2 and "--bucket" in err


def test_metrics_over_the_examples_match_an_independent_count() -> None:
    """Every format of the bundled examples: per-channel counts add up to the events read."""
    code, out, err = run("metrics", str(EXAMPLES), "--by", "channel", "-f", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    total = sum(int(r["count"]) for r in rows)
    assert f"{total} events ({total} in range)" in err
    channels = Counter({(r["channel"], r["event_id"]): int(r["count"]) for r in rows})
    cloudtrail = CLOUDTRAIL.read_text().splitlines()
    vpcs = sum('"DescribeVpcs"' in line for line in cloudtrail)
    assert channels[("aws/cloudtrail", "DescribeVpcs")] == vpcs
    assert sum(n for (c, _), n in channels.items() if c == "aws/cloudtrail") == len(cloudtrail)
    _, table, _ = run("metrics", str(EXAMPLES))
    for title in ("Events per channel and event id", "Events per host", "Events per 1h"):
        assert title in table


def test_search_reads_standard_input_and_stops_at_the_limit(nxlog: Path) -> None:
    arguments = ["search", "-", "-F", "Channel=Security", "--limit", "2", "-f", "jsonl"]
    result = CliRunner().invoke(main, arguments, input=nxlog.read_bytes(), catch_exceptions=False)
    found = lines(result.stdout)
    assert result.exit_code == 0 and len(found) == 2
    assert [f["record"] for f in found] == ["<stdin>:line 1", "<stdin>:line 2"]
