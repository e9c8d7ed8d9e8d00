"""`watchpost watch` over a file written in pieces, killed with SIGKILL in the middle: an auditd
event split across polls and an eslogger exec whose parent is in an earlier piece (its parent's
command line keeps a rule's filter working) give the alerts of one hunt over the whole file."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import orjson

from tests.watch.replay import kill, run_to_end, start_watch, wait_until, watch_command
from watchpost.hunting.engine import hunt
from watchpost.sinks.jsonl import dump_alert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def periodic_eslogger() -> list[bytes]:
    """The eslogger fixture with the shell that runs netstat, lsof, who and w being a periodic
    script: the macOS rules filter children of /etc/periodic/ by ParentCommandLine."""
    lines = (FIXTURES / "macos" / "eslogger_t1049.jsonl").read_bytes().splitlines()
    message = orjson.loads(lines[0])
    message["event"]["exec"]["args"] = ["/bin/sh", "/etc/periodic/daily/999.local"]
    return [orjson.dumps(message) + b"\n"] + [line + b"\n" for line in lines[1:]]


def hunted(path: Path) -> list[bytes]:
    """The alerts of one hunt over ``path`` as the JSONL sink writes them, sorted."""
    return sorted(dump_alert(alert) for alert in hunt([str(path)]))


def delivered(out: Path) -> list[bytes]:
    return sorted(out.read_bytes().splitlines())


def replay_pieces(tmp_path: Path, name: str, pieces: list[bytes], kill_after: int) -> tuple[Path, Path]:
    """Write ``pieces`` one poll apart while the watch runs; SIGKILL it after ``kill_after``
    pieces, start it again, and end it once idle."""
    path = tmp_path / name
    path.write_bytes(b"")
    out = tmp_path / "alerts.jsonl"
    log = tmp_path / "watch.log"
    status = tmp_path / "status.json"
    command = watch_command([path], tmp_path / "state", "--jsonl", str(out))
    observed = [*command, "--status", str(status), "--status-every", "0.1"]
    process = start_watch(observed, log)
    assert wait_until(status.exists, timeout=60.0), log.read_text(errors="replace")
    for number, piece in enumerate(pieces, start=1):
        with open(path, "ab") as stream:
            stream.write(piece)
        threading.Event().wait(0.3)  # several polls: the piece is read before the next one
        if number == kill_after:
            kill(process)
            process = start_watch(command, log)
    kill(process)
    run_to_end(command, log)
    return path, out


def test_eslogger_parent_in_an_earlier_piece_and_a_restart(tmp_path: Path) -> None:
    lines = periodic_eslogger()
    path, out = replay_pieces(tmp_path, "es.jsonl", lines, kill_after=2)
    titles = Counter(alert.rule.title for alert in hunt([str(path)]))
    assert "Network Connections Listed With Netstat (macOS)" not in titles  # filtered: periodic
    assert titles["Network Files Listed With Lsof -i (macOS)"] == 1
    assert delivered(out) == hunted(path)  # the same alerts with the same events, each once


def test_auditd_events_split_across_polls_and_a_restart(tmp_path: Path) -> None:
    lines = (FIXTURES / "linux" / "auditd_raw_t1049.log").read_bytes().splitlines(keepends=True)
    cuts = [0, 3, 9, 14, 20, 27, len(lines)]  # each inside an event (6 records each)
    pieces = [b"".join(lines[start:end]) for start, end in zip(cuts, cuts[1:], strict=False)]
    path, out = replay_pieces(tmp_path, "audit.log", pieces, kill_after=3)
    expected = hunted(path)
    assert len(expected) == 6
    assert delivered(out) == expected  # the same alerts with the same events, each once
