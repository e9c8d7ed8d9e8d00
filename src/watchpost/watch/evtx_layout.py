"""The layout of an EVTX file as far as following it needs: the file header and chunk headers.

An EVTX file is a 4096-byte file header (signature ``ElfFile\\0``, first/last chunk numbers,
next record id, header block size, chunk count, flags, CRC32 of its first 120 bytes), then
64 KiB chunks. Each chunk starts with a 512-byte header (signature ``ElfChnk\\0``, first/last
event record number, first/last event record id, free space offset, CRC32 of the records, CRC32
of header bytes 0-120 and 128-512) and is self-contained: its records refer only to its own
string and template tables, so a chunk can be parsed on its own behind any file header.

Windows logs are circular: once the file is full the oldest chunks are overwritten, so record
ids keep growing but the order of chunks in the file is not their time order. The chunk being
written may have a header that lags its records or a checksum that does not match (yet).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512

_CHUNK_IDS = struct.Struct("<QQQQ")  # first/last record number, first/last record id (offset 8)
_CHUNK_CHECKSUM = struct.Struct("<I")  # header CRC32 (offset 124)
_EMPTY_HEADER = bytes(CHUNK_HEADER_SIZE)


class LayoutError(ValueError):
    """The file does not have the layout this module knows (the caller parses it whole)."""


@dataclass(frozen=True, slots=True)
class ChunkHeader:
    """What the header of the chunk in slot ``index`` says. ``trusted``: its checksum matches
    and its record ids are consistent, so no record of the chunk is beyond ``last_record``."""

    index: int
    first_record: int
    last_record: int
    trusted: bool

    @property
    def offset(self) -> int:
        return chunk_offset(self.index)


def chunk_offset(index: int) -> int:
    """Where the chunk in slot ``index`` starts."""
    return FILE_HEADER_SIZE + index * CHUNK_SIZE


def slot_count(size: int) -> int:
    """How many whole chunks a file of ``size`` bytes holds (a partly written last one is not
    counted: pyevtx-rs does not read it either)."""
    return max(0, (size - FILE_HEADER_SIZE) // CHUNK_SIZE)


def check_file_header(header: bytes) -> None:
    """Raise `LayoutError` unless ``header`` is an EVTX file header with 4096-byte blocks."""
    if len(header) < FILE_HEADER_SIZE or not header.startswith(FILE_MAGIC):
        raise LayoutError("no EVTX file header")
    (block_size,) = struct.unpack_from("<H", header, 40)
    if block_size != FILE_HEADER_SIZE:
        raise LayoutError(f"header block size {block_size}, expected {FILE_HEADER_SIZE}")


def parse_chunk_header(index: int, raw: bytes) -> ChunkHeader | None:
    """The header of slot ``index`` from its first 512 bytes; None when the slot holds no chunk
    signature."""
    if not raw.startswith(CHUNK_MAGIC) or len(raw) < CHUNK_HEADER_SIZE:
        return None
    _, _, first, last = _CHUNK_IDS.unpack_from(raw, 8)
    (expected,) = _CHUNK_CHECKSUM.unpack_from(raw, 124)
    checksum = zlib.crc32(raw[128:CHUNK_HEADER_SIZE], zlib.crc32(raw[:120]))
    trusted = checksum == expected and 0 < first <= last
    return ChunkHeader(index, first, last, trusted)


def is_empty_slot(raw: bytes) -> bool:
    """Whether a slot's header bytes are all zero (space not written yet)."""
    return raw[:CHUNK_HEADER_SIZE] == _EMPTY_HEADER[: len(raw)]


class ChunkScanner:
    """Reads the chunk headers of a file, one 512-byte read per slot; a header whose bytes did
    not change since the previous scan is not parsed again (its CRC32 is compared)."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[int, ChunkHeader | None]] = {}

    def scan(self, fd: int, size: int) -> tuple[list[ChunkHeader], list[tuple[int, int]]]:
        """The chunk headers of the open file, and the slots whose header is neither a chunk
        nor empty (damaged) with the CRC32 of their first 512 bytes."""
        headers: list[ChunkHeader] = []
        damaged: list[tuple[int, int]] = []
        known = self.known
        count = slot_count(size)
        for index in range(count):
            raw = os.pread(fd, CHUNK_HEADER_SIZE, chunk_offset(index))
            fingerprint = zlib.crc32(raw)
            seen = known.get(index)
            if seen is not None and seen[0] == fingerprint:
                header = seen[1]
            else:
                header = parse_chunk_header(index, raw)
                known[index] = (fingerprint, header)
            if header is not None:
                headers.append(header)
            elif not is_empty_slot(raw):
                damaged.append((index, fingerprint))
        for index in [i for i in known if i >= count]:
            del known[index]
        return headers, damaged


def single_chunk_file(file_header: bytes, chunk: bytes) -> bytes:
    """A file of ``chunk`` alone behind ``file_header``, whose chunk numbers, chunk count and
    checksum are patched to say so (pyevtx-rs >= 0.14 counts chunks from the size; older
    versions read the header's count)."""
    header = bytearray(file_header[:FILE_HEADER_SIZE])
    struct.pack_into("<QQ", header, 8, 0, 0)  # first and last chunk number
    struct.pack_into("<H", header, 42, 1)  # chunk count
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + chunk
