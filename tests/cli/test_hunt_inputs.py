"""`watchpost hunt` inputs and options: globs, folders, standard input, zones, formats, --jobs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main
from watchpost.sinks.formats import OUTPUT_FORMATS

SEED = PROJECT / "tests" / "fixtures" / "seed"


# The seed rules: three correlations, one alert per log of the seed case, whatever the bundled pack holds.
SEED_RULES = [arg for rule in sorted(SEED.glob("*.yml")) for arg in ("--rules", str(rule))]


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``watchpost hunt ARGS --rules <seed rules>`` (or another command, as given)."""
    arguments = [*args, *SEED_RULES] if args[:1] == ("hunt",) else list(args)
    result = CliRunner().invoke(main, arguments, input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def alerts(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture()
def logs(tmp_path: Path) -> Path:
    """The seed case's three logs, two of them one folder down."""
    (tmp_path / "deep").mkdir()
    shutil.copy(SEED / "netstat_events.xml", tmp_path / "netstat_events.xml")
    shutil.copy(SEED / "net_use_events.xml", tmp_path / "deep" / "net_use_events.xml")
    shutil.copy(SEED / "net_session_events.xml", tmp_path / "deep" / "net_session_events.xml")
    return tmp_path


def test_a_glob_is_expanded_and_recursive_globs_reach_subfolders(logs: Path) -> None:
    code, out, _ = run("hunt", str(logs / "*.xml"), "-f", "jsonl", "-q")
    assert code == 0 and len(alerts(out)) == 1
    code, out, _ = run("hunt", str(logs / "**" / "*.xml"), "-f", "jsonl", "-q")
    assert code == 0 and len(alerts(out)) == 3


def test_a_folder_is_read_recursively_and_files_and_folders_mix(logs: Path) -> None:
    assert len(alerts(run("hunt", str(logs), "-f", "jsonl", "-q")[1])) == 3
    code, out, _ = run("hunt", str(logs / "deep"), str(logs / "netstat_events.xml"), "-f", "jsonl", "-q")
    assert code == 0 and len(alerts(out)) == 3


def test_a_glob_matching_nothing_is_a_usage_error(logs: Path) -> None:
    code, _, err = run("hunt", str(logs / "*.evtx"))
    assert code == 2
    assert "no file matches" in err and "*.evtx" in err


def test_standard_input(logs: Path) -> None:
    data = (logs / "netstat_events.xml").read_bytes()
    code, out, _ = run("hunt", "-", "-f", "jsonl", "-q", stdin=data)
    assert code == 0
    assert len(alerts(out)) == 1


@pytest.mark.parametrize("zone,shown", [("UTC", "08:12:04.412+00:00"), ("+05:30", "13:42:04.412+05:30"),
                                        ("America/New_York", "04:12:04.412-04:00"),
                                        ("-0800", "00:12:04.412-08:00")])
def test_the_table_shows_times_in_the_display_zone_with_the_offset(logs: Path, zone: str, shown: str) -> None:
    code, out, _ = run("hunt", str(logs / "netstat_events.xml"), "--tz", zone, "-q")
    assert code == 0
    assert shown in out


@pytest.mark.parametrize("args,message", [
    (("--tz", "Mars/Olympus"), "unknown time zone"),
    (("--tz", "+25:00"), "not a UTC offset"),
    (("--from", "2021-03-15T08:00:00"), "time zone"),
    (("--from", "2021-03-16T00:00:00Z", "--to", "2021-03-15T00:00:00Z"), "--from is after --to"),
    (("--jobs", "0"), "--jobs"),
    (("--input-format", "nosuch"), "unknown input format"),
    (("--format", "pdf"), "--format"),
])
def test_bad_options_are_usage_errors(logs: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = run("hunt", str(logs), *args)
    assert code == 2
    assert message in err


def test_jobs_is_accepted(logs: Path) -> None:
    code, out, _ = run("hunt", str(logs), "--jobs", "4", "-f", "jsonl", "-q")
    assert code == 0 and len(alerts(out)) == 3


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_every_format_writes_to_a_file_and_nothing_to_stdout(logs: Path, tmp_path: Path,
                                                             output_format: str) -> None:
    target = tmp_path / f"out.{output_format}"
    code, out, err = run("hunt", str(logs), "-f", output_format, "-o", str(target))
    assert code == 0
    assert out == ""
    assert target.stat().st_size > 100
    assert "3 alerts" in err  # the closing summary still goes to standard error


def test_the_closing_summary_says_what_was_read_skipped_and_raised(logs: Path) -> None:
    (logs / "junk.json").write_text('{"EventID": 1\nnot json\n')
    code, _, err = run("hunt", str(logs), "-f", "jsonl")
    assert code == 0
    assert "read 4 inputs" in err and "events" in err and "events/s" in err
    assert "skipped: " in err and "junk.json" in err
    assert "3 alerts (medium 3)" in err
    assert "windows 系统网络链接发现" in err  # alerts by rule


def test_records_kept_with_a_default_time_are_not_counted_as_skipped(logs: Path) -> None:
    (logs / "untimed.json").write_text('{"EventID": 1, "Channel": "x"}\n{"EventID": 2, "Channel": "x"}\n')
    code, _, err = run("hunt", str(logs), "-f", "jsonl")
    assert code == 0
    assert "skipped: " not in err and "skipped 0 unreadable, 1 notes on records kept" in err
    # (how many lines are decoded depends on the rules' literals: undecoded lines are not counted)
    assert f"kept: {logs / 'untimed.json'}: " in err and "events without a time: their time is set to" in err


def test_many_problems_are_counted_by_file_and_unreadable_inputs_said(logs: Path) -> None:
    (logs / "junk.json").write_text("{not json\n" * 30)
    (logs / "junk.bin").write_bytes(b"\x00\x01 nothing known")
    code, _, err = run("hunt", str(logs), "-f", "jsonl")
    assert code == 0
    assert err.count("skipped: ") == 20 and "... and 11 more unreadable records or files" in err
    assert f"problems by file: {logs / 'junk.json'} 30, {logs / 'junk.bin'} 1" in err
    assert "read 5 inputs (2 could not be read)" in err and "skipped 31 unreadable" in err
