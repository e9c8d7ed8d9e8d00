"""Benchmark (not a test): one `watchpost watch` poll of a large growing EVTX file.

Builds an EVTX file of ``--chunks`` 64 KiB chunks from the real chunks of a sample (record ids
renumbered so that they keep growing, checksums recomputed), lets an EVTX tail read all of it,
then ``--appends`` times appends one chunk and times the poll that hands out its records.
``--tail new`` is `watchpost.watch.evtx_tail.EvtxTail`; any other tail class with the same
interface is given as ``module:Class``, e.g. the class it replaced (the whole file parsed again
at each change), ``watchpost.watch.tails:EvtxTail`` up to commit 723b730.

    python bench/evtx_tail_poll.py --chunks 800 --appends 5
    python bench/evtx_tail_poll.py --chunks 800 --appends 5 --tail watchpost.watch.tails:EvtxTail
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from watchpost.problems import ProblemLog
from watchpost.watch.evtx_layout import (
    CHUNK_HEADER_SIZE,
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    chunk_offset,
    parse_chunk_header,
    slot_count,
)
from watchpost.watch.state import Position

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT.parent / "shared" / "samples" / "windows" / "evtx" / "omerbenamram_security_benign.evtx"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"


def renumbered(chunk: bytes, first_id: int) -> tuple[bytes, int]:
    """``chunk`` with record ids from ``first_id`` on (chunk header, records, checksums)."""
    data = bytearray(chunk)
    (free,) = struct.unpack_from("<I", data, 48)
    offset, record = CHUNK_HEADER_SIZE, first_id
    while offset < free and data[offset:offset + 4] == RECORD_MAGIC:
        (size,) = struct.unpack_from("<I", data, offset + 4)
        struct.pack_into("<Q", data, offset + 8, record)
        offset, record = offset + size, record + 1
    last = record - 1
    struct.pack_into("<QQQQ", data, 8, first_id, last, first_id, last)
    struct.pack_into("<I", data, 52, zlib.crc32(bytes(data[CHUNK_HEADER_SIZE:free])))
    header_crc = zlib.crc32(bytes(data[128:CHUNK_HEADER_SIZE]), zlib.crc32(bytes(data[:120])))
    struct.pack_into("<I", data, 124, header_crc)
    return bytes(data), record


def sample_chunks() -> tuple[bytes, list[bytes]]:
    data = SAMPLE.read_bytes()
    chunks = [data[chunk_offset(i):chunk_offset(i) + CHUNK_SIZE] for i in range(slot_count(len(data)))]
    return data[:FILE_HEADER_SIZE], [c for c in chunks if parse_chunk_header(0, c) is not None]


def tail_class(spec: str) -> Any:
    if spec == "new":
        spec = "watchpost.watch.evtx_tail:EvtxTail"
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def drain(tail: Any) -> int:
    count = 0
    while (chunk := tail.read(10_485)) is not None:
        count += len(chunk.events or [])
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=800)
    parser.add_argument("--appends", type=int, default=5)
    parser.add_argument("--tail", default="new")
    options = parser.parse_args()
    header, chunks = sample_chunks()
    cls = tail_class(options.tail)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Security.evtx"
        record, body = 1, []
        for number in range(options.chunks + options.appends):
            chunk, record = renumbered(chunks[number % len(chunks)], record)
            body.append(chunk)
        path.write_bytes(header + b"".join(body[:options.chunks]))
        tail = cls(path, Position("k", str(path)), ProblemLog())
        started = time.perf_counter()
        first = drain(tail)
        first_seconds = time.perf_counter() - started
        polls = []
        mtime = time.time_ns() - 3600 * 10**9
        for chunk in body[options.chunks:]:
            with open(path, "ab") as stream:
                stream.write(chunk)
            mtime += 10**9
            os.utime(path, ns=(mtime, mtime))
            started = time.perf_counter()
            new = drain(tail)
            polls.append(time.perf_counter() - started)
        size = path.stat().st_size
    print(f"{options.tail}: file {size / 2**20:.1f} MiB, {options.chunks} chunks; first read {first} events "
          f"in {first_seconds:.2f} s; poll after one appended chunk ({new} events): "
          f"median {statistics.median(polls) * 1000:.1f} ms, min {min(polls) * 1000:.1f}, "
          f"max {max(polls) * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
