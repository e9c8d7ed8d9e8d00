"""One open followed file (`OpenFile`: its handle and its tail, lines or EVTX) and the settings
every follower of a watch shares (`FollowOptions`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from watchpost.problems import ProblemLog
from watchpost.watch.chunks import Chunk
from watchpost.watch.evtx_tail import EvtxTail
from watchpost.watch.identity import HEAD_BYTES, head_of
from watchpost.watch.state import Position
from watchpost.watch.tails import LineTail, identity_of, is_evtx

READ_LIMIT = 1 << 20
"""Bytes of lines (or, for EVTX, events / 100) one poll of one source takes at most."""


class FollowOptions:
    """Settings shared by all followers of one watch."""

    def __init__(self, problems: ProblemLog, input_format: str | None = None,
                 start_at_end: bool = False, stored: dict[str, Position] | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.problems = problems
        self.notify: Callable[[str], None] = notify or (lambda line: None)
        """One line for the operator (a name that does not exist yet, then appears)."""
        self.input_format = input_format
        self.start_at_end = start_at_end
        self.stored = stored or {}
        self.by_identity = {p.identity: p for p in self.stored.values() if p.identity is not None}


Truncated = Callable[["OpenFile"], bool]
"""Called when an open file was truncated (instead of reading it again from its start); True
when the follower has something to read before it (the copy copytruncate made)."""


class OpenFile:
    """One open file with its tail (lines or EVTX). ``on_truncated``: what to do when the file
    turns out truncated (default: read it again from its start, reported)."""

    def __init__(self, path: Path, position: Position, options: FollowOptions, at_end: bool,
                 on_truncated: Truncated | None = None) -> None:
        self.path = path
        # unbuffered: a buffered reader may answer a seek back from bytes a truncation replaced
        self.handle: BinaryIO = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        stat = os.fstat(self.handle.fileno())
        self.identity = identity_of(stat)
        position.dev, position.ino = self.identity
        self.position = position
        self.on_truncated = on_truncated
        self.evtx: EvtxTail | None = None
        self.lines: LineTail | None = None
        if options.input_format == "evtx" or (options.input_format is None and is_evtx(path)):
            self.evtx = EvtxTail(path, position, options.problems)
        else:
            self.lines = LineTail(self.handle, position, options.problems, options.input_format)
            if at_end:
                position.offset = stat.st_size  # lines before are not counted: origins start anew
                position.head = None
            else:
                self._check_truncated()

    def read(self, final: bool = False, release: bool = False) -> Chunk | None:
        if self.evtx is not None:
            return self.evtx.read(READ_LIMIT // 100)
        assert self.lines is not None
        if self._check_truncated():
            return None  # the follower has something to read first (the copy)
        return self.lines.read(READ_LIMIT, final, release)

    def observe(self) -> None:
        """For a file with nothing read yet, waiting behind rotated files being drained: check
        it was not truncated since it was opened (copytruncate), and remember its first bytes."""
        lines = self.lines
        if lines is None or self.position.offset != 0 or self._check_truncated():
            return
        size = self.size() or 0
        seen = lines.seen_head
        if size > 0 and (seen is None or int(seen.split(":", 1)[0]) < min(size, HEAD_BYTES)):
            lines.seen_head = head_of(self.handle.fileno(), size)

    def _check_truncated(self) -> bool:
        """Handle a truncation; True when the follower has something to read before this file."""
        assert self.lines is not None
        if not self.lines.truncated():
            return False
        if self.on_truncated is not None:
            return self.on_truncated(self)
        self.lines.restart()
        return False

    def size(self) -> int | None:
        try:
            return os.fstat(self.handle.fileno()).st_size
        except (OSError, ValueError):  # ValueError: closed (the final status line)
            return None

    def saved_position(self) -> Position:
        """The position, with the file's modification time when it was last found holding what
        was read (the copies a later copytruncate makes, the files a later rotation leaves, are
        the files written since)."""
        if self.lines is not None and self.lines.looked_ns is not None:
            self.position.mtime_ns = self.lines.looked_ns
            return self.position
        with contextlib.suppress(OSError, ValueError):
            self.position.mtime_ns = os.fstat(self.handle.fileno()).st_mtime_ns
        return self.position

    def close(self) -> None:
        self.handle.close()
