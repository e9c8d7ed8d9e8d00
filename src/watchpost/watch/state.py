"""Durable state of `watchpost watch`: one SQLite file under the ``--state`` directory.

Everything a restart needs is written in **one transaction** (`StateStore.checkpoint`), after the
sinks have made the alerts durable (written and fsynced, or queued); a full checkpoint (positions
and correlation state) at most every ``checkpoint_every`` seconds, and in between a transaction
with only the alerts queued for network sinks and the delivered keys when a batch queued some:

- ``positions``: per source (its follower's key and its name), the file identity (``st_dev``,
  ``st_ino``), the byte offset just after the last fully processed line, how many lines and
  ``<Event>`` elements lie before it (so origins keep the numbers a hunt gives), the last EVTX
  record processed, and the format;
- ``meta``: the pickled correlation engine's structure (``correlation``), the fingerprint of the rules it
  belongs to (``rules``), and small per-sink values (``sink:<name>:<key>``, e.g. the size of a
  JSONL sink's file at the checkpoint);
- ``occurrences``: the occurrences the correlation structure refers to, one pickled row each,
  written once (`watchpost.watch.correlation_state`);
- ``delivered``: keys of alerts already handed to each sink (newest ``DELIVERED_KEEP`` per sink);
- ``outbox``: alerts queued for sinks that send over the network (webhook, syslog); a sender
  removes a row once its receiver took it.

A crash at any point leaves the previous checkpoint: processing resumes from its positions with
its correlation state, and re-produces exactly the alerts made after it, which the sinks
recognise by key (docs/watch.md, "Crash safety").
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchpost.watch.state_faults import classify

STATE_FILE = "watchpost-state.sqlite"
SCHEMA_VERSION = "1"
DELIVERED_KEEP = 100_000
"""Delivered keys kept per sink (only alerts after the last checkpoint can come again)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS positions (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, dev INTEGER, ino INTEGER, offset INTEGER NOT NULL,
    lines INTEGER NOT NULL, elements INTEGER NOT NULL, record INTEGER NOT NULL, format TEXT,
    head TEXT, mtime_ns INTEGER, done TEXT);
CREATE TABLE IF NOT EXISTS delivered (
    sink TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, key));
CREATE INDEX IF NOT EXISTS delivered_seq ON delivered (sink, seq);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, key TEXT NOT NULL,
    body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_sink ON outbox (sink, seq);
CREATE TABLE IF NOT EXISTS occurrences (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
"""
_POSITION_COLUMNS = "key, name, dev, ino, offset, lines, elements, record, format, head, mtime_ns, done"
_ADDED_COLUMNS = (("head", "TEXT"), ("mtime_ns", "INTEGER"), ("done", "TEXT"))
"""Columns of ``positions`` added after the first release (added to older state files)."""
WAL_LIMIT = 16 << 20
"""Bytes the write-ahead log is cut back to after SQLite checkpoints it (it would keep its
largest size otherwise)."""


@dataclass
class Position:
    """How far one source has been processed. ``key`` identifies the follower (``file:<path>``
    for a followed name, ``inode:<dev>:<ino>`` for a file found in a directory); ``name`` is what
    origins show."""

    key: str
    name: str
    dev: int | None = None
    ino: int | None = None
    offset: int = 0
    lines: int = 0
    elements: int = 0
    record: int = 0
    format: str | None = None
    head: str | None = None
    """Fingerprint of the file's first bytes (`watchpost.watch.identity.head_of`): with the
    identity, tells a file from another at the same ``(st_dev, st_ino)``, and a file truncated and
    rewritten in place (copytruncate) from the one read."""
    mtime_ns: int | None = None
    """The file's modification time when the position was saved (orders rotated siblings)."""
    done: str | None = None
    """For a followed name: the files rotated away and read to their end, most recent last
    (`watchpost.watch.identity.Finished`)."""

    @property
    def identity(self) -> tuple[int, int] | None:
        return None if self.dev is None or self.ino is None else (self.dev, self.ino)


@dataclass
class Checkpoint:
    """What one batch changes; written by `StateStore.checkpoint` in one transaction."""

    positions: list[Position] = field(default_factory=list)
    correlation: bytes | None = None
    delivered: dict[str, list[str]] = field(default_factory=dict)
    outbox: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(sink, alert key, body) rows to queue."""
    occurrences_added: list[tuple[int, bytes]] = field(default_factory=list)
    occurrences_removed: list[int] = field(default_factory=list)
    meta: dict[str, bytes] = field(default_factory=dict)


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection with the settings every user of the file needs (WAL, full sync, waits)."""
    connection = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
    return connection


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(positions)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            connection.execute(f"ALTER TABLE positions ADD COLUMN {name} {kind}")


class StoredOccurrences(Mapping[int, bytes]):
    """The ``occurrences`` rows by seq: the seqs present when it is made are read at once (for
    ``in``, ``len`` and iteration), each body when asked for, from the current table (a restored
    correlation engine reads only the rows of occurrences it did not park, and a parked
    occurrence is read back when an alert needs it)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.seqs = {int(row[0]) for row in connection.execute("SELECT seq FROM occurrences")}

    def __getitem__(self, seq: int) -> bytes:
        row = self.connection.execute("SELECT body FROM occurrences WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return bytes(row[0])

    def __contains__(self, seq: object) -> bool:
        return seq in self.seqs

    def __iter__(self) -> Iterator[int]:
        return iter(self.seqs)

    def __len__(self) -> int:
        return len(self.seqs)


class StateStore:
    """The state file: read once at start, then one `checkpoint` per batch."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.connection = open_connection(self.path)
            self.connection.executescript(_SCHEMA)
            _add_missing_columns(self.connection)
            version = self.get_meta("schema")
            if version is None:
                self._write_meta({"schema": SCHEMA_VERSION.encode()})
            self._delivered_seq = self._max_delivered_seq()
            self.connection.execute("PRAGMA quick_check(1)").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise classify(directory, exc) from exc
        if version is not None and version.decode() != SCHEMA_VERSION:
            raise ValueError(f"{self.path}: state schema {version.decode()!r}, this watchpost needs "
                             f"{SCHEMA_VERSION!r}; use another --state directory")

    # -- reading ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def positions(self) -> dict[str, Position]:
        rows = self.connection.execute(f"SELECT {_POSITION_COLUMNS} FROM positions")
        return {row[0]: Position(*row) for row in rows}

    def delivered(self, sink: str) -> list[str]:
        """The keys delivered by ``sink``, oldest first."""
        rows = self.connection.execute("SELECT key FROM delivered WHERE sink = ? ORDER BY seq", (sink,))
        return [row[0] for row in rows]

    def occurrences(self) -> dict[int, bytes]:
        rows = self.connection.execute("SELECT seq, body FROM occurrences")
        return {int(seq): bytes(body) for seq, body in rows}

    def stored_occurrences(self) -> StoredOccurrences:
        """The ``occurrences`` rows as a mapping that reads a body only when asked for it."""
        return StoredOccurrences(self.connection)

    def clear_occurrences(self) -> None:
        """For a correlation engine that starts empty (its seqs start again from 0)."""
        self.connection.execute("DELETE FROM occurrences")

    def queued(self, sink: str | None = None) -> int:
        if sink is None:
            row = self.connection.execute("SELECT count(*) FROM outbox").fetchone()
        else:
            row = self.connection.execute("SELECT count(*) FROM outbox WHERE sink = ?", (sink,)).fetchone()
        return int(row[0])

    # -- writing ---------------------------------------------------------------------------

    def checkpoint(self, batch: Checkpoint) -> None:
        """Write ``batch`` atomically (all of it or, after a crash, none of it). A fault of the
        state folder raises `StateFault` and leaves the previous checkpoint as it was."""
        try:
            self._checkpoint(batch)
        except (sqlite3.Error, OSError) as exc:
            raise classify(self.directory, exc) from exc

    def _checkpoint(self, batch: Checkpoint) -> None:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                f"INSERT OR REPLACE INTO positions ({_POSITION_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                [(p.key, p.name, p.dev, p.ino, p.offset, p.lines, p.elements, p.record, p.format, p.head,
                  p.mtime_ns, p.done) for p in batch.positions])
            meta = dict(batch.meta)
            if batch.correlation is not None:
                meta["correlation"] = batch.correlation
            connection.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
            for sink, keys in batch.delivered.items():
                self._add_delivered(sink, keys)
            connection.executemany("INSERT INTO outbox (sink, key, body) VALUES (?, ?, ?)", batch.outbox)
            connection.executemany("DELETE FROM occurrences WHERE seq = ?",
                                   [(seq,) for seq in batch.occurrences_removed])
            connection.executemany("INSERT OR REPLACE INTO occurrences VALUES (?, ?)",
                                   batch.occurrences_added)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT may have rolled back already
                with contextlib.suppress(sqlite3.Error):  # the first error is the one to tell
                    connection.execute("ROLLBACK")
            raise

    def forget_positions(self, keys: Iterable[str]) -> None:
        try:
            self.connection.executemany("DELETE FROM positions WHERE key = ?", [(k,) for k in keys])
        except (sqlite3.Error, OSError) as exc:
            raise classify(self.directory, exc) from exc

    def set_meta(self, values: dict[str, bytes]) -> None:
        self._write_meta(values)

    def close(self) -> None:
        self.connection.close()

    def _write_meta(self, values: dict[str, bytes]) -> None:
        self.connection.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    def _add_delivered(self, sink: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        rows = []
        for key in keys:
            self._delivered_seq += 1
            rows.append((sink, key, self._delivered_seq))
        self.connection.executemany("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?)", rows)
        self.connection.execute(
            "DELETE FROM delivered WHERE sink = ? AND seq <= ?", (sink, self._delivered_seq - DELIVERED_KEEP))

    def _max_delivered_seq(self) -> int:
        row = self.connection.execute("SELECT max(seq) FROM delivered").fetchone()
        return int(row[0] or 0)
