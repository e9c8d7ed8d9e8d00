"""Where `watchpost watch` delivers alerts, each alert once across crashes and restarts.

Every sink takes a batch's alerts in `deliver(alerts, checkpoint)` **before** the checkpoint that
follows is written, and adds to it what it needs to remember (a checkpoint gathers the batches
since the last one written; `committed` says it was):

- `DurableJsonlSink` appends the alerts to its file, flushes and fsyncs, and records the file's
  size. On start it cuts a half-written last line and reads the ids of the alerts written after
  the last checkpoint (a crash between its fsync and the checkpoint): those are not written again
  when the restarted watch produces them once more. Their keys go into the first checkpoint that
  records a larger size: a commit may move the size past them before the positions move past
  their events (a network sink's queue is committed every batch, a full checkpoint at most once a
  second), and a watch killed in between reads back only what lies after that size.
- `OutboxSink` (webhook, syslog) queues the alerts in the state file, in the checkpoint's own
  transaction; a sender thread then hands them to the receiver, oldest first, with exponential
  backoff while it fails, and removes each once taken. The queue is bounded: at ``max_queue``
  the watch stops reading input until the receiver catches up (no alert is dropped).
- `TerminalSink` prints one line per alert (no durability: a terminal keeps nothing).

Alerts are identified by `Alert.key` (the alert's ``id``); each sink remembers at least the
newest 49,152 it delivered, in arrays allocated at the start (`watch.recent_keys.RecentKeys`).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from watchpost.alerts import Alert
from watchpost.sinks.jsonl import dump_alert
from watchpost.sinks.terminal_text import sanitise_terminal
from watchpost.watch.recent_keys import RecentKeys
from watchpost.watch.state import Checkpoint, StateStore, open_connection


class DeliverySink(Protocol):
    name: str

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None: ...

    def committed(self) -> None: ...

    def pending(self) -> int: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self, wait: float = 0.0) -> None: ...


class DurableJsonlSink:
    """Alerts appended to a JSONL file, fsynced per batch (see the module docstring)."""

    def __init__(self, path: Path, store: StateStore, name: str = "jsonl") -> None:
        self.name = name
        self.path = path
        self.size_key = f"sink:{name}:size"
        self.written = 0
        known = store.delivered(name)
        saved = store.get_meta(self.size_key)
        checkpointed = int(saved.decode()) if saved is not None else 0
        committed = set(known)
        tail = _recover_tail(path, checkpointed)
        recovered = list(dict.fromkeys(key for key in tail if key not in committed))
        self.recovered = recovered
        """Keys of the alerts after the committed size (written before a crash, not committed):
        they are committed with the first size recorded (`deliver`)."""
        self.recent = RecentKeys(known + recovered)
        self.stream = open(path, "ab")  # noqa: SIM115 - closed by close()

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None:
        keys: list[str] = []
        lines: list[bytes] = []
        for alert in alerts:
            key = alert.key
            if key in self.recent:
                continue
            self.recent.add(key)
            keys.append(key)
            lines.append(dump_alert(alert) + b"\n")
        if lines:
            self.stream.write(b"".join(lines))
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.written += len(lines)
        delivered = checkpoint.delivered.setdefault(self.name, [])
        if self.recovered:  # the size recorded below is past them: only their keys recognise them now
            delivered.extend(self.recovered)
            self.recovered = []
        delivered.extend(keys)
        checkpoint.meta[self.size_key] = str(self.stream.tell()).encode()

    def committed(self) -> None:
        return None

    def pending(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return {"sink": self.name, "path": str(self.path), "written": self.written, "queued": 0}

    def close(self, wait: float = 0.0) -> None:
        self.stream.close()


def _recover_tail(path: Path, checkpointed: int) -> list[str]:
    """Cut a half-written last line; the ids of the alerts after ``checkpointed`` bytes, in
    file order."""
    try:
        if not path.is_file():  # a device or a pipe: nothing to read back
            return []
        size = path.stat().st_size
    except FileNotFoundError:
        return []
    if size < checkpointed:
        checkpointed = 0  # the file was replaced or cut by someone else: read all of it
    with open(path, "r+b") as stream:
        stream.seek(checkpointed)
        tail = stream.read()
        end = tail.rfind(b"\n") + 1
        if end < len(tail):
            stream.truncate(checkpointed + end)
            stream.flush()
            os.fsync(stream.fileno())
    keys: dict[str, None] = {}
    for line in tail[:end].splitlines():
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            keys[value["id"]] = None
    return list(keys)


class TerminalSink:
    """One line per alert on a text stream (standard output by default)."""

    def __init__(self, stream: IO[str] | None = None, name: str = "terminal") -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stdout
        self.written = 0

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None:
        for alert in alerts:
            when = alert.timestamp.strftime("%Y-%m-%d %H:%M:%S")
            line = (f"{when}Z  {alert.rule.level:<13} {alert.rule.title}  "
                    f"host={alert.host or '-'}  id={alert.key}")
            self.stream.write(sanitise_terminal(line) + "\n")  # host and title: not ours
        self.stream.flush()
        self.written += len(alerts)

    def committed(self) -> None:
        return None

    def pending(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return {"sink": self.name, "written": self.written, "queued": 0}

    def close(self, wait: float = 0.0) -> None:
        self.stream.flush()


class Transport(Protocol):
    """Hands one alert to a receiver; raises OSError (or a subclass) when it was not taken."""

    def send(self, body: bytes, key: str, alert: dict[str, Any]) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


class OutboxSink:
    """Alerts queued in the state file and sent by a thread (see the module docstring)."""

    def __init__(self, name: str, transport: Transport, store: StateStore, max_queue: int = 10_000,
                 backoff: tuple[float, float] = (0.5, 60.0)) -> None:
        self.name = name
        self.transport = transport
        self.max_queue = max_queue
        self.backoff_first, self.backoff_max = backoff
        self.recent = RecentKeys(store.delivered(name))
        self.database = store.path
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None
        self.queued = store.queued(name)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"watchpost-{name}", daemon=True)
        self.thread.start()

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None:
        keys: list[str] = []
        for alert in alerts:
            key = alert.key
            if key in self.recent:
                continue
            self.recent.add(key)
            keys.append(key)
            checkpoint.outbox.append((self.name, key, dump_alert(alert)))
        checkpoint.delivered.setdefault(self.name, []).extend(keys)
        self.queued += len(keys)

    def committed(self) -> None:
        self.wake.set()

    def pending(self) -> int:
        return self.queued

    def describe(self) -> dict[str, Any]:
        return {"sink": self.name, "target": self.transport.describe(), "sent": self.sent,
                "queued": self.queued, "failures": self.failures, "last_error": self.last_error}

    def close(self, wait: float = 0.0) -> None:
        """Stop the sender, after up to ``wait`` seconds to empty the queue."""
        deadline = time.monotonic() + wait
        while self.queued and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.05)
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=5)
        self.transport.close()

    def _run(self) -> None:
        """Send until stopped; a fault of the state file (full, locked, read-only) is kept as
        the last error and the sender tries again a second later (the watch reports it)."""
        while not self.stopping.is_set():
            try:
                connection = open_connection(self.database)
                try:
                    self._send_queued(connection)
                finally:
                    connection.close()
            except sqlite3.Error as exc:
                self.failures += 1
                self.last_error = f"state file {self.database}: {exc}"
                self.stopping.wait(1.0)

    def _send_queued(self, connection: sqlite3.Connection) -> None:
        while not self.stopping.is_set():
            rows = connection.execute(
                "SELECT seq, key, body FROM outbox WHERE sink = ? ORDER BY seq LIMIT 100",
                (self.name,)).fetchall()
            self.queued = _count(connection, self.name)
            if not rows:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            for seq, key, body in rows:
                if not self._send_until_taken(connection, seq, key, bytes(body)):
                    return

    def _send_until_taken(self, connection: sqlite3.Connection, seq: int, key: str, body: bytes) -> bool:
        delay = self.backoff_first
        alert = orjson.loads(body)
        while not self.stopping.is_set():
            try:
                self.transport.send(body, key, alert)
            except OSError as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                connection.execute("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", (seq,))
                self.stopping.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            connection.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self.sent += 1
            self.queued = max(0, self.queued - 1)
            self.last_error = None
            return True
        return False


def _count(connection: sqlite3.Connection, sink: str) -> int:
    return int(connection.execute("SELECT count(*) FROM outbox WHERE sink = ?", (sink,)).fetchone()[0])
