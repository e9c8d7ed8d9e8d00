"""EVTX files checked chunk by chunk, and damaged chunks carved record by record.

An EVTX file is a 4 KiB file header and 64 KiB chunks; each chunk holds a 512-byte header (magic
``ElfChnk\\0``, the numbers of its first and last record, CRC32s of its header and of its
records) and records (magic ``**\\0\\0``, size, number, ..., the size again as the last 4 bytes).

`survey` reads every chunk once and checks it (complete, magic, both CRCs): a file whose chunks
all pass is read by pyevtx-rs as it is. Otherwise each chunk is read on its own (`chunk_file`: a
one-chunk file built around it), and a damaged chunk is carved first (`carve`): its records are
found by their magic and matching sizes, each gap (a damaged record, a cut) is filled with one
empty record numbered 0 (pyevtx-rs passes over it), and its header is rebuilt from what was
found. The records a chunk should hold are those of its header (when its CRC holds), else the
range of the records carved, else the gap between its neighbours; each of them that cannot be
read is one problem, so that the skip count is the number of records lost.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
RECORD_MIN = 28
"""Bytes of a record without content: header (24) and trailing size (4)."""
FILLER_NUMBER = 0
"""The number of the records that fill gaps (real records start at 1)."""


@dataclass
class ChunkCheck:
    """One chunk slot of a file: where, which records its header names, what is wrong."""

    number: int
    offset: int
    first: int | None = None
    last: int | None = None
    free: int = CHUNK_SIZE
    """Where the records end (the header's free space offset, when plausible): bytes after it
    are slack, stale records of an earlier use of the chunk, not part of the log."""
    damage: str | None = None
    used: bool = True


@dataclass
class Survey:
    """The chunks of a file; ``clean`` when pyevtx-rs may read the file as it is."""

    chunks: list[ChunkCheck] = field(default_factory=list)
    header_ok: bool = True
    next_number: int | None = None
    """The number the next record would take, from a file header that is whole and was closed
    cleanly (its CRC holds, not marked dirty): numbers from it on are stale (slack)."""

    @property
    def clean(self) -> bool:
        return self.header_ok and all(chunk.damage is None for chunk in self.chunks)


def survey(stream: BinaryIO) -> Survey:
    """Check the file header and every chunk of ``stream`` (read once, from the start)."""
    result = Survey()
    header = stream.read(FILE_HEADER_SIZE)
    result.header_ok = len(header) == FILE_HEADER_SIZE and header.startswith(b"ElfFile\x00")
    if result.header_ok and zlib.crc32(header[:120]) == _u32(header, 124) and not _u32(header, 120) & 1:
        result.next_number = struct.unpack_from("<Q", header, 24)[0]
    number = 0
    while chunk := stream.read(CHUNK_SIZE):
        check = ChunkCheck(number, FILE_HEADER_SIZE + number * CHUNK_SIZE)
        _check_chunk(chunk, check)
        result.chunks.append(check)
        number += 1
    return result


def _check_chunk(chunk: bytes, check: ChunkCheck) -> None:
    """What is wrong with a chunk, and which of its header's fields can be trusted.

    The header's record numbers and end of records are trusted when its CRC holds, when no CRC
    was written (0, as in some live logs), when the records' CRC matches the records up to that
    end, or when the chunk is cut inside its header (nothing better is left). Otherwise the
    numbers come from the records carved, and carving runs to the end of the chunk.
    """
    if not chunk.startswith(CHUNK_MAGIC) and chunk.count(b"\x00") == len(chunk):
        check.used = False  # a slot never written (files are allocated ahead); counted, not copied
        return
    whole_header = len(chunk) >= CHUNK_HEADER_SIZE
    header_ok = whole_header and chunk.startswith(CHUNK_MAGIC) and _header_crc(chunk) == _u32(chunk, 124)
    records_ok = False
    if len(chunk) >= 56:
        first, last = struct.unpack_from("<QQ", chunk, 24)  # record identifiers
        free = _u32(chunk, 48)
        if 0 < first <= last < first + (1 << 16) and CHUNK_HEADER_SIZE <= free <= CHUNK_SIZE:
            records_ok = free <= len(chunk) and zlib.crc32(chunk[CHUNK_HEADER_SIZE:free]) == _u32(chunk, 52)
            if header_ok or records_ok or not whole_header or _u32(chunk, 124) == 0:
                check.first, check.last, check.free = first, last, free
    if len(chunk) < CHUNK_SIZE:
        check.damage = f"chunk cut short ({len(chunk)} of {CHUNK_SIZE} bytes: a partial copy?)"
    elif not header_ok:
        check.damage = "damaged chunk header"
    elif not records_ok:
        check.damage = "damaged records (checksum mismatch)"


def _u32(data: bytes | bytearray, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def _header_crc(chunk: bytes | bytearray) -> int:
    return zlib.crc32(bytes(chunk[:120]) + bytes(chunk[128:CHUNK_HEADER_SIZE]))


@dataclass(frozen=True)
class CarvedRecord:
    offset: int
    size: int
    number: int


def carve(chunk: bytes, check: ChunkCheck, next_number: int | None = None) -> list[CarvedRecord]:
    """The records of a chunk that look whole: magic, a size that fits, the same size at their end
    (or, as pyevtx-rs accepts, the next record or the end right after them).

    Where one does not, the next magic that starts such a record is searched for (forensic
    carving): a damaged record costs itself only. Slack (after ``check.free``; without a
    trusted header, records numbered from ``next_number`` on or out of sequence) is left out.
    """
    found: list[CarvedRecord] = []
    offset = CHUNK_HEADER_SIZE
    end = min(len(chunk), check.free)
    while offset + RECORD_MIN <= end:
        record = _record_at(chunk, offset, end)
        if record is not None:
            found.append(record)
            offset += record.size
            continue
        offset = chunk.find(RECORD_MAGIC, offset + 1, end)
        while 0 <= offset < end and _record_at(chunk, offset, end) is None:
            offset = chunk.find(RECORD_MAGIC, offset + 1, end)
        if not 0 <= offset < end:
            break
    if check.first is not None:
        return found
    if next_number is not None:
        found = [record for record in found if record.number < next_number]
    return _in_sequence(found)


def _in_sequence(records: list[CarvedRecord]) -> list[CarvedRecord]:
    """The records of a chunk whose header cannot say where they end: those numbered in sequence
    from the first (past a damaged one, the next may skip a few numbers). What follows a break is
    slack: stale records of an earlier use of the chunk, not part of the log."""
    kept = records[:1]
    for record in records[1:]:
        previous = kept[-1]
        after_gap = record.offset != previous.offset + previous.size
        if record.number == previous.number + 1 or (after_gap and 0 < record.number - previous.number <= 64):
            kept.append(record)
        else:
            break
    return kept


def _holds_record(chunk: bytes, start: int, end: int) -> bool:
    at = chunk.find(RECORD_MAGIC, start, end)
    while at >= 0:
        if _record_at(chunk, at, end, lenient=False) is not None:
            return True
        at = chunk.find(RECORD_MAGIC, at + 1, end)
    return False


def _record_at(chunk: bytes, offset: int, end: int, lenient: bool = True) -> CarvedRecord | None:
    """The record at ``offset`` when it looks whole. Leniently (as pyevtx-rs reads), a record
    whose closing size is damaged is taken when no whole record lies within its size."""
    if chunk[offset : offset + 4] != RECORD_MAGIC or offset + 24 > end:
        return None
    size = _u32(chunk, offset + 4)
    if size < RECORD_MIN or offset + size > end:
        return None
    after = offset + size  # the size again at the end, or the next record right after
    closed = _u32(chunk, after - 4) == size or after == end or chunk[after : after + 4] == RECORD_MAGIC
    if not closed and (not lenient or _holds_record(chunk, offset + 4, after)):
        return None  # its size is wrong: a whole record lies inside it
    number: int = struct.unpack_from("<Q", chunk, offset + 8)[0]
    return None if number == FILLER_NUMBER else CarvedRecord(offset, size, number)


def rebuilt_chunk(chunk: bytes, records: list[CarvedRecord]) -> bytes:
    """``chunk`` padded to full size, every byte between ``records`` covered by filler records,
    its header made to name exactly ``records`` (magic, numbers, offsets, both CRCs)."""
    data = bytearray(chunk[:CHUNK_SIZE].ljust(CHUNK_SIZE, b"\x00"))
    data[:8] = CHUNK_MAGIC
    position = CHUNK_HEADER_SIZE
    for record in records:
        _fill(data, position, record.offset)
        position = record.offset + record.size
    free = position
    first = records[0].number if records else 1
    last = records[-1].number if records else 1
    struct.pack_into("<QQQQ", data, 8, first, last, first, last)
    struct.pack_into("<III", data, 40, 128, records[-1].offset if records else 0, free)
    struct.pack_into("<I", data, 52, zlib.crc32(data[CHUNK_HEADER_SIZE:free]))
    struct.pack_into("<I", data, 124, _header_crc(data))
    return bytes(data)


def _fill(data: bytearray, start: int, end: int) -> None:
    """Cover ``start``..``end`` with one empty record numbered `FILLER_NUMBER` (gaps are at least
    a record long: they held one)."""
    size = end - start
    if size <= 0:
        return
    if size < RECORD_MIN:  # cannot happen between carved records; keep the walk aligned anyway
        data[start:end] = b"\x00" * size
        return
    data[start:end] = b"\x00" * size
    struct.pack_into("<4sIQ", data, start, RECORD_MAGIC, size, FILLER_NUMBER)
    struct.pack_into("<I", data, end - 4, size)


def chunk_file(chunk: bytes) -> bytes:
    """A whole EVTX file holding ``chunk`` alone (a file header of its own)."""
    first, last = struct.unpack_from("<QQ", chunk, 8)
    header = bytearray(FILE_HEADER_SIZE)
    struct.pack_into("<8sQQQIHHHH", header, 0, b"ElfFile\x00", 0, 0, last + 1, 128, 1, 3, FILE_HEADER_SIZE, 1)
    struct.pack_into("<I", header, 124, zlib.crc32(header[:120]))
    return bytes(header) + chunk


def own_numbers(check: ChunkCheck, records: list[CarvedRecord]) -> range | None:
    """The record numbers a chunk should hold by itself: its header's (CRC intact), else the
    range of its carved records; None when neither is known."""
    if check.first is not None and check.last is not None:
        return range(check.first, check.last + 1)
    numbers = [record.number for record in records]
    if numbers and max(numbers) - min(numbers) < 1 << 16:
        return range(min(numbers), max(numbers) + 1)
    return None


def neighbour_numbers(checks: list[ChunkCheck], ranges: dict[int, range]) -> dict[int, range]:
    """For used chunks without numbers of their own: the gap their neighbours leave."""
    found: dict[int, range] = {}
    used = [check.number for check in checks if check.used]
    for before, this, after in zip(used, used[1:], used[2:], strict=False):
        if this not in ranges and before in ranges and after in ranges:
            gap = range(ranges[before].stop, ranges[after].start)
            if 0 < len(gap) < 1 << 16:
                found[this] = gap
    return found


def read_chunks(stream: BinaryIO, checks: list[ChunkCheck]) -> Iterator[tuple[ChunkCheck, bytes]]:
    """Each used chunk of ``stream`` with its bytes (the stream is read from the start)."""
    stream.seek(FILE_HEADER_SIZE)
    for check in checks:
        chunk = stream.read(CHUNK_SIZE)
        if check.used:
            yield check, chunk
