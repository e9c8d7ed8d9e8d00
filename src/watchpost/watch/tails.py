"""Reading one open file as it grows: complete lines (`LineTail`) or new EVTX records (`EvtxTail`).

A tail reads from the position of its `Position` on; it never decides which file to read (that
is the followers' job: `watchpost.watch.followers`). Positions always point just after the last
complete line handed out, so a restart from a saved position re-reads no line and skips none.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.base import Source
from watchpost.readers.evtx import EVTX_MAGIC, EvtxReader
from watchpost.readers.registry import FORMATS, HEAD_SIZE, choose_reader
from watchpost.watch.chunks import Chunk, count_elements
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
        self.skipping = False  # inside an over-long line

    def size(self) -> int:
        return os.fstat(self.handle.fileno()).st_size

    def truncated(self) -> bool:
        return self.size() < self.position.offset + len(self.partial)

    def restart(self) -> None:
        """The file was truncated: read it again from its start."""
        position = self.position
        self.problems.add("read", position.name, f"line {position.lines}",
                          f"file truncated (now {self.size()} bytes, was read to {position.offset}): "
                          "reading it again from the start")
        position.offset = position.lines = position.elements = 0
        self.partial = b""
        self.skipping = False

    def read(self, limit: int, final: bool = False) -> Chunk | None:
        """Up to about ``limit`` bytes of complete lines; ``final``: the file will not grow
        again (rotated away), so a last line without newline counts as complete."""
        self.handle.seek(self.position.offset + len(self.partial))
        data = self.handle.read(limit)
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
        complete, self.partial = buffer[:cut], buffer[cut:]
        return self._emit(complete, cut)

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
        chunk = Chunk(position.name, complete, position.lines, position.elements, None, position.format)
        self._advance(complete, consumed)
        return chunk

    def _advance(self, complete: bytes, consumed: int) -> None:
        position = self.position
        position.offset += consumed
        position.lines += complete.count(b"\n")
        position.elements += count_elements(complete)

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
    head = data[:HEAD_SIZE]
    reader = choose_reader(head, Source(name, partial(io.BytesIO, data)))
    if reader is None or reader.name not in FORMATS or reader.name == "evtx":
        problems.add("read", name, None, f"unknown format (starts with {head[:16]!r}): its lines are skipped")
        return UNKNOWN_FORMAT
    return reader.name


class EvtxTail:
    """New records of an EVTX file: the file is parsed again when it has changed (at most every
    ``interval`` seconds) and records up to ``position.record`` are skipped."""

    def __init__(self, path: Path, position: Position, problems: ProblemLog) -> None:
        self.path = path
        self.position = position
        self.problems = problems
        position.format = "evtx"
        self.seen: tuple[int, float] | None = None
        self.pending: Iterator[Event] | None = None

    def read(self, limit_events: int) -> Chunk | None:
        if self.pending is None:
            try:
                stat = self.path.stat()
            except OSError:
                return None
            marker = (stat.st_size, stat.st_mtime)
            if marker == self.seen:
                return None
            self.seen = marker
            source = file_source(self.path)
            source = Source(self.position.name, source.open, self.path)
            self.pending = EvtxReader().read(source, self.problems)
        events: list[Event] = []
        last = self.position.record
        for event in self.pending:
            record = event.origin.record or 0
            if record <= last:
                continue
            events.append(event)
            self.position.record = record
            if len(events) >= limit_events:
                break
        else:
            self.pending = None
        return Chunk(self.position.name, events=events, format="evtx") if events else None
