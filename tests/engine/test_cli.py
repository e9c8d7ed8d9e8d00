"""`watchpost hunt` and `watchpost rules check` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from watchpost.cli import main

EVTX = SHARED / "samples" / "windows" / "evtx"
NET_USE_RULE = (
    SHARED / "sigma" / "rules" / "windows" / "process_creation"
    / "proc_creation_win_net_use_network_connections_discovery.yml"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_bare_net_use_in_security_4688_is_found_through_the_field_mapping() -> None:
    code, out, _ = run("hunt", str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx"),
                       "--rules", str(NET_USE_RULE), "--format", "jsonl")
    assert code == 0
    alerts = jsonl(out)
    assert len(alerts) == 1
    event = alerts[0]["events"][0]  # type: ignore[index]
    assert event["fields"]["EventID"] == 4688
    assert event["fields"]["CommandLine"] == "net  use"
    assert event["origin"]["record"] == 3
    assert event["origin"]["path"].endswith("mdecrevoisier_4688_net_use_and_net_view.evtx")
    assert alerts[0]["host"] == "FS03.offsec.lan"
    assert alerts[0]["rule"]["id"] == "1c67a717-32ba-409b-a45d-0fb704a73a81"


def test_net_view_alone_raises_nothing(tmp_path: Path) -> None:
    code, out, _ = run("hunt", str(EVTX / "mdecrevoisier_4688_group_discovery.evtx"),
                       "--rules", str(NET_USE_RULE), "--format", "jsonl")
    assert code == 0
    assert jsonl(out) == []


def test_fail_on_alert_exits_1_only_when_alerts_were_raised() -> None:
    sample = str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    assert run("hunt", sample, "--rules", str(NET_USE_RULE), "--fail-on-alert", "-q")[0] == 1
    quiet = str(EVTX / "mdecrevoisier_4688_group_discovery.evtx")
    assert run("hunt", quiet, "--rules", str(NET_USE_RULE), "--fail-on-alert", "-q")[0] == 0


def test_usage_errors_and_unreadable_input_exit_2(tmp_path: Path) -> None:
    assert run("hunt", str(tmp_path / "missing.evtx"))[0] == 2
    assert run("hunt")[0] == 2
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 not a log")
    code, _, err = run("hunt", str(junk), "--rules", str(NET_USE_RULE))
    assert code == 2
    assert "junk.bin" in err and "unknown format" in err


def test_corrupt_evtx_files_are_read_with_problems_reported(tmp_path: Path) -> None:
    corrupt = SHARED / "samples" / "windows" / "corrupt"
    code, _, err = run("hunt", str(corrupt), "--rules", str(NET_USE_RULE), "--format", "jsonl")
    assert code == 0
    summary = [line for line in err.splitlines() if line.startswith("read ")]
    assert summary, err
    # Damaged chunks are named with the file and the place, and counted; readable records are read.
    assert "sample_with_a_bad_chunk_magic.evtx (record " in err
    assert "skipped 0 unreadable" not in summary[0]
    events = int(summary[0].split(" events ")[0].rsplit(" ", 1)[1])
    assert events > 5000


def test_readable_records_of_a_damaged_input_still_alert(tmp_path: Path) -> None:
    good = (EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx").read_bytes()
    damaged = tmp_path / "damaged.evtx"
    # Keep the file header and first chunk; overwrite the tail of the chunk with garbage.
    damaged.write_bytes(good[: 4096 + 20000] + b"\xff" * 2000 + good[4096 + 22000 :])
    code, out, err = run("hunt", str(damaged), "--rules", str(NET_USE_RULE), "--format", "jsonl")
    assert code == 0
    assert len(jsonl(out)) == 1, err


def test_malformed_json_line_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    lines = [
        {"EventID": 4688, "Channel": "Security", "Hostname": "h1", "TimeCreated": "2024-01-01T10:00:00Z",
         "NewProcessName": "C:\\Windows\\System32\\net.exe", "CommandLine": "net use"},
        None,
        {"EventID": 4688, "Channel": "Security", "Hostname": "h1", "TimeCreated": "2024-01-01T10:00:05Z",
         "NewProcessName": "C:\\Windows\\System32\\net.exe", "CommandLine": "net  use"},
    ]
    path = tmp_path / "events.json"
    path.write_text("\n".join("{not json" if line is None else json.dumps(line) for line in lines) + "\n")
    code, out, err = run("hunt", str(path), "--rules", str(NET_USE_RULE), "--format", "jsonl")
    assert code == 0
    assert len(jsonl(out)) == 2
    assert "events.json" in err and "line 2" in err


def test_an_invalid_rule_is_reported_and_the_others_still_run(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(NET_USE_RULE, rules / "good.yml")
    (rules / "bad.yml").write_text("title: broken\nlogsource: {product: windows}\ndetection:\n"
                                   "  sel: {CommandLine|nosuchmodifier: x}\n  condition: sel\n")
    (rules / "regex.yml").write_text("title: absurd regex\nlogsource: {product: windows}\ndetection:\n"
                                     "  sel: {CommandLine|re: '(a+)+\\1'}\n  condition: sel\n")
    sample = str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    code, out, err = run("hunt", sample, "--rules", str(rules), "--format", "jsonl")
    assert code == 0
    assert len(jsonl(out)) == 1
    assert "bad.yml" in err and "regex.yml" in err


def test_rules_check_lists_each_unrunnable_rule_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("title: broken\nlogsource: {product: windows, service: nosuch}\n"
                                      "detection:\n  sel: {a: b}\n  condition: sel\n")
    shutil.copy(NET_USE_RULE, tmp_path / "good.yml")
    code, out, _ = run("rules", "check", str(tmp_path))
    assert code == 1
    assert "bad.yml" in out and "nosuch" in out
    assert out.strip().splitlines()[-1].startswith("2 files, 1 rules runnable")


@pytest.mark.parametrize("level,expected", [("low", 1), ("medium", 0)])
def test_min_level_filters_alerts(level: str, expected: int) -> None:
    sample = str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    _, out, _ = run("hunt", sample, "--rules", str(NET_USE_RULE), "-f", "jsonl", "--min-level", level)
    assert len(jsonl(out)) == expected


def test_time_range_filters_events() -> None:
    sample = str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    _, out, _ = run("hunt", sample, "--rules", str(NET_USE_RULE), "-f", "jsonl",
                    "--from", "2021-10-19T14:44:39Z", "--to", "2021-10-19T16:44:40+02:00")
    assert len(jsonl(out)) == 1
    _, out, _ = run("hunt", sample, "--rules", str(NET_USE_RULE), "-f", "jsonl",
                    "--from", "2021-10-19T14:45:00Z")
    assert jsonl(out) == []


def test_rules_check_runs_every_sigmahq_rule() -> None:
    sigma = SHARED / "sigma"
    code, out, _ = run("rules", "check", str(sigma / "rules"), str(sigma / "rules-threat-hunting"),
                       str(sigma / "rules-emerging-threats"))
    last = out.strip().splitlines()[-1]
    print(last)
    assert last.endswith(" 0 problems"), out[-3000:]
    assert code == 0
    files = int(last.split()[0])
    runnable = int(last.split(",")[1].split()[0])
    assert files >= 3700 and runnable == files


def test_an_undefined_placeholder_reads_as_an_empty_list(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text("title: cdc\nlogsource: {product: windows, service: security}\ndetection:\n"
                    "  selection: {EventID: 4688, CommandLine|contains: 'net'}\n"
                    "  filter_known: {Computer|expand: '%known_hosts%'}\n"
                    "  condition: selection and not filter_known\n")
    sample = str(EVTX / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    code, out, err = run("hunt", sample, "--rules", str(rule), "-f", "jsonl")
    assert code == 0
    assert len(jsonl(out)) >= 2  # net view and net use, nothing excluded
    assert "%known_hosts%" in err
    values = tmp_path / "values.yml"
    values.write_text("known_hosts: ['FS03.offsec.lan']\n")
    _, out, err = run("hunt", sample, "--rules", str(rule), "-f", "jsonl", "--placeholders", str(values))
    assert jsonl(out) == []
    assert "%known_hosts%" not in err


def test_rules_check_strips_control_characters_from_rule_text(tmp_path: Path) -> None:
    """Rules come from third parties too: a title with terminal escapes is shown, defused."""
    (tmp_path / "r.yml").write_text('title: "bad \\x1b]0;owned\\x07\\x1b[2J rule"\n'
                                    "logsource: {product: windows}\n"
                                    "detection:\n  sel: {a|nosuchmod: 1}\n  condition: sel\n")
    code, out, _ = run("rules", "check", str(tmp_path))
    assert code == 1
    assert "bad" in out and "nosuchmod" in out
    assert "\x1b" not in out and "\x07" not in out
