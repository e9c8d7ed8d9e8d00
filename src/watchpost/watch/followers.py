"""Followers: which file to read next, as ``tail -F`` does, for files, directories and stdin.

- `FileFollower` (``name_follower.py``) follows a **name** by file identity: appends, any number
  of rename rotations (also while the watch is down), copytruncate (the rest read from the copy),
  a file that does not exist yet. EVTX files are read by `EvtxTail` (``evtx_tail.py``): only the
  chunks holding records after the last one processed are decoded.
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

from watchpost.watch.chunks import Chunk, count_elements
from watchpost.watch.joins import HOLD_SECONDS, held_back
from watchpost.watch.name_follower import FileFollower
from watchpost.watch.open_files import READ_LIMIT, FollowOptions, OpenFile
from watchpost.watch.state import Position
from watchpost.watch.tails import identity_of, sniff_format

__all__ = ["READ_LIMIT", "DirectoryFollower", "FileFollower", "FollowOptions", "Follower", "OpenFile",
           "StdinFollower"]


class Follower(Protocol):
    """One input being followed."""

    def poll(self, release: bool = False) -> Chunk | None:
        """The next chunk, None when nothing new; ``release``: lines held back for a join
        (`watchpost.watch.joins`) go out now (the watch is ending)."""
        ...

    def positions(self) -> list[Position]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class DirectoryFollower:
    """Follows every file under a directory, each by identity (see the module docstring)."""

    def __init__(self, root: Path, options: FollowOptions, scan_every: float = 1.0) -> None:
        self.root = root
        self.options = options
        self.scan_every = scan_every
        self.files: dict[tuple[int, int], OpenFile] = {}
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
                self.files[identity] = OpenFile(path, position, self.options, at_end)
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
