"""Followers: which file to read next, as ``tail -F`` does, for files, directories and stdin.

- `FileFollower` follows a **name**: appends; rotation by rename (the file at the name gets a new
  ``(st_dev, st_ino)``: the old file is read to its end, then the new one from its start; after a
  restart the saved file is looked for by identity in the same directory and finished first, or
  reported if gone);
  truncation (the size drops below the position: read again from the start); a file that does
  not exist yet (read from its start once it appears). EVTX files are read by `EvtxTail`
  (``evtx_tail.py``): only the chunks holding records after the last one processed are decoded.
- `DirectoryFollower` polls a directory (recursively) and follows each file it finds **by
  identity**: a rotated file keeps its follower under its new name (no line read twice), the new
  file at the old name is a new file, read from its start. A deleted file is read to its end.
- `StdinFollower` reads standard input in a thread (its position cannot be saved).

Every follower yields `Chunk`s of complete lines (or EVTX events) and exposes its `Position`s
for the checkpoint.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from watchpost.problems import ProblemLog
from watchpost.watch.chunks import Chunk, count_elements
from watchpost.watch.evtx_tail import EvtxTail
from watchpost.watch.joins import HOLD_SECONDS, held_back
from watchpost.watch.state import Position
from watchpost.watch.tails import LineTail, identity_of, is_evtx, sniff_format

READ_LIMIT = 1 << 20
"""Bytes of lines (or, for EVTX, events / 100) one poll of one source takes at most."""


class Follower(Protocol):
    """One input being followed."""

    def poll(self, release: bool = False) -> Chunk | None:
        """The next chunk, None when nothing new; ``release``: lines held back for a join
        (`watchpost.watch.joins`) go out now (the watch is ending)."""
        ...

    def positions(self) -> list[Position]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class FollowOptions:
    """Settings shared by all followers of one watch."""

    def __init__(self, problems: ProblemLog, input_format: str | None = None,
                 start_at_end: bool = False, stored: dict[str, Position] | None = None) -> None:
        self.problems = problems
        self.input_format = input_format
        self.start_at_end = start_at_end
        self.stored = stored or {}
        self.by_identity = {p.identity: p for p in self.stored.values() if p.identity is not None}


class _OpenFile:
    """One open file with its tail (lines or EVTX)."""

    def __init__(self, path: Path, position: Position, options: FollowOptions, at_end: bool) -> None:
        self.handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        stat = os.fstat(self.handle.fileno())
        self.identity = identity_of(stat)
        position.dev, position.ino = self.identity
        self.position = position
        self.evtx: EvtxTail | None = None
        self.lines: LineTail | None = None
        if options.input_format == "evtx" or (options.input_format is None and is_evtx(path)):
            self.evtx = EvtxTail(path, position, options.problems)
        else:
            self.lines = LineTail(self.handle, position, options.problems, options.input_format)
            if at_end:
                position.offset = stat.st_size  # lines before are not counted: origins start anew
            elif self.lines.truncated():
                self.lines.restart()

    def read(self, final: bool = False, release: bool = False) -> Chunk | None:
        if self.evtx is not None:
            return self.evtx.read(READ_LIMIT // 100)
        assert self.lines is not None
        if self.lines.truncated():
            self.lines.restart()
        return self.lines.read(READ_LIMIT, final, release)

    def close(self) -> None:
        self.handle.close()


class FileFollower:
    """Follows one file name (``tail -F``)."""

    def __init__(self, path: Path, options: FollowOptions) -> None:
        self.path = path
        self.name = str(path)
        self.key = f"file:{self.name}"
        self.options = options
        self.current: _OpenFile | None = None
        self.draining: _OpenFile | None = None  # the old file after a rotation, read to its end
        self.first_open = True

    def poll(self, release: bool = False) -> Chunk | None:
        self._check_name()
        if self.draining is not None:
            chunk = self.draining.read(final=True)
            if chunk is not None:
                return chunk
            self.draining.close()
            self.draining = None
        return self.current.read(release=release) if self.current is not None else None

    def _check_name(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            return  # missing: keep reading the open file (if any) until a new one appears
        if self.current is not None and identity_of(stat) == self.current.identity:
            return
        if self.current is None and stat.st_size == 0:
            return  # wait for content: an empty file's format is unknown
        stored = self.options.stored.get(self.key)
        position = Position(self.key, self.name)
        at_end = False
        if self.current is not None:  # rotated: finish the old file first
            self.draining = self.current
            self.current = None
        elif stored is not None and stored.identity == identity_of(stat):
            position = stored
        elif stored is not None:
            self._resume_rotated(stored)
        elif self.first_open:
            at_end = self.options.start_at_end
        self.first_open = False
        try:
            opened = _OpenFile(self.path, position, self.options, at_end)
        except OSError as exc:
            self.options.problems.add("read", self.name, None, f"cannot open: {exc}")
            return
        self.current = opened

    def _resume_rotated(self, stored: Position) -> None:
        """The name points to another file than the saved position's: the saved file was rotated
        while watchpost was stopped (or while it was still draining it). Finish it from the saved
        offset (found by identity in the same directory), or report what cannot be read."""
        found = _find_identity(self.path.parent, stored.identity)
        if found is None:
            self.options.problems.add(
                "read", self.name, f"line {stored.lines}",
                f"rotated away before it was read to its end: whatever followed offset {stored.offset} "
                f"(line {stored.lines}) of the file {stored.dev}:{stored.ino} was not read (it is no "
                f"longer in {self.path.parent}); the new file is read from its start")
            return
        path, size = found
        if stored.format == "evtx" or size > stored.offset:
            try:
                self.draining = _OpenFile(path, stored, self.options, at_end=False)
            except OSError as exc:
                self.options.problems.add("read", str(path), None, f"cannot open: {exc}")

    def positions(self) -> list[Position]:
        # The name's position is the newest file's; while a rotated file drains it is the rotated
        # file's (a restart finds it by identity in the directory, finishes it, then reads the
        # new file from its start; if it was deleted meanwhile, that is reported).
        if self.current is not None and self.draining is None:
            return [self.current.position]
        if self.draining is not None:
            return [self.draining.position]
        return []

    def describe(self) -> dict[str, Any]:
        opened = self.draining or self.current
        position = opened.position if opened is not None else None
        size = None
        if opened is not None:
            try:
                size = os.fstat(opened.handle.fileno()).st_size
            except (OSError, ValueError):  # ValueError: closed (the final status line)
                size = None
        return {"source": self.name, "offset": position.offset if position else None,
                "lines": position.lines if position else None, "size": size,
                "record": position.record if position and position.format == "evtx" else None,
                "format": position.format if position else None}

    def close(self) -> None:
        for opened in (self.current, self.draining):
            if opened is not None:
                opened.close()


class DirectoryFollower:
    """Follows every file under a directory, each by identity (see the module docstring)."""

    def __init__(self, root: Path, options: FollowOptions, scan_every: float = 1.0) -> None:
        self.root = root
        self.options = options
        self.scan_every = scan_every
        self.files: dict[tuple[int, int], _OpenFile] = {}
        self.finished: list[Position] = []
        self.next_scan = 0.0
        self.turn = 0
        self.first_scan = True

    def poll(self, release: bool = False) -> Chunk | None:
        now = time.monotonic()
        if now >= self.next_scan:
            self.next_scan = now + self.scan_every
            self._scan()
        opened = list(self.files.values())
        for step in range(len(opened)):
            one = opened[(self.turn + step) % len(opened)]
            chunk = one.read(release=release)
            if chunk is not None:
                self.turn = (self.turn + step + 1) % len(opened)
                return chunk
        return None

    def _scan(self) -> None:
        present: set[tuple[int, int]] = set()
        for path in sorted(_walk(self.root)):
            try:
                stat = path.stat()
            except OSError:
                continue
            identity = identity_of(stat)
            present.add(identity)
            if identity in self.files or stat.st_size == 0:
                continue
            stored = self.options.by_identity.get(identity)
            at_end = self.first_scan and stored is None and self.options.start_at_end
            if stored is not None:
                position = stored
            else:
                position = Position(f"inode:{identity[0]}:{identity[1]}", str(path))
            try:
                self.files[identity] = _OpenFile(path, position, self.options, at_end)
            except OSError as exc:
                self.options.problems.add("read", str(path), None, f"cannot open: {exc}")
        for identity, opened in list(self.files.items()):
            if identity not in present and opened.read(final=True) is None:
                opened.close()  # deleted and read to its end
                del self.files[identity]
                self.finished.append(opened.position)
        if self.first_scan:  # files deleted while watchpost was stopped
            self.first_scan = False
            root = str(self.root)
            for position in self.options.stored.values():
                if (position.key.startswith("inode:") and position.name.startswith(root)
                        and position.identity not in present):
                    self.finished.append(position)

    def positions(self) -> list[Position]:
        return [opened.position for opened in self.files.values()]

    def gone(self) -> list[str]:
        """Keys of positions of files deleted and read to the end (forgotten at the checkpoint)."""
        keys = [position.key for position in self.finished]
        self.finished.clear()
        return keys

    def describe(self) -> dict[str, Any]:
        return {"source": str(self.root), "files": len(self.files),
                "offset": sum(o.position.offset for o in self.files.values()),
                "lines": sum(o.position.lines for o in self.files.values())}

    def close(self) -> None:
        for opened in self.files.values():
            opened.close()


def _find_identity(directory: Path, identity: tuple[int, int] | None) -> tuple[Path, int] | None:
    """The file in ``directory`` (not recursively) with ``identity``, and its size."""
    if identity is None:
        return None
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        if identity_of(stat) == identity and entry.is_file():
            return Path(entry.path), stat.st_size
    return None


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, _subdirs, names in os.walk(root, followlinks=True):
        found.extend(Path(directory) / name for name in names)
    return found


class StdinFollower:
    """Standard input, read by a thread into a bounded queue of lines."""

    NAME = "<stdin>"

    def __init__(self, options: FollowOptions, stream: BinaryIO | None = None) -> None:
        self.options = options
        self.format = options.input_format
        self.lines: queue.Queue[bytes | None] = queue.Queue(maxsize=10_000)
        self.count = 0
        self.elements = 0
        self.ended = False
        self.held = b""
        """Lines held back for a join (`watchpost.watch.joins.held_back`)."""
        self.last_data = time.monotonic()
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.thread = threading.Thread(target=self._pump, name="watchpost-stdin", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        for line in self.stream:
            self.lines.put(line if line.endswith(b"\n") else line + b"\n")
        self.lines.put(None)

    def poll(self, release: bool = False) -> Chunk | None:
        taken: list[bytes] = []
        size = 0
        while size < READ_LIMIT:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.ended = True
                break
            taken.append(line)
            size += len(line)
        now = time.monotonic()
        if taken:
            self.last_data = now
        data = self.held + b"".join(taken)
        if not data:
            return None
        if self.format is None:
            self.format = sniff_format(data, self.NAME, self.options.problems)
        held = 0
        if not (release or self.ended) and now - self.last_data < HOLD_SECONDS:
            held = held_back(self.format, data)
        data, self.held = data[:len(data) - held], data[len(data) - held:]
        if not data:
            return None
        chunk = Chunk(self.NAME, data, self.count, self.elements, None, self.format)
        self.count += data.count(b"\n")
        self.elements += count_elements(data)
        return chunk

    def positions(self) -> list[Position]:
        return []

    def describe(self) -> dict[str, Any]:
        return {"source": self.NAME, "lines": self.count, "ended": self.ended}

    def close(self) -> None:
        return None
