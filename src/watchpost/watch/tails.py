"""Reading one open file as it grows: complete lines (`LineTail`); new EVTX records are read by
`watchpost.watch.evtx_tail.EvtxTail`.

A tail reads from the position of its `Position` on; it never decides which file to read (that
is the followers' job: `watchpost.watch.followers`). Positions always point just after the last
complete line handed out, so a restart from a saved position re-reads no line and skips none.
"""

from __future__ import annotations

import io
import os
import time
from functools import partial
from pathlib import Path
from typing import BinaryIO

from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.evtx import EVTX_MAGIC
from watchpost.readers.registry import FORMATS, HEAD_SIZE, choose_reader
from watchpost.watch.chunks import Chunk, count_elements
from watchpost.watch.identity import HEAD_BYTES, head_matches, head_of
from watchpost.watch.joins import CONTEXT_BYTES, HOLD_SECONDS, MAX_HELD, REMEMBERING_FORMATS, held_back
from watchpost.watch.state import Position

MAX_LINE = 16 << 20
"""A line longer than this (no newline within it) is reported and skipped."""
UNKNOWN_FORMAT = "-"
"""The format of a source no reader recognises (its lines are skipped, reported once)."""


def identity_of(stat: os.stat_result) -> tuple[int, int]:
    return (stat.st_dev, stat.st_ino)


def is_evtx(path: Path) -> bool:
    """Whether ``path`` is an EVTX file (by its magic bytes, else its name)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(EVTX_MAGIC))
    except OSError:
        head = b""
    return head == EVTX_MAGIC or (not head and path.suffix.lower() == ".evtx")


class LineTail:
    """Complete lines of one open file from ``position.offset`` on."""

    def __init__(self, handle: BinaryIO, position: Position, problems: ProblemLog,
                 input_format: str | None) -> None:
        self.handle = handle
        self.position = position
        self.problems = problems
        if input_format is not None and position.format is None:
            position.format = input_format
        self.partial = b""
        """Bytes after the position not handed out yet: a line without its newline, and lines
        held back for a join (`watchpost.watch.joins.held_back`)."""
        self.skipping = False  # inside an over-long line
        self.last_data = time.monotonic()
        """When the file last gave new bytes (held lines go out alone `HOLD_SECONDS` after)."""
        self.resumed = True
        """The next chunk is the first this tail hands out (its reader may need the context)."""
        self.looked_ns: int | None = position.mtime_ns
        if position.mtime_ns is None and position.offset == 0:  # a file new to the watch
            self.looked_ns = os.fstat(handle.fileno()).st_mtime_ns
        """The file's modification time when it was last found not truncated (None: unknown);
        the copies copytruncate made are the files written since (`FileFollower`)."""
        self.checked: tuple[int, int, int] | None = None
        """(size, modification time, position) at the last check that found it not truncated."""
        self.seen_head: str | None = None
        """Fingerprint of the bytes the file held when it was opened with nothing read yet: if
        it no longer starts with them before they are read, it was truncated (copytruncate)."""

    def size(self) -> int:
        return os.fstat(self.handle.fileno()).st_size

    def truncated(self) -> bool:
        """The file was truncated since it was read: smaller than what was read, or no longer
        starting with the bytes read (truncated and written again past the position, as
        copytruncate does)."""
        position = self.position
        stat = os.fstat(self.handle.fileno())
        if stat.st_size < position.offset + len(self.partial):
            return True
        unchanged = (stat.st_size, stat.st_mtime_ns, position.offset)
        if unchanged == self.checked:  # no write since the last check: its first bytes are those
            return False
        if position.offset == 0:  # nothing read yet: the bytes seen when it was opened
            cut = self.seen_head is not None and not head_matches(self.handle.fileno(), self.seen_head)
        else:
            cut = not head_matches(self.handle.fileno(), position.head)
        if not cut and (position.offset > 0 or self.seen_head is not None):
            self.looked_ns = stat.st_mtime_ns  # (with nothing seen, `FileFollower` moves it)
            self.checked = unchanged
        return cut

    def restart(self, reason: str | None = None) -> None:
        """The file was truncated: read it again from its start. ``reason`` replaces the
        problem reported (None: "file truncated", a ``read`` problem naming the lost range)."""
        position = self.position
        if reason is None:
            self.problems.add("read", position.name, f"line {position.lines}",
                              f"file truncated (now {self.size()} bytes, was read to {position.offset}): "
                              f"whatever followed byte {position.offset} of the old content was not "
                              "read; reading the file again from the start")
        elif reason:
            self.problems.add("read", position.name, f"line {position.lines}", reason)
        position.offset = position.lines = position.elements = 0
        position.head = self.seen_head = None
        self.partial = b""
        self.skipping = False
        self.resumed = True

    def read(self, limit: int, final: bool = False, release: bool = False) -> Chunk | None:
        """Up to about ``limit`` bytes of complete lines; ``final``: the file will not grow
        again (rotated away), so a last line without newline counts as complete and no line is
        held back; ``release``: no line is held back (the watch is ending)."""
        self.handle.seek(self.position.offset + len(self.partial))
        data = self.handle.read(limit)
        if data:
            self.last_data = time.monotonic()
        buffer = self.partial + data
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            if final and not data and buffer:
                self.partial = b""
                return self._emit(buffer + b"\n", len(buffer))
            self.partial = buffer
            if len(buffer) > MAX_LINE:
                self._skip_long_line()
            return None
        waiting = time.monotonic() - self.last_data < HOLD_SECONDS
        if not self.skipping and self.position.format is None and self.position.lines == 0:
            found = recognised_format(buffer[:cut], self.position.name)
            if found is None and cut < HEAD_SIZE and waiting and not (final or release):
                self.partial = buffer  # too few lines to tell the format: wait for more
                return None
            self.position.format = found or self._sniff(buffer[:cut])
        held = 0
        if waiting and not (final or release or self.skipping) and len(buffer) - cut <= MAX_HELD:
            held = held_back(self.position.format, buffer[:cut])  # (not behind an over-long line)
        cut -= held
        complete, self.partial = buffer[:cut], buffer[cut:]
        return self._emit(complete, cut) if complete else None

    def _emit(self, complete: bytes, consumed: int) -> Chunk | None:
        position = self.position
        if self.skipping:  # the end of an over-long line: drop it
            first_end = complete.find(b"\n") + 1
            self._advance(complete[:first_end], first_end)
            complete, consumed = complete[first_end:], consumed - first_end
            self.skipping = False
        if not complete:
            return None
        if position.format is None:
            position.format = self._sniff(complete) if position.lines == 0 else UNKNOWN_FORMAT
        chunk = Chunk(position.name, complete, position.lines, position.elements, None, position.format,
                      position.identity, self._context() if self.resumed else b"")
        self.resumed = False
        self._advance(complete, consumed)
        return chunk

    def _advance(self, complete: bytes, consumed: int) -> None:
        position = self.position
        position.offset += consumed
        position.lines += complete.count(b"\n")
        position.elements += count_elements(complete)
        if position.head is None or int(position.head.split(":", 1)[0]) < min(position.offset, HEAD_BYTES):
            position.head = head_of(self.handle.fileno(), position.offset)

    def _context(self) -> bytes:
        """The complete lines of up to `CONTEXT_BYTES` before the position, for a reader that
        remembers earlier lines (`watchpost.watch.joins`); empty at the start of the file."""
        offset = self.position.offset
        if offset == 0 or self.position.format not in REMEMBERING_FORMATS:
            return b""
        start = max(0, offset - CONTEXT_BYTES)
        try:
            data = os.pread(self.handle.fileno(), offset - start, start)
        except OSError:
            return b""
        return data[data.find(b"\n") + 1:] if start > 0 else data

    def _skip_long_line(self) -> None:
        position = self.position
        self.problems.add("read", position.name, f"line {position.lines + 1}",
                          f"line longer than {MAX_LINE} bytes: skipped")
        position.offset += len(self.partial)
        self.partial = b""
        self.skipping = True

    def _sniff(self, data: bytes) -> str:
        return sniff_format(data, self.position.name, self.problems)


def sniff_format(data: bytes, name: str, problems: ProblemLog) -> str:
    """The reader name for a source starting with ``data`` (`UNKNOWN_FORMAT`, reported, if none)."""
    found = recognised_format(data, name)
    if found is None:
        problems.add("read", name, None, f"unknown format (starts with {data[:16]!r}): its lines are skipped")
        return UNKNOWN_FORMAT
    return found


def recognised_format(data: bytes, name: str) -> str | None:
    """The name of the line reader that recognises a source starting with ``data``, if any."""
    reader = choose_reader(data[:HEAD_SIZE], Source(name, partial(io.BytesIO, data)))
    if reader is None or reader.name not in FORMATS or reader.name == "evtx":
        return None
    return reader.name
