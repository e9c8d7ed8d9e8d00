"""Joins across reads (watch/joins.py): an auditd event whose records are split across two reads
and an eslogger exec whose parent's exec was in an earlier read give the events of one read of
the whole file, also after a restart from a saved position."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.watch.test_followers import write
from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.registry import FORMATS
from watchpost.watch import followers, tails
from watchpost.watch.chunks import Chunk
from watchpost.watch.followers import FileFollower, Follower, FollowOptions, StdinFollower
from watchpost.watch.joins import ReaderSessions, held_back
from watchpost.watch.state import Position

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUDITD = [FIXTURES / "linux" / name for name in (
    "auditd_raw_t1049.log", "auditd_interpreted_t1049.txt", "auditd_enriched_t1049.log",
    "auditd_node_hex_chunked.log", "auditd_two_nodes.log")]
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "linux" / "auditd"
AUDITD_SAMPLES = sorted(path for path in SAMPLES.rglob("*.log") if path.stat().st_size < 1 << 20)
"""go-libaudit's and auparse's logs: out-of-order and lost records, several distributions."""
ESLOGGER = FIXTURES / "macos" / "eslogger_t1049.jsonl"

View = tuple[str, int | None, str, str, str, bytes]


@pytest.fixture(autouse=True)
def patient_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Held lines wait for the rest of their event however slow the machine is (a test that
    wants them to go out alone sets the time itself)."""
    monkeypatch.setattr(tails, "HOLD_SECONDS", 3600.0)
    monkeypatch.setattr(followers, "HOLD_SECONDS", 3600.0)


def view(events: list[Event]) -> list[View]:
    """Everything an event carries, comparable."""
    return [(e.origin.path, e.origin.record, e.origin.kind, e.timestamp.isoformat(), repr(e.logsource),
             orjson.dumps(e.fields, option=orjson.OPT_SORT_KEYS, default=str)) for e in events]


def whole(path: Path, format_name: str) -> list[Event]:
    """What a hunt reads: the whole file at once."""
    return list(FORMATS[format_name].read(file_source(path), ProblemLog()))


def polled(follower: Follower, sessions: ReaderSessions, release: bool = False) -> list[Event]:
    chunks: list[Chunk] = []
    while (chunk := follower.poll(release)) is not None:
        chunks.append(chunk)
    return [event for chunk in chunks for event in sessions.decode(chunk, ProblemLog())]


def lines_of(path: Path) -> list[bytes]:
    """The lines of ``path``, the last one with its newline (the watch waits for it)."""
    lines = path.read_bytes().splitlines(keepends=True)
    return [line if line.endswith(b"\n") else line + b"\n" for line in lines]


@pytest.mark.parametrize("fixture", AUDITD + AUDITD_SAMPLES, ids=lambda path: path.name)
def test_an_auditd_event_split_across_two_reads_is_one_event(tmp_path: Path, fixture: Path) -> None:
    lines = lines_of(fixture)
    for cut in range(1, len(lines)):
        path = tmp_path / f"{cut}-{fixture.name}"
        write(path, b"".join(lines[:cut]).decode())
        follower = FileFollower(path, FollowOptions(ProblemLog()))
        sessions = ReaderSessions()
        got = polled(follower, sessions)
        write(path, b"".join(lines[cut:]).decode())
        got += polled(follower, sessions)
        got += polled(follower, sessions, release=True)  # the end: the last event goes out
        assert view(got) == view(whole(path, "auditd")), f"cut after line {cut}"
        follower.close()


def test_held_lines_wait_for_their_event_then_go_out_alone(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = lines_of(AUDITD[0])  # the first event: SYSCALL EXECVE CWD PATH PATH PROCTITLE
    path = tmp_path / "audit.log"
    write(path, b"".join(lines[:3]).decode())
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    assert follower.poll() is None  # the event may go on: held, not consumed
    assert follower.positions()[0].offset == 0
    write(path, b"".join(lines[3:7]).decode())  # the rest and the next event's SYSCALL
    chunk = follower.poll()
    assert chunk is not None and chunk.data == b"".join(lines[:6])
    assert follower.poll() is None
    monkeypatch.setattr(tails, "HOLD_SECONDS", 0.0)  # the source has been idle long enough
    chunk = follower.poll()
    assert chunk is not None and chunk.data == lines[6] and chunk.lines_before == 6
    assert follower.positions()[0].offset == path.stat().st_size
    follower.close()


def test_held_back_from_the_oldest_event_the_reader_would_still_hold() -> None:
    syscall = b"type=SYSCALL msg=audit(1.5:7): arch=c000003e syscall=59 success=yes items=1\n"
    path = b"type=PATH msg=audit(1.5:7): item=0 name=\"/bin/ss\"\n"
    title = b"type=PROCTITLE msg=audit(1.5:7): proctitle=\"ss\"\n"
    other = b"type=SYSCALL msg=audit(1.6:8): arch=c000003e syscall=2 success=yes items=0\n"
    eoe = b"type=EOE msg=audit(1.5:7): \n"
    user = b"type=USER_LOGIN msg=audit(1.7:9): pid=1 uid=0 msg='op=login res=success'\n"
    assert held_back("auditd", syscall + path) == len(syscall + path)
    assert held_back("auditd", syscall + path + b"\n") == len(syscall + path + b"\n")
    assert held_back("auditd", syscall + path + eoe) == 0
    assert held_back("auditd", syscall + path + title) == 0  # evidently complete
    assert held_back("auditd", syscall + path + title + other) == len(other)
    # interleaved: the event ended by the EOE has records after the first of the one still held
    assert held_back("auditd", syscall + other + path + eoe) == len(syscall + other + path + eoe)
    assert held_back("auditd", syscall + other + path) == len(syscall + other + path)
    assert held_back("auditd", syscall + path + b"----\n") == 0
    assert held_back("auditd", user) == 0
    assert held_back("auditd", b"not a record\n" + user) == 0
    assert held_back("json", syscall + path) == 0
    many = [other.replace(b":8)", f":{n})".encode()) for n in range(10, 80)]
    assert held_back("auditd", syscall + b"".join(many)) == len(b"".join(many[-64:]))  # 64 events at most
    other_eoe = b"type=EOE msg=audit(1.6:8): \n"
    assert held_back("auditd", other + other_eoe + syscall + path + title) == 0


def test_eslogger_parents_from_earlier_reads(tmp_path: Path) -> None:
    lines = lines_of(ESLOGGER)
    path = tmp_path / "es.jsonl"
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    sessions = ReaderSessions()
    got: list[Event] = []
    for line in lines:  # one read per line: every parent is in an earlier read
        write(path, line.decode())
        got += polled(follower, sessions)
    expected = whole(path, "eslogger")
    assert view(got) == view(expected)
    assert got[1].get("ParentCommandLine") == "-zsh"
    follower.close()


def crash_copy(follower: FileFollower) -> dict[str, Position]:
    return {p.key: dataclasses.replace(p) for p in follower.positions()}


@pytest.mark.parametrize(("fixture", "format_name", "cut"), [
    (ESLOGGER, "eslogger", 2), (ESLOGGER, "eslogger", 4), (AUDITD[0], "auditd", 12),
    (AUDITD[0], "auditd", 18), (AUDITD[1], "auditd", 16)], ids=str)
def test_a_restart_rebuilds_the_parents_from_the_lines_before(tmp_path: Path, fixture: Path,
                                                             format_name: str, cut: int) -> None:
    """A new process (new sessions) resumes from a saved position: the lines before it are read
    again for the exec table, so parents exec'd before the restart are still named."""
    lines = lines_of(fixture)
    path = tmp_path / fixture.name
    write(path, b"".join(lines[:cut]).decode())
    first = FileFollower(path, FollowOptions(ProblemLog()))
    got = polled(first, ReaderSessions())  # killed: held lines are read again after the restart
    saved = crash_copy(first)
    first.close()
    write(path, b"".join(lines[cut:]).decode())
    second = FileFollower(path, FollowOptions(ProblemLog(), stored=saved))
    got += polled(second, ReaderSessions(), release=True)
    assert view(got) == view(whole(path, format_name))
    second.close()


def test_parents_before_the_reread_context_are_lost_after_a_restart(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What a restart cannot rebuild: a parent exec'd more than CONTEXT_BYTES before the saved
    position is not named (ParentImage falls back to the exec'ing process's image)."""
    lines = lines_of(ESLOGGER)
    path = tmp_path / "es.jsonl"
    write(path, b"".join(lines[:3]).decode())  # zsh's exec, netstat's exec, a fork
    first = FileFollower(path, FollowOptions(ProblemLog()))
    polled(first, ReaderSessions())
    saved = crash_copy(first)
    first.close()
    monkeypatch.setattr(tails, "CONTEXT_BYTES", len(lines[2]) + 1)  # only the fork's line
    write(path, b"".join(lines[3:]).decode())
    second = FileFollower(path, FollowOptions(ProblemLog(), stored=saved))
    got = polled(second, ReaderSessions())
    expected = whole(path, "eslogger")[3:]
    assert [e.get("ParentCommandLine") for e in expected][:3] == ["-zsh", "-zsh", "-zsh"]
    for event, wanted in zip(got, expected, strict=True):
        fields: dict[str, Any] = dict(wanted.fields)
        if fields.get("EventType") == "exec":
            fields.pop("ParentCommandLine")
            fields["ParentImage"] = fields["process.executable.path"]
        assert event.fields == fields
    second.close()


def test_rotation_reads_each_file_with_its_own_exec_table(tmp_path: Path) -> None:
    """A rotated file and its successor are two files for a hunt: the parent table is not
    carried from one to the other."""
    lines = lines_of(ESLOGGER)
    path = tmp_path / "es.jsonl"
    write(path, b"".join(lines[:2]).decode())
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    sessions = ReaderSessions()
    got = polled(follower, sessions)
    os.rename(path, tmp_path / "es.jsonl.1")
    write(path, b"".join(lines[2:]).decode())
    got += polled(follower, sessions)
    rotated = whole(tmp_path / "es.jsonl.1", "eslogger")
    for event in rotated:
        event.origin = event.origin._replace(path=str(path))  # watched by the name
    assert view(got) == view(rotated + whole(path, "eslogger"))
    follower.close()


def test_standard_input_holds_an_unfinished_audit_event() -> None:
    lines = lines_of(AUDITD[0])
    reader, writer = os.pipe()
    with open(reader, "rb") as stream:
        follower = StdinFollower(FollowOptions(ProblemLog()), stream)
        sessions = ReaderSessions()
        got: list[Event] = []
        with open(writer, "wb", buffering=0) as pipe:
            for line in lines:
                pipe.write(line)
                got += polled(follower, sessions)
        follower.thread.join(timeout=10)
        got += polled(follower, sessions)  # the end of input: nothing held
        assert follower.ended
    expected = whole(AUDITD[0], "auditd")
    for event in expected:
        event.origin = event.origin._replace(path=StdinFollower.NAME)
    assert view(got) == view(expected)


def test_an_over_long_line_after_held_lines_is_still_skipped(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tails, "MAX_LINE", 2000)
    monkeypatch.setattr(tails, "MAX_HELD", 500)
    lines = lines_of(AUDITD[0])
    path = tmp_path / "audit.log"
    write(path, b"".join(lines[:2]).decode())
    problems = ProblemLog()
    follower = FileFollower(path, FollowOptions(problems))
    assert follower.poll() is None  # held: the event may go on
    write(path, "x" * 600)  # a line growing past what a hold may wait behind
    chunk = follower.poll()
    assert chunk is not None and chunk.data == b"".join(lines[:2])
    write(path, "x" * 2000)
    assert follower.poll() is None  # over MAX_LINE without a newline: skipped
    write(path, "\n" + b"".join(lines[2:]).decode())
    rest = polled(follower, ReaderSessions(), release=True)
    assert problems.count("read") == 1 and "longer than 2000 bytes" in problems.problems[0].reason
    assert [e.origin.record for e in rest][:1] == [4]  # the line after the skipped one (line 3)
    follower.close()


def test_a_truncated_file_starts_a_new_exec_table(tmp_path: Path) -> None:
    """Read again from its start, a truncated file's parents are those of its new lines only,
    as for a hunt over it."""
    lines = lines_of(ESLOGGER)
    path = tmp_path / "es.jsonl"
    write(path, b"".join(lines[:3]).decode())  # zsh's exec, then netstat's, its child
    problems = ProblemLog()
    follower = FileFollower(path, FollowOptions(problems))
    sessions = ReaderSessions()
    polled(follower, sessions)
    write(path, lines[1].decode(), mode="w")  # cut (copytruncate), then netstat's exec again
    got = polled(follower, sessions)
    assert problems.count("read") == 1  # the truncation
    assert view(got) == view(whole(path, "eslogger"))
    assert "ParentCommandLine" not in got[0].fields
    follower.close()


def test_the_format_waits_for_lines_that_tell_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first read of only an ``ausearch`` separator does not tell the format: the line waits
    for more (a hunt sniffs the file's first 4 KiB); lines no reader knows are reported once the
    file stopped growing."""
    lines = lines_of(AUDITD[1])
    assert lines[0] == b"----\n"
    path = tmp_path / "ausearch.txt"
    write(path, lines[0].decode())
    problems = ProblemLog()
    follower = FileFollower(path, FollowOptions(problems))
    assert follower.poll() is None and problems.count() == 0
    write(path, b"".join(lines[1:]).decode())
    got = polled(follower, ReaderSessions(), release=True)
    assert follower.positions()[0].format == "auditd"
    assert view(got) == view(whole(path, "auditd"))
    unknown = tmp_path / "unknown.txt"
    write(unknown, "hello\n")
    other = FileFollower(unknown, FollowOptions(problems))
    assert other.poll() is None and problems.count() == 0
    monkeypatch.setattr(tails, "HOLD_SECONDS", 0.0)  # no new bytes for long enough
    chunk = other.poll()
    assert chunk is not None and chunk.format == "-"
    assert problems.count("read") == 1 and "unknown format" in problems.problems[0].reason
    follower.close()
    other.close()
