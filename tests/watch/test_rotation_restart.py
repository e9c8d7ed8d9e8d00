"""A followed file name rotated by rename while watchpost is stopped (or killed) before the old
file was read to its end: the restart finishes the old file (found by identity in the same
directory) from the saved offset, then reads the new file; a rotated file gone is reported."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.watch.replay import labelled_stream, run_to_end, start_watch, wait_until, watch_command
from tests.watch.test_followers import drain, line, texts, write
from watchpost.hunting.engine import hunt
from watchpost.problems import ProblemLog
from watchpost.watch import open_files
from watchpost.watch.followers import FileFollower, FollowOptions
from watchpost.watch.state import Position


def crash_copy(follower: FileFollower) -> dict[str, Position]:
    """The positions a checkpoint would have saved (copies: the follower goes on changing its own)."""
    return {p.key: dataclasses.replace(p) for p in follower.positions()}


def test_killed_while_draining_a_rotated_file_resumes_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(open_files, "READ_LIMIT", 3 * len(line(10)))
    path = tmp_path / "a.jsonl"
    old = [line(n) for n in range(1, 21)]
    new = [line(n, "new") for n in range(21, 31)]
    write(path, "".join(old[:10]))
    first = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts([chunk for _ in range(2) if (chunk := first.poll()) is not None])
    write(path, "".join(old[10:]))
    os.rename(path, tmp_path / "a.jsonl.1")
    write(path, "".join(new))
    read += texts([chunk for _ in range(3) if (chunk := first.poll()) is not None])
    assert first.draining is not None and 0 < len(read) < len(old)  # killed half-way through
    saved = crash_copy(first)
    first.close()
    problems = ProblemLog()
    second = FileFollower(path, FollowOptions(problems, stored=saved))
    read += texts(drain(second))
    assert Counter(read) == Counter(text.strip() for text in old + new)
    assert read == [text.strip() for text in old + new]
    assert problems.count() == 0
    assert second.positions()[0].offset == path.stat().st_size


def test_stopped_after_rotation_with_a_dated_name(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1) + line(2))
    first = FileFollower(path, FollowOptions(ProblemLog()))
    assert len(texts(drain(first))) == 2
    saved = crash_copy(first)
    first.close()
    write(path, line(3) + line(4, "no newline").rstrip("\n"))
    os.rename(path, tmp_path / "a.jsonl-20240101")
    write(path, line(5, "new"))
    second = FileFollower(path, FollowOptions(ProblemLog(), stored=saved))
    got = drain(second)
    assert texts(got) == [line(3).strip(), line(4, "no newline").strip(), line(5, "new").strip()]
    assert [c.lines_before for c in got] == [2, 3, 0]


def test_a_rotated_file_gone_before_it_was_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1) + line(2))
    first = FileFollower(path, FollowOptions(ProblemLog()))
    drain(first)
    saved = crash_copy(first)
    first.close()
    offset = saved[first.key].offset
    write(path, line(3))
    os.rename(path, tmp_path / "a.jsonl.1")
    write(path, line(4, "new"))
    os.remove(tmp_path / "a.jsonl.1")  # compressed or deleted after the rotation
    problems = ProblemLog()
    second = FileFollower(path, FollowOptions(problems, stored=saved))
    assert texts(drain(second)) == [line(4, "new").strip()]
    reported = problems.of_stage("read")
    assert len(reported) == 1 and problems.count("read") == 1
    assert reported[0].path == str(path)
    assert "rotated away before it was read to its end" in reported[0].reason
    assert f"offset {offset}" in reported[0].reason


Signature = tuple[str, str, tuple[str, ...]]


def delivered_signatures(out: Path) -> tuple[Counter[Signature], list[str]]:
    """Each delivered alert as (kind, rule id, its events' times), and the ids delivered twice."""
    delivered = [orjson.loads(text) for text in out.read_bytes().splitlines() if text]
    got = Counter((a["rule"]["kind"], a["rule"]["id"], tuple(sorted(e["timestamp"] for e in a["events"])))
                  for a in delivered)
    return got, [key for key, n in Counter(a["id"] for a in delivered).items() if n > 1]


def hunt_signatures(*inputs: Path) -> Counter[Signature]:
    """The same for `hunt` over ``inputs`` (by rule and event times: the watch names a rotated
    file by the followed name, the hunt by the rotated file's own name)."""
    return Counter(("correlation" if a.correlation is not None else "detection", a.rule.id,
                    tuple(sorted(e.timestamp.isoformat(timespec="microseconds").replace("+00:00", "Z")
                                 for e in a.events)))
                   for a in hunt([str(item) for item in inputs]))


def of_kind(signatures: Counter[Signature], kind: str) -> Counter[Signature]:
    return Counter({key: n for key, n in signatures.items() if key[0] == kind})


def stop_after(command: list[str], log: Path, status: Path, events: int) -> None:
    """Run the watch until it has read ``events`` events, then stop it with SIGTERM (open
    correlation windows are saved, not decided)."""
    process = start_watch([*command, "--status", str(status), "--status-every", "0.1"], log)
    try:
        assert wait_until(lambda: status.exists() and orjson.loads(status.read_bytes())["events"] >= events,
                          timeout=60.0), log.read_text(errors="replace")[-3000:]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]


def rotate_with_unread_lines(path: Path, unread: list[str], new: list[str]) -> None:
    """Lines written while watchpost is stopped, then the file rotated and a new one started."""
    write(path, "\n".join(unread) + "\n")
    os.rename(path, path.with_name(path.name + ".1"))
    write(path, "\n".join(new) + "\n")


def test_watch_stopped_mid_rotation_delivers_the_hunt_alerts_once(tmp_path: Path) -> None:
    """The process: run, stop (SIGTERM), rotate with unread lines in the old file, run again;
    every alert, detections and correlations (whose windows span the stop and the rotation), is
    one of a hunt over the rotated and the new file, delivered once."""
    lines = [item.text for item in labelled_stream(3000) if item.file == "bulk.jsonl"]
    watched = tmp_path / "watched"
    watched.mkdir()
    path = watched / "a.jsonl"
    out = tmp_path / "alerts.jsonl"
    log = tmp_path / "watch.log"
    command = watch_command([path], tmp_path / "state", "--jsonl", str(out))
    write(path, "\n".join(lines[:1000]) + "\n")
    stop_after(command, log, tmp_path / "status.json", 1000)
    rotate_with_unread_lines(path, lines[1000:2000], lines[2000:])
    run_to_end(command, log)
    got, twice = delivered_signatures(out)
    expected = hunt_signatures(watched)
    assert len(of_kind(expected, "detection")) > 20 and len(of_kind(expected, "correlation")) >= 20
    assert twice == []
    assert got == expected


def test_a_restart_after_stop_when_idle_starts_with_empty_windows(tmp_path: Path) -> None:
    """``--stop-when-idle`` ends the input as a hunt does: every open window is decided and
    forgotten. A watch started again over the grown (and rotated) file therefore gives the
    correlation alerts of one hunt over the lines before the first end plus one hunt over the
    lines after it, not those of one hunt over all lines (docs/watch.md); detection alerts are
    those of one hunt."""
    lines = [item.text for item in labelled_stream(3000) if item.file == "bulk.jsonl"]
    watched = tmp_path / "watched"
    watched.mkdir()
    path = watched / "a.jsonl"
    out = tmp_path / "alerts.jsonl"
    log = tmp_path / "watch.log"
    command = watch_command([path], tmp_path / "state", "--jsonl", str(out))
    write(path, "\n".join(lines[:1000]) + "\n")
    run_to_end(command, log)
    rotate_with_unread_lines(path, lines[1000:2000], lines[2000:])
    run_to_end(command, log)
    parts = []
    for number, piece in enumerate((lines[:1000], lines[1000:])):
        part = tmp_path / f"part{number}.jsonl"
        write(part, "\n".join(piece) + "\n")
        parts.append(hunt_signatures(part))
    got, twice = delivered_signatures(out)
    whole = hunt_signatures(watched)
    assert twice == []
    assert of_kind(got, "detection") == of_kind(whole, "detection")
    assert of_kind(got, "correlation") == of_kind(parts[0] + parts[1], "correlation")
    assert of_kind(whole, "correlation") != of_kind(got, "correlation")  # windows span the first end
