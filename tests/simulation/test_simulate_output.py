"""``watchpost simulate``: files in the native formats, consistent, labelled, deterministic."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.registry import iter_sources, read_source, sniff
from watchpost.simulation import SCENARIOS, resolve, simulate

READERS = {
    "Security.xml": "xml",
    "Sysmon.xml": "xml",
    "PowerShell-Operational.xml": "xml",
    "audit.log": "auditd",
    "eslogger.jsonl": "eslogger",
    "cloudtrail.jsonl": "cloudtrail",
    "cloudaudit.jsonl": "gcp",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("simulation")
    simulate(resolve(["all"]), out, background=4000, seed=11)
    return out


@pytest.fixture(scope="module")
def events(folder: Path) -> dict[str, list[Event]]:
    """The events of each log file, read by the readers watchpost hunts with."""
    found: dict[str, list[Event]] = {}
    problems = ProblemLog()
    for name in ("windows", "linux", "macos", "cloud"):
        for source in iter_sources([folder / name], problems):
            found[Path(source.name).relative_to(folder).as_posix()] = list(read_source(source, problems))
    assert problems.problems == []
    return found


def digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_every_log_is_read_by_the_reader_of_its_format(folder: Path, events: dict[str, list[Event]]) -> None:
    problems = ProblemLog()
    for source in iter_sources(
        [folder / "windows", folder / "linux", folder / "macos", folder / "cloud"], problems
    ):
        reader = sniff(source)
        assert reader is not None and reader.name == READERS[Path(source.name).name], source.name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["records"]) == set(events)
    assert manifest["background"] == 4000
    assert sum(manifest["records"].values()) == 4000 + sum(s["records"] for s in manifest["scenarios"])
    assert [s["name"] for s in manifest["scenarios"]] == [s.name for s in SCENARIOS]


def test_each_log_is_in_time_order(events: dict[str, list[Event]]) -> None:
    for log, items in events.items():
        times = [event.timestamp for event in items]
        assert times == sorted(times), log


def test_every_label_points_at_an_event_watchpost_reads(folder: Path, events: dict[str, list[Event]]) -> None:
    places: dict[str, set[int]] = defaultdict(set)
    for log, items in events.items():
        places[log].update(event.origin.record for event in items if event.origin.record is not None)
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["label"] for row in rows} == {"positive", "companion", "context", "negative"}
    for row in rows:
        assert int(row["place"]) in places[row["log"]], row
    positives = {row["scenario"] for row in rows if row["label"] == "positive"}
    assert positives == {s.name for s in SCENARIOS if not s.name.startswith("trap-")}
    trap_labels = {row["label"] for row in rows if row["scenario"].startswith("trap-")}
    assert trap_labels == {"negative"}  # a benign trap has nothing to find


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    chosen = resolve(["seed-netstat", "atomic-t1049-5-linux", "cloud"])
    simulate(chosen, tmp_path / "a", background=500, seed=3)
    simulate(chosen, tmp_path / "b", background=500, seed=3)
    simulate(chosen, tmp_path / "c", background=500, seed=4)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert digests(tmp_path / "a") != digests(tmp_path / "c")


def test_windows_process_ids_parents_and_logon_sessions_agree_across_logs(
    events: dict[str, list[Event]],
) -> None:
    security = events["windows/ws01/Security.xml"]
    sysmon = events["windows/ws01/Sysmon.xml"]
    started: dict[int, dict[str, object]] = {}
    for event in security:
        fields = event.fields
        if fields["EventID"] == 4688:
            started[int(str(fields["NewProcessId"]), 16)] = fields
        elif fields["EventID"] == 4689:
            assert int(str(fields["ProcessId"]), 16) in started
    matched = 0
    for event in sysmon:
        fields = event.fields
        if fields["EventID"] != 1:
            continue
        twin = started.get(int(str(fields["ProcessId"])))
        if twin is None or twin["NewProcessName"] != fields["Image"]:
            continue
        matched += 1
        assert twin["CommandLine"] == fields["CommandLine"]
        assert int(str(twin["ProcessId"]), 16) == int(str(fields["ParentProcessId"]))
        if twin["TargetUserName"] == "-":
            assert twin["SubjectLogonId"] == fields["LogonId"]
        else:
            assert twin["TargetLogonId"] == fields["LogonId"] != twin["SubjectLogonId"]
            assert fields["User"].endswith("\\" + str(twin["TargetUserName"]))
        assert twin["ParentProcessName"] == fields["ParentImage"]
    assert matched >= 100


def test_seed_test_cases_are_the_security_log_of_windows_server_2016(events: dict[str, list[Event]]) -> None:
    server = events["windows/win-srv2016/Security.xml"]
    netstat = [
        e
        for e in server
        if e.fields.get("NewProcessName") == "C:\\Windows\\System32\\NETSTAT.EXE"
        and e.fields.get("CommandLine") == "netstat"
    ]
    assert len(netstat) == 1
    pid = netstat[0].fields["NewProcessId"]
    after = [e for e in server if e.fields.get("ProcessId") == pid and e.timestamp >= netstat[0].timestamp]
    assert [e.fields["EventID"] for e in after[:2]] == [4703, 4689]
    assert after[0].fields["EnabledPrivilegeList"] == "SeDebugPrivilege"
    assert (after[1].timestamp - netstat[0].timestamp).total_seconds() < 5
    assert not any(path.startswith("windows/win-srv2016/Sysmon") for path in events)


def test_auditd_events_resolve_users_and_parents(events: dict[str, list[Event]]) -> None:
    derived = [e for e in events["linux/web01/audit.log"] if e.logsource.category == "process_creation"]
    who = [e for e in derived if e.fields.get("CommandLine") == "who -q"]
    assert who and all(
        e.fields["ParentCommandLine"] == "/usr/bin/python3 /usr/bin/landscape-sysinfo" for e in who
    )
    zabbix = [
        e
        for e in derived
        if e.fields.get("CommandLine") == "netstat -ant" and e.fields.get("User") == "zabbix"
    ]
    assert zabbix and all(
        e.fields["ParentCommandLine"] == "sh -c netstat -ant | grep -c ESTABLISHED" for e in zabbix
    )
    assert all(e.fields.get("node") == "web01.corp.example" for e in derived)


def test_eslogger_exec_events_link_parents(events: dict[str, list[Event]]) -> None:
    derived = [
        e for e in events["macos/mbp-alice/eslogger.jsonl"] if e.logsource.category == "process_creation"
    ]
    who = [e for e in derived if e.fields.get("CommandLine") == "who -a"
           and e.fields.get("ParentImage") != "/usr/bin/sysdiagnose"]  # the sysdiagnose trap runs one too
    assert len(who) == 1
    assert (
        who[0].fields["ParentImage"] == "/bin/sh"
        and who[0].fields["ParentCommandLine"] == "sh -c netstat\nwho -a"
    )


def test_background_alone_is_exactly_the_requested_size(tmp_path: Path) -> None:
    summary = simulate(resolve(["atomic-t1049-1"]), tmp_path, background=1234, seed=9)
    assert summary.background == 1234
    assert set(summary.records) == {
        "windows/ws01/Security.xml",
        "windows/ws01/Sysmon.xml",
        "windows/ws01/PowerShell-Operational.xml",
    }
