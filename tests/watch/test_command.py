"""`watchpost watch` as a process: SIGUSR1 health line, --status file, clean SIGTERM; stdin;
EVTX resumed after its last record."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from click.testing import CliRunner

from tests.watch.replay import PROJECT, SEED_EVENTS, jsonl_ids, wait_until, watch_command
from watchpost.commands.watch import watch
from watchpost.hunting.engine import hunt
from watchpost.problems import ProblemLog
from watchpost.watch.evtx_tail import EvtxTail
from watchpost.watch.state import Position, StateStore

SHARED_EVTX = (PROJECT.parent / "shared" / "sigma" / "regression_data" / "rules-emerging-threats" / "2025"
               / "Malware" / "Shai-Hulud" / "proc_creation_win_mal_shai_hulud_malicious_node_bun_execution"
               / "5299fadf-f228-4526-8274-251db1960be9.evtx")


def test_health_status_file_and_clean_sigterm(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(SEED_EVENTS / "netstat_events.xml", logs / "a.xml")
    status = tmp_path / "status.json"
    out = tmp_path / "alerts.jsonl"
    command = watch_command([logs], tmp_path / "state", "--jsonl", str(out), "--status", str(status),
                            "--status-every", "0.2")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT)
    try:
        assert wait_until(lambda: status.exists() and json.loads(status.read_text())["events"] == 3, 30)
        process.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: len(jsonl_ids(out)) >= 2, 10)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    health = [line for line in err.decode().splitlines() if line.startswith("watchpost watch:")]
    assert len(health) >= 2 and "3 events" in health[0] and "logs@" in health[0]
    report = json.loads(status.read_text())
    assert report["sources"][0]["files"] == 1 and report["queued_alerts"] == 0
    assert report["newest_event"].startswith("2021-03-15T08:12:04")
    # Windows still open at SIGTERM were saved: the next run, to the end of input, matches a hunt.
    again = subprocess.run([*command, "--stop-when-idle", "0.5"], cwd=PROJECT, capture_output=True,
                           timeout=60)
    assert again.returncode == 0
    assert sorted(jsonl_ids(out)) == sorted(a.key for a in hunt([str(logs)]))


def test_standard_input(tmp_path: Path) -> None:
    data = (SEED_EVENTS / "net_use_events.xml").read_bytes()
    out = tmp_path / "alerts.jsonl"
    command = [sys.executable, "-m", "watchpost.commands.watch", "-", "--state", str(tmp_path / "state"),
               "--jsonl", str(out), "--stop-when-idle", "0.5", "--poll", "0.05"]
    finished = subprocess.run(command, input=data, cwd=PROJECT, capture_output=True, timeout=60)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    delivered = [json.loads(line) for line in out.read_text().splitlines()]
    assert {a["rule"]["kind"] for a in delivered} == {"detection", "correlation"}
    assert {e["origin"]["path"] for a in delivered for e in a["events"]} == {"<stdin>"}


def test_evtx_is_resumed_after_the_last_record_and_not_read_twice(tmp_path: Path) -> None:
    path = tmp_path / "a.evtx"
    shutil.copy(SHARED_EVTX, path)
    everything = EvtxTail(path, Position("k", str(path)), ProblemLog()).read(1000)
    assert everything is not None and everything.events is not None
    records = [e.origin.record for e in everything.events]
    assert len(records) >= 3
    resumed = EvtxTail(path, Position("k", str(path), record=records[1]), ProblemLog())
    chunk = resumed.read(1000)
    assert chunk is not None and [e.origin.record for e in chunk.events or []] == records[2:]
    path.touch()  # changed but with no new record: parsed again, nothing new
    assert resumed.read(1000) is None


def test_checkpoint_every_must_be_positive(tmp_path: Path) -> None:
    for value in ("0", "-1"):
        arguments = ["x", "--state", str(tmp_path / "state"), "--checkpoint-every", value]
        result = CliRunner().invoke(watch, arguments)
        assert result.exit_code == 2
        assert "--checkpoint-every" in result.output and "x>0" in result.output


def positions_after_a_kill(tmp_path: Path, logs: Path, every: str) -> dict[str, Position]:
    """Run the watch over ``logs`` with ``--checkpoint-every every``, SIGKILL it 1.5 s after it
    read the 3 events, and return the positions its state holds."""
    state, status = tmp_path / f"state-{every}", tmp_path / f"status-{every}.json"
    command = watch_command([logs], state, "--jsonl", str(tmp_path / f"{every}.jsonl"), "--idle", "3600",
                            "--checkpoint-every", every, "--status", str(status), "--status-every", "0.1")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT)
    try:
        assert wait_until(lambda: status.exists() and json.loads(status.read_text())["events"] == 3, 30)
        threading.Event().wait(1.5)
    finally:
        process.kill()
        process.wait(timeout=30)
    store = StateStore(state)
    try:
        return store.positions()
    finally:
        store.close()


def test_checkpoint_every_sets_how_long_positions_wait(tmp_path: Path) -> None:
    """Killed 1.5 s after reading its input: with --checkpoint-every 0.2 the position was saved;
    with 3600 nothing was (the restart reads the input again); --idle is long so that no
    watermark move forces a checkpoint."""
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(SEED_EVENTS / "netstat_events.xml", logs / "a.xml")
    frequent = positions_after_a_kill(tmp_path, logs, "0.2")
    assert [p.offset for p in frequent.values()] == [(logs / "a.xml").stat().st_size]
    assert positions_after_a_kill(tmp_path, logs, "3600") == {}


def test_problems_and_health_lines_are_stripped_of_control_characters(tmp_path: Path) -> None:
    """A file name (and log text quoted in a problem) is attacker-controlled: the watch's closing
    problem lines and health line must not carry terminal escapes to the analyst's console."""
    logs = tmp_path / "logs"
    logs.mkdir()
    hostile = logs / "evil\x1b]0;owned\x07\x1b[2J.jsonl"
    hostile.write_bytes(b'{"not": "closed"\n{"EventID": 1}\n')
    out = tmp_path / "alerts.jsonl"
    command = watch_command([logs], tmp_path / "state", "--jsonl", str(out), "--stop-when-idle", "0.5")
    finished = subprocess.run(command, cwd=PROJECT, capture_output=True, timeout=60)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    err = finished.stderr.decode()
    problems = [line for line in err.splitlines() if line.startswith("problem:")]
    assert any("malformed JSON" in line for line in problems)
    assert any("evil" in line for line in problems)
    assert "watchpost watch:" in err
    assert "\x1b" not in err and "\x07" not in err
