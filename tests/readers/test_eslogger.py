"""The eslogger reader: exec messages as process_creation events, both audit token forms."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import orjson

from watchpost.events import EPOCH, Event, LogsourceHint
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.eslogger import EsloggerReader, normalise_audit_tokens

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "macos" / "eslogger_t1049.jsonl"
SHARED = Path(__file__).resolve().parents[3] / "shared"
RULES = SHARED / "sigma" / "rules"
PROCESS_CREATION = LogsourceHint(product="macos", category="process_creation")


def read(data: bytes, name: str = "es.jsonl") -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(EsloggerReader().read(Source(name, lambda: io.BytesIO(data)), problems)), problems


def test_exec_messages_become_process_creation_events() -> None:
    events, problems = read(FIXTURE.read_bytes())
    assert problems.count() == 0
    assert [e.get("EventType") for e in events] == ["exec", "exec", "fork", "exec", "exec", "exec", "exit"]
    execs = [e for e in events if e.logsource == PROCESS_CREATION]
    assert [(e.get("Image"), e.get("CommandLine")) for e in execs] == [
        ("/bin/zsh", "-zsh"),
        ("/usr/sbin/netstat", "netstat -anv -p tcp"),
        ("/usr/sbin/lsof", "lsof -i -n -P"),
        ("/usr/bin/who", "who -a"),
        ("/usr/bin/w", "w"),
    ]
    netstat = execs[1]
    assert netstat.timestamp == datetime(2024, 10, 21, 12, 40, 14, 504918, tzinfo=UTC)
    assert netstat.get("ProcessId") == 4401
    assert netstat.get("ParentProcessId") == 4312
    assert netstat.get("ParentImage") == "/bin/zsh"
    assert netstat.get("ParentCommandLine") == "-zsh"  # the shell's own exec was seen first
    assert netstat.get("User") == "501"
    assert netstat.get("CurrentDirectory") == "/Users/alice"
    assert netstat.get("ResponsibleProcessId") == 812
    assert netstat.get("SigningId") == "com.apple.netstat"
    assert netstat.get("IsPlatformBinary") is True
    assert netstat.get("event.exec.args") == ["netstat", "-anv", "-p", "tcp"]
    assert netstat.get("process.executable.path") == "/bin/zsh"
    assert (netstat.origin.record, netstat.origin.kind) == (2, "line")


def test_first_exec_falls_back_to_the_pre_exec_image() -> None:
    events, _ = read(FIXTURE.read_bytes())
    shell = events[0]
    assert shell.get("ParentImage") == "/usr/bin/login"  # login's own exec is not in the log
    assert "ParentCommandLine" not in shell.fields


def test_integer_array_audit_tokens() -> None:
    events, _ = read(FIXTURE.read_bytes())
    w = events[5]
    assert isinstance(orjson.loads(FIXTURE.read_bytes().splitlines()[5])["process"]["audit_token"], list)
    assert w.get("ProcessId") == 4440
    assert w.get("User") == "501"
    assert w.get("process.audit_token.pidversion") == 9140
    assert w.get("event.exec.target.parent_audit_token.pid") == 4312
    assert w.get("ParentCommandLine") == "-zsh"
    exit_event = events[6]
    assert exit_event.logsource == LogsourceHint(product="macos")
    assert exit_event.get("process.audit_token.pid") == 4440
    assert exit_event.get("event.exit.stat") == 0


def test_normalise_audit_tokens() -> None:
    message = {"process": {"audit_token": [501, 0, 20, 501, 20, 77, 100012, 5], "ppid": 1}, "tokens": [1, 2]}
    assert normalise_audit_tokens(message) == {
        "process": {
            "audit_token": {
                "auid": 501,
                "euid": 0,
                "egid": 20,
                "ruid": 501,
                "rgid": 20,
                "pid": 77,
                "asid": 100012,
                "pidversion": 5,
            },
            "ppid": 1,
        },
        "tokens": [1, 2],
    }


def test_bad_lines_and_missing_time() -> None:
    good = FIXTURE.read_bytes().splitlines()[1]
    no_time = orjson.dumps({k: v for k, v in orjson.loads(good).items() if k != "time"})
    events, problems = read(b"\n".join([good, b"{broken", b"[1, 2]", no_time]))
    assert len(events) == 2
    assert events[1].timestamp == EPOCH
    assert [p.place for p in problems.problems] == ["line 2", "line 3", "line 4"]


def test_sniff_accepts_eslogger_and_not_other_macos_json() -> None:
    reader = EsloggerReader()
    source = Source("x", lambda: io.BytesIO(b""))
    assert reader.sniff(FIXTURE.read_bytes()[:4096], source)
    elastic = sorted((SHARED / "samples" / "macos").rglob("*.json"))
    assert elastic, "the Elastic Endpoint samples are there"
    assert not any(reader.sniff(path.read_bytes()[:4096], source) for path in elastic)
    assert not reader.sniff(b'{"Records": [{"eventVersion": "1.08", "eventSource": "x"}]}', source)


def test_the_registry_picks_this_reader_for_a_json_named_file() -> None:
    from watchpost.readers.registry import sniff

    data = FIXTURE.read_bytes()
    reader = sniff(Source("eslogger-exec.json", lambda: io.BytesIO(data)))
    assert reader is not None and reader.name == "eslogger"


def test_macos_network_connections_discovery_rule_fires() -> None:
    import watchpost.hunting.engine as engine
    rule = (
        RULES / "macos" / "process_creation" / "proc_creation_macos_system_network_connections_discovery.yml"
    )
    alerts = list(engine.hunt([FIXTURE], rules=[rule]))
    assert [(a.rule.id, a.events[0].get("Image")) for a in alerts] == [
        ("9a7a0393-2144-4626-9bf1-7c2f5a7321db", "/usr/sbin/netstat"),
        ("9a7a0393-2144-4626-9bf1-7c2f5a7321db", "/usr/sbin/lsof"),
        ("9a7a0393-2144-4626-9bf1-7c2f5a7321db", "/usr/bin/who"),
        ("9a7a0393-2144-4626-9bf1-7c2f5a7321db", "/usr/bin/w"),
    ]  # the exit of w carries the same image but is no process_creation event
