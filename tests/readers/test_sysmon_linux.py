"""Sysmon for Linux events read from syslog lines."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from watchpost.events import EPOCH, Event, LogsourceHint
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.sysmon_linux import SysmonLinuxReader

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "linux" / "sysmon_linux_t1049.log"
RULES = Path(__file__).resolve().parents[3] / "shared" / "sigma" / "rules"
PROCESS_CREATION = LogsourceHint(product="linux", service="sysmon", category="process_creation")


def read(data: bytes) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(SysmonLinuxReader().read(Source("syslog", lambda: io.BytesIO(data)), problems)), problems


def test_events_and_categories() -> None:
    events, problems = read(FIXTURE.read_bytes())
    assert problems.count() == 0
    assert [(e.get("EventID"), e.logsource.category) for e in events[:4]] == [
        (16, "sysmon_status"),
        (3, "network_connection"),
        (1, "process_creation"),
        (5, "process_termination"),
    ]
    assert [e.logsource.category for e in events[-3:]] == ["file_event", "process_creation", "file_delete"]
    assert {e.logsource.product for e in events} == {"linux"}
    # The systemd and CRON lines are other programs' messages: skipped, not problems.
    assert len(events) == len(FIXTURE.read_text().splitlines()) - 2


def test_process_creation_fields_are_flat_like_windows() -> None:
    events, _ = read(FIXTURE.read_bytes())
    created = [e for e in events if e.logsource == PROCESS_CREATION]
    assert [e.get("CommandLine") for e in created[:5]] == [
        "netstat -ant",
        "ss -tunap",
        "lsof -i",
        "who -a",
        "w",
    ]
    netstat = created[0]
    assert netstat.timestamp == datetime(2024, 10, 21, 9, 45, 16, 118000, tzinfo=UTC)
    assert netstat.origin.record == 4 and netstat.origin.kind == "line"
    expected = {
        "EventID": 1,
        "Version": 5,
        "Level": 4,
        "Task": 1,
        "Opcode": 0,
        "EventRecordID": 41213,
        "Execution_ProcessID": 874,
        "Execution_ThreadID": 874,
        "Channel": "Linux-Sysmon/Operational",
        "Computer": "web01",
        "Provider_Name": "Linux-Sysmon",
        "Provider_Guid": "{ff032593-a8d3-4f13-b0d6-01fc615a0f97}",
        "Security_UserId": "0",
        "Keywords": "0x8000000000000000",
        "Image": "/usr/bin/netstat",
        "CommandLine": "netstat -ant",
        "CurrentDirectory": "/home/alice",
        "User": "alice",
        "LogonId": "1000",
        "ProcessId": "2840",
        "ParentProcessId": "2816",
        "ParentImage": "/usr/bin/bash",
        "ParentCommandLine": "-bash",
        "UtcTime": "2024-10-21 09:45:16.118",
    }
    assert {name: netstat.get(name) for name in expected} == expected
    assert netstat.host == "web01"


def test_network_and_file_events() -> None:
    events, _ = read(FIXTURE.read_bytes())
    network = events[1]
    assert network.get("DestinationPort") == "22"
    assert network.get("SourceIp") == "198.51.100.77"
    assert network.get("Initiated") == "false"
    created, deleted = events[-3], events[-1]
    assert created.get("TargetFilename") == deleted.get("TargetFilename") == "/tmp/.conns.txt"


def test_bad_lines_are_reported_with_their_line_numbers() -> None:
    good = FIXTURE.read_bytes().splitlines()[3]
    cut = good[: len(good) // 2]
    broken = good.replace(b"<EventID>1</EventID>", b"<EventID>1</EventId>")
    entity = b'Oct 21 09:45:16 web01 sysmon: <!DOCTYPE x [<!ENTITY a "b">]><Event>&a;</Event>'
    no_time = good.replace(b'<TimeCreated SystemTime="2024-10-21T09:45:16.118000000Z"/>', b"").replace(
        b'<Data Name="UtcTime">2024-10-21 09:45:16.118</Data>', b""
    )
    events, problems = read(b"\n".join([good, cut, broken, entity, no_time, good]))
    assert len(events) == 3
    assert events[1].timestamp == EPOCH
    assert [p.place for p in problems.problems] == ["line 2", "line 3", "line 4", "line 5"]
    reasons = [p.reason for p in problems.problems]
    assert "without </Event>" in reasons[0]
    assert "malformed" in reasons[1]
    assert "refused" in reasons[2]
    assert "no readable event time" in reasons[3]


def test_utc_time_is_the_fallback() -> None:
    good = FIXTURE.read_bytes().splitlines()[3]
    without = good.replace(b'<TimeCreated SystemTime="2024-10-21T09:45:16.118000000Z"/>', b"")
    events, problems = read(without)
    assert problems.count() == 0
    assert events[0].timestamp == datetime(2024, 10, 21, 9, 45, 16, 118000, tzinfo=UTC)


def test_sniff() -> None:
    reader = SysmonLinuxReader()
    source = Source("x", lambda: io.BytesIO(b""))
    assert reader.sniff(FIXTURE.read_bytes()[:4096], source)
    windows = b'<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    assert not reader.sniff(windows + b'<Provider Name="Microsoft-Windows-Sysmon"/>', source)
    assert not reader.sniff(b"type=SYSCALL msg=audit(1.000:1): arch=c000003e", source)


def test_the_registry_picks_this_reader() -> None:
    from watchpost.readers.registry import sniff

    reader = sniff(Source(str(FIXTURE), lambda: FIXTURE.open("rb"), FIXTURE))
    assert reader is not None and reader.name == "sysmon-linux"


def test_network_connections_discovery_rule_fires() -> None:
    import watchpost.hunting.engine as engine
    rule = RULES / "linux" / "process_creation" / "proc_creation_lnx_system_network_connections_discovery.yml"
    alerts = list(engine.hunt([FIXTURE], rules=[rule]))
    assert [(a.rule.id, a.events[0].get("Image")) for a in alerts] == [
        ("4c519226-f0cd-4471-bd2f-6fbb2bb68a79", "/usr/bin/netstat"),
        ("4c519226-f0cd-4471-bd2f-6fbb2bb68a79", "/usr/bin/lsof"),
        ("4c519226-f0cd-4471-bd2f-6fbb2bb68a79", "/usr/bin/who"),
        ("4c519226-f0cd-4471-bd2f-6fbb2bb68a79", "/usr/bin/w"),
    ]  # the process_termination events of the same images are not process_creation
    assert {a.host for a in alerts} == {"web01"}
