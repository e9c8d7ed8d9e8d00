"""New records of a growing EVTX file, decoded from the chunks that hold them and no others.

When the file's size or modification time changes (and at every read while it was modified
within the last two seconds, as file times are coarse), `EvtxTail` reads the file header and every
chunk header (512 bytes per 64 KiB chunk, `watchpost.watch.evtx_layout`) and decodes only:

- the chunks whose last record id is above ``position.record`` (the last record processed), and
- the chunks whose header cannot be trusted (checksum mismatch or inconsistent ids: a chunk
  being written), unless their bytes are the ones already decoded.

Each such chunk is parsed on its own behind a copy of the file header, in the order of its first
record id (a circular log overwrites its oldest chunks, so file order is not time order), and
only records above ``position.record`` are handed out: ids grow, so none is delivered twice and,
since a chunk holds no record beyond its trusted header's last id, none is missed. A slot whose
header is neither a chunk nor empty, or a chunk pyevtx-rs cannot read, is reported once with the
file, the chunk number and its offset; the other chunks are read. If the file does not have the
layout expected, or anything unexpected happens, the whole file is parsed as before (records up
to ``position.record`` skipped). Record ids that went back (the log was cleared or replaced in
place) are reported and the file is read again from its first record.
"""

from __future__ import annotations

import io
import os
import time
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.base import Source
from watchpost.readers.evtx import EvtxReader
from watchpost.watch.chunks import Chunk
from watchpost.watch.evtx_layout import (
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    ChunkHeader,
    ChunkScanner,
    LayoutError,
    check_file_header,
    chunk_offset,
    parse_chunk_header,
    single_chunk_file,
)
from watchpost.watch.state import Position

_LAST = 1 << 64
RECENT_NS = 2_000_000_000
"""A file modified less than this ago is scanned at every read even when its size and time did
not change: file times are coarse (a write in the same tick as the last scan keeps them)."""


class _SlotChanged(Exception):
    """A chunk's slot was rewritten between the header scan and its reading."""


class EvtxTail:
    """New records of one EVTX file (see the module docstring). ``decoded`` counts the records
    decoded so far, ``full_parses`` the times the whole file was parsed instead."""

    def __init__(self, path: Path, position: Position, problems: ProblemLog) -> None:
        self.path = path
        self.position = position
        self.problems = problems
        position.format = "evtx"
        self.seen: tuple[int, int] | None = None
        self.pending: Iterator[Event] | None = None
        self.decoded_chunks: dict[int, int] = {}
        """Slot -> CRC32 of the chunk bytes decoded from it (not decoded again while equal)."""
        self.reported: set[tuple[int, int]] = set()
        self.scanner = ChunkScanner()
        self.decoded = 0
        self.full_parses = 0

    def read(self, limit_events: int) -> Chunk | None:
        """Up to ``limit_events`` new events, or None when there is nothing new."""
        if self.pending is None:
            marker = self._marker()
            if marker is None or (marker == self.seen and time.time_ns() - marker[1] > RECENT_NS):
                return None
            self.seen = marker
            self.pending = self._new_events()
        events: list[Event] = []
        position = self.position
        for event in self.pending:
            events.append(event)
            record = event.origin.record or 0
            if record > position.record:
                position.record = record
            if len(events) >= limit_events:
                break
        else:
            self.pending = None
        return Chunk(position.name, events=events, format="evtx") if events else None

    def _marker(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_size, stat.st_mtime_ns)

    def _new_events(self) -> Iterator[Event]:
        try:
            plan = self._plan()
        except OSError:
            self.seen = None  # unreadable now (replaced, removed): try again at the next poll
            return
        except LayoutError as exc:
            yield from self._full_parse(str(exc))
            return
        if plan is None:
            return
        file_header, chunks = plan
        try:
            for header in chunks:
                yield from self._chunk_events(file_header, header)
        except (_SlotChanged, OSError):
            self.seen = None  # scan again at the next read; records handed out stay handed out
        except Exception as exc:  # anything unexpected: the whole file, from the last record on
            yield from self._full_parse(f"{type(exc).__name__}: {exc}")

    def _plan(self) -> tuple[bytes, list[ChunkHeader]] | None:
        """The file header and the chunks to decode, in record id order (None: too short yet)."""
        with open(self.path, "rb") as stream:
            fd = stream.fileno()
            size = os.fstat(fd).st_size
            if size < FILE_HEADER_SIZE:
                return None
            file_header = os.pread(fd, FILE_HEADER_SIZE, 0)
            check_file_header(file_header)
            headers, damaged = self.scanner.scan(fd, size)
        for index, fingerprint in damaged:
            self._report_once(index, fingerprint, "no chunk signature (damaged or overwritten): skipped")
        if not damaged:
            self._restart_if_cleared(headers)
        last = self.position.record
        wanted = [h for h in headers if not h.trusted or h.last_record > last]
        wanted.sort(key=lambda h: (h.first_record if h.first_record > 0 else _LAST, h.index))
        return file_header, wanted

    def _restart_if_cleared(self, headers: list[ChunkHeader]) -> None:
        """Every slot holds a trusted chunk or nothing, and the newest record is below the last
        one processed: the log was cleared or replaced in place, its ids started again."""
        position = self.position
        if not headers or any(not h.trusted for h in headers):
            return
        newest = max(h.last_record for h in headers)
        if newest >= position.record:
            return
        self.problems.add("read", position.name, f"record {position.record}",
                          f"record ids went back to {newest} (log cleared or replaced): "
                          "reading it again from its first record")
        position.record = 0
        self.decoded_chunks.clear()

    def _chunk_events(self, file_header: bytes, header: ChunkHeader) -> Iterator[Event]:
        """The records above ``position.record`` of one chunk, read now."""
        with open(self.path, "rb") as stream:
            data = os.pread(stream.fileno(), CHUNK_SIZE, header.offset)
        current = parse_chunk_header(header.index, data)
        if len(data) < CHUNK_SIZE or current is None or current.first_record != header.first_record:
            raise _SlotChanged
        fingerprint = zlib.crc32(data)
        if self.decoded_chunks.get(header.index) == fingerprint:
            return
        scratch = ProblemLog()
        view = single_chunk_file(file_header, data)
        source = Source(self.position.name, partial(io.BytesIO, view))
        for event in EvtxReader().read(source, scratch):
            self.decoded += 1
            if (event.origin.record or 0) > self.position.record:
                yield event
        self._report_chunk_problems(scratch, header.index)
        self.decoded_chunks[header.index] = fingerprint

    def _report_chunk_problems(self, scratch: ProblemLog, index: int) -> None:
        if any(p.place is None for p in scratch.problems):
            reasons = "; ".join(p.reason for p in scratch.problems)
            raise LayoutError(f"chunk {index} cannot be parsed on its own ({reasons})")
        where = f"chunk {index} at offset {chunk_offset(index)}"
        for problem in scratch.problems:
            reason = problem.reason.replace("chunk number 0", f"chunk number {index}")
            self.problems.add(problem.stage, self.position.name, f"{where}, {problem.place}", reason)

    def _report_once(self, index: int, fingerprint: int, reason: str) -> None:
        if (index, fingerprint) in self.reported:
            return
        self.reported.add((index, fingerprint))
        self.problems.add("read", self.position.name, f"chunk {index} at offset {chunk_offset(index)}",
                          reason)

    def _full_parse(self, why: str) -> Iterator[Event]:
        """Every record above ``position.record`` (as it was when the parse started), from a
        parse of the whole file in file order."""
        if self.full_parses == 0:
            self.problems.add("read", self.position.name, None,
                              f"cannot read by chunks ({why}): the whole file was parsed instead")
        self.full_parses += 1
        self.decoded_chunks.clear()
        floor = self.position.record
        source = Source(self.position.name, file_source(self.path).open, self.path)
        for event in EvtxReader().read(source, self.problems):
            self.decoded += 1
            if (event.origin.record or 0) > floor:
                yield event
