"""`watchpost watch` under faults, as a process and in-process (issue 20, 4; issue 14, 7): a sink
that keeps failing is told on standard error at once and then at a bounded rate, counted as
problems, and an end with alerts undelivered exits `EXIT_UNDELIVERED`; a name that does not
exist is announced; lag and horizon read as durations and times; a full, read-only or damaged
state folder is one line naming cause and folder, exit `EXIT_STATE`, and nothing is lost once the
fault is gone."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.watch.replay import PROJECT, append, jsonl_ids, labelled_stream, watch_command
from watchpost.exit_codes import EXIT_OK, EXIT_STATE, EXIT_UNDELIVERED
from watchpost.hunting.engine import hunt
from watchpost.watch.delivery import DurableJsonlSink, TerminalSink
from watchpost.watch.loop import Watch, WatchOptions
from watchpost.watch.state import STATE_FILE, StateStore
from watchpost.watch.state_faults import StateFault
from watchpost.watch.status import SinkAlarm, readable_lag


def bulk(tmp_path: Path, count: int = 1200) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    append(logs, [line for line in labelled_stream(count) if line.file == "bulk.jsonl"])
    return logs / "bulk.jsonl"


def refused_port() -> int:
    """A port on 127.0.0.1 nothing listens on (a receiver that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False)


def test_a_webhook_refusing_connections_is_told_counted_and_the_end_exits_undelivered(tmp_path: Path) -> None:
    source = bulk(tmp_path)
    url = f"http://127.0.0.1:{refused_port()}/alerts"
    command = watch_command([source], tmp_path / "state", "--webhook", url, "--no-terminal",
                            "--stop-when-idle", "1.5", "--deliver-timeout", "0.5")
    finished = run(command)
    assert finished.returncode == EXIT_UNDELIVERED, finished.stderr[-2000:]
    err = finished.stderr.splitlines()
    failing = [line for line in err if "sink webhook" in line and "failing" in line]
    assert len(failing) == 1  # at once, then at most once a minute
    assert "127.0.0.1" in failing[0] and "alerts queued" in failing[0]
    health = err[-2] if "undelivered" in err[-1] else err[-1]
    problems = int(re.search(r"problems: (\d+)", health).group(1))  # type: ignore[union-attr]
    assert problems >= 1 and "delivery failures" in health
    expected = len(list(hunt([str(source)])))
    assert f"alerts still undelivered at the end: {expected} for webhook" in err[-1]
    assert "Traceback" not in finished.stderr


def test_the_alarm_repeats_at_a_bounded_rate_and_says_when_the_sink_recovers() -> None:
    class Flaky:
        name = "webhook"
        error: str | None = "ConnectionRefusedError: [Errno 111] Connection refused"

        def describe(self) -> dict[str, object]:
            return {"sink": self.name, "target": "http://127.0.0.1:9/", "queued": 3, "failures": 7,
                    "last_error": self.error}

    now = [0.0]
    said: list[str] = []
    sink = Flaky()
    alarm = SinkAlarm([sink], said.append, every=60.0, clock=lambda: now[0])  # type: ignore[list-item]
    for moment in range(0, 200, 5):  # failing for 200 s, checked every 5 s
        now[0] = float(moment)
        alarm.check()
    assert len(said) == 4 and all("failing" in line for line in said)  # at 0, 60, 120, 180 s
    sink.error = None
    alarm.check()
    alarm.check()
    assert said[-1].startswith("sink webhook delivering again") and len(said) == 5


def test_a_followed_name_that_does_not_exist_is_announced_and_the_health_line_is_readable(
        tmp_path: Path) -> None:
    missing = tmp_path / "not-yet" / "app.log"
    finished = run(watch_command([missing], tmp_path / "state", "--stop-when-idle", "0.3"))
    assert finished.returncode == EXIT_OK, finished.stderr[-2000:]
    assert f"watchpost watch: waiting for {missing}: it does not exist yet" in finished.stderr
    health = finished.stderr.splitlines()[-1]
    assert "lag - (no event yet)" in health and "horizon none yet" in health and "None" not in health


def test_lag_and_horizon_read_as_durations_and_times(tmp_path: Path) -> None:
    source = bulk(tmp_path, 300)
    finished = run(watch_command([source], tmp_path / "state", "--stop-when-idle", "0.3", "--no-terminal",
                                 "--jsonl", str(tmp_path / "a.jsonl")))
    health = finished.stderr.splitlines()[-1]
    assert re.search(r"lag \d+ d( \d+ h)?,", health), health  # events of 2021
    assert readable_lag(0.42) == "0.4 s" and readable_lag(75) == "1 min 15 s"
    assert readable_lag(7200) == "2 h" and readable_lag(67110801.033) == "776 d 17 h"
    assert readable_lag(-3) == "3.0 s ahead"


def test_a_damaged_state_database_is_one_line_and_exit_state(tmp_path: Path) -> None:
    source = bulk(tmp_path, 100)
    state = tmp_path / "state"
    state.mkdir()
    (state / STATE_FILE).write_bytes(b"this is not a database\n" * 200)
    finished = run(watch_command([source], state, "--stop-when-idle", "0.3"))
    assert finished.returncode == EXIT_STATE
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in finished.stderr
    assert f"state folder {state} holds a damaged state database" in lines[0]
    assert "file is not a database" in lines[0]


def read_only_run(command: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    """``command`` with ``state`` read-only: by its modes, or (root ignores them) as a read-only
    bind mount in a mount namespace of its own."""
    if os.geteuid() != 0:
        for path in [state, *state.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            return run(command)
        finally:
            for path in [state, *state.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
    if shutil.which("unshare") is None:
        pytest.skip("root, and no unshare for a read-only mount")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    finished = run(["unshare", "-m", "sh", "-c", script, str(state), *command])
    if "mount" in finished.stderr and "watchpost watch" not in finished.stderr:
        pytest.skip(f"no read-only bind mount here: {finished.stderr.strip()[:200]}")
    return finished


def test_a_read_only_state_folder_is_one_line_and_exit_state_and_nothing_is_lost(tmp_path: Path) -> None:
    source = bulk(tmp_path, 300)
    state, out = tmp_path / "state", tmp_path / "alerts.jsonl"
    first = Watch(WatchOptions(poll_interval=0.01), [str(source)], store := StateStore(state),
                  [sink := DurableJsonlSink(out, store)])
    first._step()  # noqa: SLF001 - one batch, then stopped as by a kill
    sink.close()
    store.close()
    append(source.parent, [line for line in labelled_stream(1500, seed=3) if line.file == "bulk.jsonl"])
    command = watch_command([source], state, "--stop-when-idle", "0.3", "--jsonl", str(out))
    finished = read_only_run(command, state)
    assert finished.returncode == EXIT_STATE, finished.stderr[-2000:]
    assert f"state folder {state} is read-only" in finished.stderr and "Traceback" not in finished.stderr
    assert run(command).returncode == EXIT_OK  # writable again
    assert sorted(jsonl_ids(out)) == sorted(alert.key for alert in hunt([str(source)]))


def test_a_full_state_folder_stops_the_watch_and_nothing_is_lost_once_space_is_back(tmp_path: Path) -> None:
    source = bulk(tmp_path, 600)
    state, out = tmp_path / "state", tmp_path / "alerts.jsonl"
    expected_early = {alert.key for alert in hunt([str(source)])}
    store = StateStore(state)
    sink = DurableJsonlSink(out, store)
    Watch(WatchOptions(poll_interval=0.01, checkpoint_every=0.01), [str(source)], store, [sink])._step()
    sink.close()
    store.close()
    append(source.parent, [line for line in labelled_stream(3000, seed=11) if line.file == "bulk.jsonl"])
    expected = sorted(alert.key for alert in hunt([str(source)]))
    assert len(expected) > len(expected_early)

    store = StateStore(state)
    store.connection.execute("VACUUM")  # no free page left to reuse
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    sink = DurableJsonlSink(out, store)
    options = WatchOptions(poll_interval=0.01, stop_when_idle=0.2, checkpoint_every=0.001,
                           batch_bytes=1 << 16)
    watch = Watch(options, [str(source)], store, [sink])
    with pytest.raises(StateFault) as fault:
        watch.run()
    sink.close()
    store.close()
    assert fault.value.cause == "full" and str(state) in fault.value.line()
    assert "cannot rollback" not in fault.value.line()

    store = StateStore(state)  # space is back
    sink = DurableJsonlSink(out, store)
    Watch(WatchOptions(poll_interval=0.01, stop_when_idle=0.2), [str(source)], store, [sink]).run()
    sink.close()
    store.close()
    assert sorted(jsonl_ids(out)) == expected


def test_sqlite_faults_are_classified() -> None:
    from watchpost.watch.state_faults import classify

    folder = Path("/nonexistent-folder-for-the-test")
    assert classify(folder, sqlite3.DatabaseError("database disk image is malformed")).cause == "damaged"
    read_only = sqlite3.OperationalError("attempt to write a readonly database")
    assert classify(folder, read_only).cause == "read-only"
    assert classify(folder, OSError(28, "No space left on device")).cause == "full"


def test_a_state_folder_that_cannot_grow_is_one_line_and_exit_state_as_a_process(tmp_path: Path) -> None:
    """The file size limit (``ulimit -f``) stands for a full disk: SQLite's write fails, the
    watch says the folder is full and exits `EXIT_STATE`; the next run delivers every alert."""
    import resource

    source = bulk(tmp_path, 300)
    state = tmp_path / "state"
    out = tmp_path / "alerts.txt"
    command = watch_command([source], state, "--stop-when-idle", "0.3", "--checkpoint-every", "0.01")
    with open(out, "w", encoding="utf-8") as stream:  # a first run, stopped (windows saved, not closed)
        store = StateStore(state)
        first = Watch(WatchOptions(poll_interval=0.01, checkpoint_every=0.001), [str(source)], store,
                      [TerminalSink(stream)])
        for _ in range(3):
            first._step()  # noqa: SLF001 - batches as `run` makes them
        store.close()
    append(source.parent, [line for line in labelled_stream(3000, seed=5) if line.file == "bulk.jsonl"])
    limit = max(path.stat().st_size for path in state.iterdir()) + 4096

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    finished = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=60,
                              check=False, preexec_fn=small_files)  # noqa: PLW1509 - the test's fault
    assert finished.returncode == EXIT_STATE, finished.stderr[-2000:]
    lines = finished.stderr.strip().splitlines()
    assert f"state folder {state} is full" in lines[0] and "Traceback" not in finished.stderr
    with open(out, "a", encoding="utf-8") as stream:  # terminal lines: not limited by the child
        stream.write(finished.stdout)  # what the faulty run delivered before its fault
        assert subprocess.run(command, cwd=PROJECT, stdout=stream, stderr=subprocess.DEVNULL,
                              timeout=60, check=False).returncode == EXIT_OK
    delivered = [line.rsplit("id=", 1)[1] for line in out.read_text(encoding="utf-8").splitlines()
                 if "id=" in line]
    assert sorted(set(delivered)) == sorted(alert.key for alert in hunt([str(source)]))
