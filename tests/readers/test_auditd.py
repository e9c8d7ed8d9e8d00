"""The auditd reader: assembly, per-record events, derived process_creation events, bad input."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchpost.events import Event, LogsourceHint
from watchpost.problems import ProblemLog
from watchpost.readers.auditd import AuditdReader
from watchpost.readers.auditd_events import AssembledEvent, EventAssembler
from watchpost.readers.auditd_records import parse_record
from watchpost.readers.base import Source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "linux"
SHARED = Path(__file__).resolve().parents[3] / "shared"
AUDITD_SAMPLES = SHARED / "samples" / "linux" / "auditd"
AUDITD = LogsourceHint(product="linux", service="auditd")
PROCESS_CREATION = LogsourceHint(product="linux", category="process_creation")
T1049_COMMANDS = ["netstat -ant", "ss -tunap", "lsof -i", "who -a", "w"]


def file_source(path: Path) -> Source:
    return Source(str(path), lambda: path.open("rb"), path)


def bytes_source(name: str, data: bytes) -> Source:
    return Source(name, lambda: io.BytesIO(data))


def read(source: Source, reader: AuditdReader | None = None) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    events = list((reader or AuditdReader()).read(source, problems))
    return events, problems


def derived(events: list[Event]) -> list[Event]:
    return [event for event in events if event.logsource == PROCESS_CREATION]


def per_record(events: list[Event]) -> list[Event]:
    return [event for event in events if event.logsource == AUDITD]


def test_raw_fixture_per_record_events() -> None:
    events, problems = read(file_source(FIXTURES / "auditd_raw_t1049.log"))
    assert problems.count() == 0
    records = per_record(events)
    assert Counter(e.get("type") for e in records) == Counter(
        {"SYSCALL": 6, "EXECVE": 6, "CWD": 6, "PATH": 12, "PROCTITLE": 6}
    )
    execve = [e for e in records if e.get("type") == "EXECVE"]
    assert [e.get("a0") for e in execve] == ["-bash", "netstat", "ss", "lsof", "who", "w"]
    assert execve[1].get("a1") == "-ant"
    syscall = next(e for e in records if e.get("type") == "SYSCALL" and e.get("comm") == "netstat")
    assert syscall.get("SYSCALL") == "execve"  # named from arch + number, as enriched logs do
    assert syscall.get("ARCH") == "x86_64"
    assert syscall.get("syscall") == "59"
    assert syscall.get("key") == "susp_activity"
    assert syscall.get("exe") == "/usr/bin/netstat"
    titles = [e.get("proctitle") for e in records if e.get("type") == "PROCTITLE"]
    assert titles[1:] == T1049_COMMANDS
    # Each per-record event points at its own line.
    assert sorted(e.origin.record for e in records if e.origin.record is not None) == list(range(1, 37))


def test_raw_fixture_derived_process_creation() -> None:
    events, _ = read(file_source(FIXTURES / "auditd_raw_t1049.log"))
    processes = derived(events)
    assert [p.get("CommandLine") for p in processes] == ["-bash", *T1049_COMMANDS]
    netstat = processes[1]
    assert netstat.fields == {
        "Image": "/usr/bin/netstat",
        "CommandLine": "netstat -ant",
        "CurrentDirectory": "/home/alice",
        "User": "1000",
        "LogonId": "1000",
        "TerminalSessionId": "4",
        "ProcessId": 2840,
        "ParentProcessId": 2816,
        "key": "susp_activity",
        "tty": "pts0",
        "comm": "netstat",
        "ParentImage": "/usr/bin/bash",
        "ParentCommandLine": "-bash",
    }
    assert netstat.timestamp == datetime(2024, 10, 21, 9, 30, 16, 311000, tzinfo=UTC)
    assert netstat.origin.record == 7 and netstat.origin.kind == "line"
    assert "ParentImage" not in processes[0].fields  # sshd's exec was not in the log
    assert [p.get("Image") for p in processes[1:]] == [
        "/usr/bin/netstat",
        "/usr/sbin/ss",
        "/usr/bin/lsof",
        "/usr/bin/who",
        "/usr/bin/w",
    ]


def test_enriched_fixture_uses_the_translations() -> None:
    events, problems = read(file_source(FIXTURES / "auditd_enriched_t1049.log"))
    assert problems.count() == 0
    syscall = next(e for e in per_record(events) if e.get("type") == "SYSCALL" and e.get("comm") == "who")
    assert syscall.get("SYSCALL") == "execve"
    assert syscall.get("UID") == "alice"
    assert syscall.get("uid") == "1000"
    assert syscall.get("node") == "web01.corp.example"
    path = next(e for e in per_record(events) if e.get("type") == "PATH")
    assert path.get("OUID") == "root"
    processes = derived(events)
    assert [p.get("CommandLine") for p in processes[1:]] == T1049_COMMANDS
    assert {p.get("User") for p in processes} == {"alice"}
    assert {p.get("LogonId") for p in processes} == {"1000"}
    assert {p.host for p in processes} == {"web01.corp.example"}


def test_interpreted_fixture_matches_the_raw_reading() -> None:
    berlin = AuditdReader(interpreted_tz=ZoneInfo("Europe/Berlin"))
    events, problems = read(file_source(FIXTURES / "auditd_interpreted_t1049.txt"), berlin)
    assert problems.count() == 0
    processes = derived(events)
    assert [p.get("CommandLine") for p in processes] == [
        "-bash",
        *T1049_COMMANDS,
        "grep -E ESTAB|LISTEN /tmp/conn list.txt",
    ]
    netstat = processes[1]
    assert netstat.get("Image") == "/usr/bin/netstat"
    assert netstat.get("User") == "alice"
    assert netstat.get("ParentImage") == "/usr/bin/bash"
    # ausearch ran in Europe/Berlin (CEST): 11:30:11 local is 09:30:11 UTC.
    assert netstat.timestamp == datetime(2024, 10, 21, 9, 30, 11, 101000, tzinfo=UTC)
    # The event starts after its "----" line; records are printed last-to-first.
    assert netstat.origin.record == 9
    syscall = next(e for e in per_record(events) if e.get("type") == "SYSCALL" and e.get("comm") == "w")
    assert syscall.get("syscall") == "execve"
    assert syscall.get("SYSCALL") == "execve"


def test_interpreted_time_defaults_to_utc() -> None:
    events, _ = read(file_source(FIXTURES / "auditd_interpreted_t1049.txt"))
    assert derived(events)[1].timestamp == datetime(2024, 10, 21, 11, 30, 11, 101000, tzinfo=UTC)


def test_node_prefix_hex_arguments_and_chunks() -> None:
    events, problems = read(file_source(FIXTURES / "auditd_node_hex_chunked.log"))
    assert problems.count() == 0
    processes = derived(events)
    assert {p.get("node") for p in processes} == {"db02.corp.example"}
    assert processes[0].get("CommandLine") == "ss -tn state established ( dport = :22 or sport = :22 )"
    chunked = processes[1]
    filter_text = "( " + " or ".join(f"dport = :{port}" for port in range(1, 700)) + " )"
    assert chunked.get("CommandLine") == f"ss -tn {filter_text}"
    execve = next(e for e in per_record(events) if e.get("type") == "EXECVE" and e.get("a2_len"))
    assert execve.get("a2") == filter_text
    assert execve.get("a2_len") == str(len(filter_text.encode()))
    assert sum(1 for e in per_record(events) if e.get("type") == "EXECVE") == 5  # 3 records merged
    assert processes[2].get("CurrentDirectory") == "/srv/www/café site"


def test_out_of_order_records_are_assembled() -> None:
    events, problems = read(file_source(FIXTURES / "auditd_node_hex_chunked.log"))
    assert problems.count() == 0
    who = next(p for p in derived(events) if p.get("Image") == "/usr/bin/who")
    w = next(p for p in derived(events) if p.get("Image") == "/usr/bin/w")
    assert who.get("CommandLine") == "who -a" and w.get("CommandLine") == "w -h"
    lines = [e.origin.record for e in per_record(events) if e.timestamp == who.timestamp]
    assert lines == [21, 22, 23, 24, 28, 29]  # PATH item=1 and PROCTITLE came after w's records


def test_a_record_beyond_the_reorder_window_is_reported_as_late() -> None:
    reader = AuditdReader(reorder_window=1)
    events, problems = read(file_source(FIXTURES / "auditd_node_hex_chunked.log"), reader)
    late = problems.of_stage("read")
    # who's PATH item=1 (line 28) comes after w's SYSCALL pushed who out of a 1-event window;
    # it then pushes w out, so w's own PATH item=0 (line 30) is late as well.
    assert [p.place for p in late] == ["line 28", "line 30"]
    assert "late record for audit event 12004" in late[0].reason
    assert "late record for audit event 12005" in late[1].reason
    whole, _ = read(file_source(FIXTURES / "auditd_node_hex_chunked.log"))
    assert len(per_record(events)) == len(per_record(whole)) == 30  # every record still read


def test_two_nodes_with_the_same_serial_stay_apart() -> None:
    events, problems = read(file_source(FIXTURES / "auditd_two_nodes.log"))
    assert problems.count() == 0
    processes = derived(events)
    assert [(p.get("node"), p.get("Image")) for p in processes] == [
        ("db02.corp.example", "/usr/bin/netstat"),
        ("ubu01.corp.example", "/usr/bin/python3.10"),
        ("ubu01.corp.example", "/usr/bin/who"),
    ]
    who = processes[2]
    assert who.get("ParentCommandLine") == "/usr/bin/python3 /usr/bin/landscape-sysinfo"
    assert who.get("ParentImage") == "/usr/bin/python3.10"
    assert "ParentImage" not in processes[0].fields


def test_malformed_lines_are_reported_and_the_rest_is_read() -> None:
    text = (FIXTURES / "auditd_raw_t1049.log").read_bytes().splitlines()
    broken = [*text[:6], b"garbage that is not audit", b"type=CWD msg=audit(soon:1): cwd=/", b"", *text[6:]]
    events, problems = read(bytes_source("broken.log", b"\n".join(broken)))
    assert [(p.place, p.stage) for p in problems.problems] == [("line 7", "read"), ("line 8", "read")]
    assert "not an audit record" in problems.problems[0].reason
    assert "unreadable audit time" in problems.problems[1].reason
    assert all(p.path == "broken.log" for p in problems.problems)
    assert len(derived(events)) == 6


def test_failed_execve_yields_no_process_creation() -> None:
    data = (
        b"type=SYSCALL msg=audit(1.000:9): arch=c000003e syscall=59 success=no exit=-2 items=1 ppid=1 pid=2 "
        b'uid=0 comm="x" exe="/usr/bin/bash"\n'
        b'type=EXECVE msg=audit(1.000:9): argc=1 a0="nosuchcommand"\n'
    )
    events, _ = read(bytes_source("failed.log", data))
    assert derived(events) == []
    assert len(per_record(events)) == 2


def test_execve_on_an_architecture_without_a_syscall_table() -> None:
    data = (
        b"type=SYSCALL msg=audit(1.000:9): arch=c0000015 syscall=11 success=yes exit=0 items=2 ppid=1 pid=2 "
        b'uid=0 comm="netstat" exe="/usr/bin/netstat"\n'
        b'type=EXECVE msg=audit(1.000:9): argc=2 a0="netstat" a1="-ant"\n'
    )
    events, _ = read(bytes_source("ppc64le.log", data))
    assert [(p.get("Image"), p.get("CommandLine")) for p in derived(events)] == [
        ("/usr/bin/netstat", "netstat -ant")
    ]
    syscall = per_record(events)[0]
    assert not syscall.has("SYSCALL") and not syscall.has("ARCH")  # no names invented


def test_otrf_arp_sample() -> None:
    with zipfile.ZipFile(AUDITD_SAMPLES / "otrf_sh_arp_cache.zip") as archive:
        name = archive.namelist()[0]
        data = archive.read(name)
    events, problems = read(bytes_source(f"otrf_sh_arp_cache.zip!{name}", data))
    assert problems.count() == 0
    processes = derived(events)
    assert [(p.get("Image"), p.get("CommandLine")) for p in processes] == [
        ("/usr/sbin/arp", "arp -a"),
        ("/bin/grep", "grep -v ^?"),
    ]
    assert processes[0].timestamp == datetime(2020, 11, 10, 7, 48, 16, 155000, tzinfo=UTC)
    assert processes[0].get("CurrentDirectory") == "/home/wardog"


def _assemble(path: Path) -> list[AssembledEvent]:
    assembler = EventAssembler()
    assembled: list[AssembledEvent] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        record = parse_record(line, number)
        assert record is not None
        assembled.extend(assembler.add(record))
    assembled.extend(assembler.finish())
    return assembled


def test_go_libaudit_out_of_order_log_is_assembled_like_the_normal_log() -> None:
    testdata = AUDITD_SAMPLES / "elastic-go-libaudit" / "testdata"

    def shape(path: Path) -> dict[str, list[str]]:
        return {e.records[0].serial: sorted(r.type for r in e.records) for e in _assemble(path)}

    assert shape(testdata / "out_of_order.log") == shape(testdata / "normal.log")
    assert shape(testdata / "out_of_order.log")["61"] == ["CWD", "PATH", "SOCKADDR", "SYSCALL"]


def _sample_files() -> list[Path]:
    return sorted(p for p in AUDITD_SAMPLES.rglob("*") if p.is_file() and p.suffix in {".log", ".yaml"})


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_every_shared_auditd_sample_is_read(path: Path) -> None:
    events, problems = read(file_source(path))
    lines = path.read_text(errors="replace").splitlines()
    not_records = [n for n, line in enumerate(lines, 1) if line.strip() and "audit(" not in line]
    assert [p.place for p in problems.problems] == [f"line {n}" for n in not_records]
    assert problems.count() == len(not_records)
    assert events, "every sample holds at least one record"
    assert all(e.timestamp.tzinfo is UTC for e in events)


def test_sniff() -> None:
    reader = AuditdReader()
    for name in ("auditd_raw_t1049.log", "auditd_enriched_t1049.log", "auditd_interpreted_t1049.txt"):
        head = (FIXTURES / name).read_bytes()[:4096]
        assert reader.sniff(head, bytes_source(name, head)), name
    for head in (b'{"Records": [{"eventVersion": "1.08"}]}', b"Oct 12 09:10:11 host sysmon: <Event>"):
        assert not reader.sniff(head, bytes_source("x", head))


def test_the_registry_picks_this_reader_for_fixtures_and_samples() -> None:
    from watchpost.readers.registry import sniff

    paths = sorted(FIXTURES.glob("auditd_*")) + _sample_files()
    chosen = {path.name: getattr(sniff(file_source(path)), "name", None) for path in paths}
    assert set(chosen.values()) == {"auditd"}, chosen


def test_the_whole_samples_folder_through_the_registry() -> None:
    from watchpost.readers.registry import read_events

    problems = ProblemLog()
    events = list(read_events([AUDITD_SAMPLES], problems))
    licences = [
        p for p in AUDITD_SAMPLES.rglob("*") if p.is_file() and p.suffix not in {".log", ".yaml", ".zip"}
    ]
    not_records = sum(
        1
        for path in _sample_files()
        for line in path.read_text(errors="replace").splitlines()
        if line.strip() and "audit(" not in line
    )
    assert len(licences) == 4
    unknown = [p for p in problems.problems if p.reason.startswith("unknown format")]
    assert sorted(Path(p.path).name for p in unknown) == sorted(p.name for p in licences)
    assert problems.count() == not_records + len(licences)
    with_execve = {
        str(path)
        for path in _sample_files()
        if any(mark in path.read_text(errors="replace") for mark in ("type=EXECVE", "syscall=59 success=yes"))
    }
    with_execve.add(next(str(p) for p in AUDITD_SAMPLES.glob("*.zip")))
    derived_from = {e.origin.path.partition("!")[0] for e in events if e.logsource == PROCESS_CREATION}
    assert derived_from == with_execve  # every file with an execve (record or x86_64 syscall 59)
