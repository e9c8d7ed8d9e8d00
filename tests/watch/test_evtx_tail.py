"""`EvtxTail` over growing, circular and damaged EVTX files built from real samples: every record
after the last one processed is handed out exactly once, and old chunks are not decoded again."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import pytest

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.evtx import EvtxReader
from watchpost.watch import evtx_tail
from watchpost.watch.evtx_layout import (
    CHUNK_HEADER_SIZE,
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    chunk_offset,
    parse_chunk_header,
    slot_count,
)
from watchpost.watch.evtx_tail import EvtxTail
from watchpost.watch.followers import DirectoryFollower, FollowOptions
from watchpost.watch.state import Checkpoint, Position, StateStore

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "windows" / "evtx"
SECURITY = SAMPLES / "omerbenamram_security_benign.evtx"  # 26 chunks, record ids 1..
RECORD_MAGIC = b"\x2a\x2a\x00\x00"


def sample_chunks(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes()
    slots = range(slot_count(len(data)))
    chunks = [data[chunk_offset(i):chunk_offset(i) + CHUNK_SIZE] for i in slots]
    return data[:FILE_HEADER_SIZE], [c for c in chunks if parse_chunk_header(0, c) is not None]


def chunk_ids(chunk: bytes) -> list[int]:
    """The record ids of a chunk, walking its records (not decoding them)."""
    ids: list[int] = []
    offset = CHUNK_HEADER_SIZE
    (free,) = struct.unpack_from("<I", chunk, 48)
    while offset < free and chunk[offset:offset + 4] == RECORD_MAGIC:
        size, record = struct.unpack_from("<IQ", chunk, offset + 4)
        ids.append(record)
        offset += size
    return ids


class GrowingEvtx:
    """An EVTX file written slot by slot, its header patched as Windows keeps it, and its
    modification time set explicitly (1 s later at each write, in the past)."""

    def __init__(self, path: Path, file_header: bytes) -> None:
        self.path = path
        self.file_header = file_header
        self.slots: list[bytes] = []
        self.mtime = time.time_ns() - 1000 * 10**9

    def write(self, slot: int, chunk: bytes, oldest: int | None = None) -> None:
        if slot == len(self.slots):
            self.slots.append(chunk)
        else:
            self.slots[slot] = chunk
        header = bytearray(self.file_header)
        headers = [parse_chunk_header(0, c[:CHUNK_HEADER_SIZE]) for c in self.slots]
        newest = max(h.last_record for h in headers if h is not None)
        first = 0 if oldest is None else oldest
        struct.pack_into("<QQQ", header, 8, first, slot, newest + 1)
        struct.pack_into("<H", header, 42, len(self.slots))
        struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
        self.path.write_bytes(bytes(header) + b"".join(self.slots))
        self.mtime += 10**9
        os.utime(self.path, ns=(self.mtime, self.mtime))

    def touch(self) -> None:
        self.mtime += 10**9
        os.utime(self.path, ns=(self.mtime, self.mtime))


def drain(tail: EvtxTail, limit: int = 10_000) -> list[Event]:
    events: list[Event] = []
    while (chunk := tail.read(limit)) is not None:
        assert chunk.events
        events.extend(chunk.events)
    return events


def key(event: Event) -> tuple[object, ...]:
    return (event.origin, event.timestamp, sorted(event.fields.items(), key=repr))


def reader_events(path: Path, problems: ProblemLog | None = None) -> list[Event]:
    return list(EvtxReader().read(file_source(path), problems or ProblemLog()))


def test_growing_file_hands_out_each_record_once_and_decodes_only_new_chunks(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    for slot in range(3):
        log.write(slot, chunks[slot])
    tail = EvtxTail(log.path, Position("k", str(log.path)), ProblemLog())
    seen = drain(tail, limit=50)  # several reads per pass: a pass is resumed mid-chunk
    assert tail.decoded == sum(len(chunk_ids(c)) for c in chunks[:3])
    for slot in range(3, 12):
        before = tail.decoded
        log.write(slot, chunks[slot])
        new = drain(tail, limit=50)
        assert [e.origin.record for e in new] == chunk_ids(chunks[slot])
        assert tail.decoded - before == len(chunk_ids(chunks[slot]))  # the old chunks stay undecoded
        seen.extend(new)
    log.touch()  # changed, nothing new: headers read again, no chunk decoded
    before = tail.decoded
    assert tail.read(50) is None and tail.decoded == before
    assert [key(e) for e in seen] == [key(e) for e in reader_events(log.path)]
    assert tail.position.record == chunk_ids(chunks[11])[-1] and tail.full_parses == 0


def partly_written(chunk: bytes, keep: int) -> bytes:
    """``chunk`` as Windows has it while its first ``keep`` records are written: the header's
    last record, free space offset and checksums not matching the full chunk (a dirty chunk)."""
    offset = CHUNK_HEADER_SIZE
    for _ in range(keep):
        (size,) = struct.unpack_from("<I", chunk, offset + 4)
        offset += size
    partial = bytearray(chunk[:offset] + bytes(CHUNK_SIZE - offset))
    first_number, _, first_id, _ = struct.unpack_from("<QQQQ", partial, 8)
    last_number, last_id = first_number + keep - 1, first_id + keep - 1
    struct.pack_into("<QQQQ", partial, 8, first_number, last_number, first_id, last_id)
    struct.pack_into("<I", partial, 48, offset)
    return bytes(partial)


def test_a_chunk_being_written_is_read_again_only_for_its_new_records(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    log.write(0, chunks[0])
    log.write(1, partly_written(chunks[1], 10))
    tail = EvtxTail(log.path, Position("k", str(log.path)), ProblemLog())
    first = drain(tail)
    assert [e.origin.record for e in first] == chunk_ids(chunks[0]) + chunk_ids(chunks[1])[:10]
    log.touch()
    decoded = tail.decoded
    assert tail.read(100) is None and tail.decoded == decoded  # same dirty bytes: not decoded again
    log.write(1, chunks[1])
    second = drain(tail)
    assert [e.origin.record for e in second] == chunk_ids(chunks[1])[10:]
    assert tail.decoded - decoded == len(chunk_ids(chunks[1]))  # that chunk only, skipped records included
    log.write(2, chunks[2])
    third = drain(tail)
    assert [key(e) for e in first + second + third] == [key(e) for e in reader_events(log.path)]


def test_a_circular_log_is_read_in_record_order_after_it_wraps(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    for slot in range(4):
        log.write(slot, chunks[slot])
    tail = EvtxTail(log.path, Position("k", str(log.path)), ProblemLog())
    handed = drain(tail)
    for step, chunk in enumerate(chunks[4:10]):  # overwrite the oldest chunk each time
        slot = step % 4
        before = tail.decoded
        log.write(slot, chunk, oldest=(slot + 1) % 4)
        new = drain(tail)
        assert [e.origin.record for e in new] == chunk_ids(chunk)
        assert tail.decoded - before == len(chunk_ids(chunk))
        handed.extend(new)
    every = [r for c in chunks[:10] for r in chunk_ids(c)]
    assert [e.origin.record for e in handed] == every
    # a watch started on the wrapped file (slots hold chunks 8, 9, 6, 7) reads them in id order,
    # the same events as one reader pass over the file
    fresh = EvtxTail(log.path, Position("k", str(log.path)), ProblemLog())
    events = drain(fresh)
    assert [e.origin.record for e in events] == [r for c in chunks[6:10] for r in chunk_ids(c)]
    assert sorted(map(key, events), key=repr) == sorted(map(key, reader_events(log.path)), key=repr)
    # restarted from a saved position in the middle of the wrapped file
    middle = chunk_ids(chunks[7])[-1]
    resumed = EvtxTail(log.path, Position("k", str(log.path), record=middle), ProblemLog())
    assert [e.origin.record for e in drain(resumed)] == chunk_ids(chunks[8]) + chunk_ids(chunks[9])
    assert resumed.decoded == len(chunk_ids(chunks[8])) + len(chunk_ids(chunks[9]))


def test_a_restart_decodes_only_the_chunks_after_the_saved_record(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    for slot, chunk in enumerate(chunks):
        log.write(slot, chunk)
    saved = chunk_ids(chunks[20])[5]
    tail = EvtxTail(log.path, Position("k", str(log.path), record=saved), ProblemLog())
    events = drain(tail)
    expected = [e for e in reader_events(log.path) if (e.origin.record or 0) > saved]
    assert [key(e) for e in events] == [key(e) for e in expected]
    assert tail.decoded == sum(len(chunk_ids(c)) for c in chunks[20:])


def test_damaged_chunks_are_reported_once_with_their_place_and_the_rest_is_read(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    no_signature = b"\x13\x37" * 256 + chunks[1][512:]
    broken_records = bytearray(chunks[2])
    broken_records[2000:2400] = b"\xff" * 400
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    for slot, chunk in enumerate([chunks[0], no_signature, bytes(broken_records), chunks[3]]):
        log.write(slot, chunk)
    problems = ProblemLog()
    tail = EvtxTail(log.path, Position("k", str(log.path)), problems)
    events = drain(tail)
    expected_problems = ProblemLog()
    expected = reader_events(log.path, expected_problems)
    assert expected_problems.count() >= 2  # the sample damage is real damage for a reader pass
    assert [key(e) for e in events] == [key(e) for e in expected]
    places = [p.place or "" for p in problems.problems]
    assert any(p.startswith(f"chunk 1 at offset {chunk_offset(1)}") for p in places)
    assert any(p.startswith(f"chunk 2 at offset {chunk_offset(2)}") for p in places)
    reported = problems.count()
    log.write(4, chunks[4])
    assert [e.origin.record for e in drain(tail)] == chunk_ids(chunks[4])
    assert problems.count() == reported  # not reported again


def test_anything_unexpected_falls_back_to_the_whole_file_without_repeating_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    for slot in range(4):
        log.write(slot, chunks[slot])
    real = evtx_tail.single_chunk_file
    calls = iter(range(100))

    def failing_after_two(header: bytes, chunk: bytes) -> bytes:
        if next(calls) >= 2:
            raise struct.error("unexpected")
        return real(header, chunk)

    monkeypatch.setattr(evtx_tail, "single_chunk_file", failing_after_two)
    problems = ProblemLog()
    tail = EvtxTail(log.path, Position("k", str(log.path)), problems)
    events = drain(tail, limit=30)
    assert tail.full_parses == 1 and problems.count() == 1
    assert [key(e) for e in events] == [key(e) for e in reader_events(log.path)]


def test_a_file_that_is_not_evtx_by_layout_is_parsed_whole(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    odd = bytearray(file_header)
    struct.pack_into("<H", odd, 40, 8192)  # header block size this module does not know
    log = GrowingEvtx(tmp_path / "Security.evtx", bytes(odd))
    log.write(0, chunks[0])
    tail = EvtxTail(log.path, Position("k", str(log.path)), ProblemLog())
    events = drain(tail)
    assert tail.full_parses == 1
    assert [key(e) for e in events] == [key(e) for e in reader_events(log.path)]


def test_a_cleared_log_is_reported_and_read_from_its_first_record(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    log = GrowingEvtx(tmp_path / "Security.evtx", file_header)
    log.write(0, chunks[0])
    problems = ProblemLog()
    tail = EvtxTail(log.path, Position("k", str(log.path), record=10**9), problems)
    events = drain(tail)
    assert [e.origin.record for e in events] == chunk_ids(chunks[0])
    assert problems.count() == 1 and "went back" in problems.problems[0].reason
    # a slot that cannot be read might hold the newest records: no conclusion is drawn
    log.write(1, b"\x13\x37" * 256 + chunks[1][512:])
    unsure = EvtxTail(log.path, Position("k", str(log.path), record=10**9), problems)
    assert drain(unsure) == [] and not any("went back" in p.reason for p in problems.problems[1:])


def test_a_watched_directory_resumes_a_growing_evtx_from_the_saved_record(tmp_path: Path) -> None:
    file_header, chunks = sample_chunks(SECURITY)
    root = tmp_path / "Logs"
    root.mkdir()
    log = GrowingEvtx(root / "Security.evtx", file_header)
    for slot in range(3):
        log.write(slot, chunks[slot])
    store = StateStore(tmp_path / "state")
    follower = DirectoryFollower(root, FollowOptions(ProblemLog()), scan_every=0)
    first = [e for chunk in iter(follower.poll, None) for e in chunk.events or []]
    store.checkpoint(Checkpoint(positions=follower.positions()))
    store.close()
    follower.close()
    for slot in range(3, 5):
        log.write(slot, chunks[slot])
    store = StateStore(tmp_path / "state")
    resumed = DirectoryFollower(root, FollowOptions(ProblemLog(), stored=store.positions()), scan_every=0)
    again = [e for chunk in iter(resumed.poll, None) for e in chunk.events or []]
    resumed.close()
    store.close()
    assert [e.origin.record for e in again] == chunk_ids(chunks[3]) + chunk_ids(chunks[4])
    assert [key(e) for e in first + again] == [key(e) for e in reader_events(log.path)]
