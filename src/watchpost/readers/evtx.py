"""Windows EVTX files, read with pyevtx-rs (the ``evtx`` package).

Each record becomes an `Event` with the flat fields of `watchpost.readers.winevent`, its
timestamp from ``System/TimeCreated/@SystemTime`` (the record header's time only when the event
has no TimeCreated: some real files carry 1601-01-01 header times) and its origin
``(source name, record number, "record")``. The record number is the one in the record header,
which tools such as ``evtx_dump`` show; the event's own ``System/EventRecordID`` (which differs
when the records were exported from a larger log) is the field ``EventRecordID``.

Bad input: every chunk is checked first (`watchpost.readers.evtx_chunks.survey`: complete, magic,
header and records CRCs). A file whose chunks all pass is read by pyevtx-rs whole (a record it
cannot parse is one problem, placed after the last good record). A file with a cut, damaged or
zeroed chunk is read chunk by chunk instead, each damaged chunk carved to the next record
signature, so that damage costs only the records it holds; each record lost is one problem
(``record N``), so the skip count is the number of records lost. A file with no chunk (empty, a
header alone) is one problem. Members of archives are copied to an unnamed temporary file, not
held in memory.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, BinaryIO, cast

import orjson
from evtx import PyEvtxParser

from watchpost.events import WINDOWS, Event, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.evtx_chunks import (
    FILLER_NUMBER,
    CarvedRecord,
    ChunkCheck,
    Survey,
    carve,
    chunk_file,
    neighbour_numbers,
    own_numbers,
    read_chunks,
    rebuilt_chunk,
    survey,
)
from watchpost.readers.timestamp import parse_timestamp
from watchpost.readers.winevent import flatten_windows_event

EVTX_MAGIC = b"ElfFile\x00"

MAX_CONSECUTIVE_ERRORS = 10_000
"""Parse errors in a row after which a file is given up (guards against a parser that loops)."""


def open_evtx_parser(source: Source | str | BinaryIO) -> Any:
    """A ``PyEvtxParser`` over ``source``: by path for plain files, else over its bytes.

    pyevtx-rs >= 0.14 takes ``skip_errors``: left False, a parse error is raised by the record
    iterator as ``RuntimeError`` and the iterator goes on with the next record or chunk (with True
    errors become ``RuntimeWarning``s, which cannot be tied to a file and place). Older versions
    do not take the argument; the reader copes with both behaviours.
    """
    target: Any
    if isinstance(source, Source):
        if source.path is not None:
            target = str(source.path)
        else:
            with source.open() as stream:
                target = io.BytesIO(stream.read())
    else:
        target = source
    try:
        return PyEvtxParser(target, skip_errors=False)
    except TypeError:
        return PyEvtxParser(target)


@contextmanager
def evtx_file(source: Source) -> Iterator[tuple[str | BinaryIO, BinaryIO]]:
    """What pyevtx-rs reads (a path, or a file object) and a stream of the same bytes.

    A source that is not a file on disk (an archive member, standard input) is copied into an
    unnamed temporary file first: it is not held in memory, whatever its size.
    """
    if source.path is not None:
        with open(source.path, "rb") as stream:
            yield str(source.path), stream
        return
    with source.open() as stream:
        if isinstance(stream, io.BytesIO):  # in memory already (a chunk the watch reads): no copy
            yield stream, stream
            return
        with tempfile.TemporaryFile() as copy:
            shutil.copyfileobj(stream, copy, 1 << 20)
            copy.seek(0)
            yield cast(BinaryIO, copy), cast(BinaryIO, copy)


class EvtxReader:
    """Reads EVTX files (magic ``ElfFile\\0``); the hot path of Windows detection."""

    name = "evtx"
    extensions = (".evtx",)

    def sniff(self, head: bytes, source: Source) -> bool:
        return head.startswith(EVTX_MAGIC)

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        return self.read_selected(source, problems, None)

    def read_selected(
        self, source: Source, problems: ProblemLog, selection: RecordSelection | None
    ) -> Iterator[Event]:
        """`read`, skipping (undecoded, counted in ``selection.skipped``) the records it rejects.

        A file whose chunks all check out (`evtx_chunks.survey`) is read by pyevtx-rs whole;
        one with a damaged or partial chunk is read chunk by chunk, damaged chunks carved, and
        each record lost is one problem.
        """
        with evtx_file(source) as (target, stream):
            checked = survey(stream)
            if not any(chunk.used for chunk in checked.chunks):
                problems.add("read", source.name, None, "no EVTX chunk: no records (empty or cut short)")
                return
            if not checked.clean:
                stream.seek(0)
                yield from read_carefully(stream, checked, source.name, problems, selection)
                return
            try:
                if not isinstance(target, str):
                    target.seek(0)
                records = open_evtx_parser(target).records_json()
            except (OSError, RuntimeError, ValueError) as exc:
                problems.add("read", source.name, None, f"cannot open EVTX file: {exc}")
                return
            yield from _read_records(records, source.name, problems, selection)


class RecordSelection:
    """Which raw records are worth decoding: those whose Channel and EventID some rule admits.

    ``pairs`` holds the admitted ``(channel, event id)`` pairs (channel lower-cased, id as
    decimal text), where ``None`` on either side stands for any value; ``None`` for ``pairs``
    admits everything. The check reads the record's JSON text without parsing it: the first
    ``"EventID"`` and ``"Channel"`` members are those of ``System`` (it comes first); whenever the
    text does not have the expected shape the record is decoded, so a skipped record is one that
    no rule could have matched. Skipped records are counted, not decoded.

    Fast path: the text of the id (pyevtx-rs writes ``"EventID":4688,`` or, with qualifiers,
    ``"EventID":{"#attributes":{...},"#text":7036}``) is looked up among the ids seen before,
    each with the channels that admit it. An id no channel admits is skipped there (two
    ``str.find`` and one dict lookup; no rule can match it whatever its channel); for the other
    ids only the Channel is read. The first record of each id, and any text of another shape,
    takes the general path (the `raw_event_id` / `raw_channel` patterns), which learns the id.

    With ``gates`` (see `GateFor`), a record whose pair is admitted is also offered to its pair's
    `TextGate` and skipped when the gate says no rule can match its text.
    """

    __slots__ = ("pairs", "gates", "skipped", "_decided", "_channels_by_id", "_ids", "_gates_by_pair")

    def __init__(
        self, pairs: frozenset[tuple[str | None, str | None]] | None, gates: GateFor | None = None
    ) -> None:
        self.pairs = None if pairs is not None and (None, None) in pairs else pairs
        self.gates = gates
        self.skipped = 0
        self._decided: dict[tuple[str, str], bool] = {}
        self._channels_by_id: dict[str, frozenset[str]] = {}
        """EventID text as written -> the channels admitting that id (`_ANY_CHANNEL`: all)."""
        self._ids: dict[str, str] = {}
        """EventID text as written -> the id as decimal text (for the keys learned above)."""
        self._gates_by_pair: dict[tuple[str, str], TextGate | None] = {}

    def fresh(self) -> RecordSelection:
        """A selection with the same pairs and gates, for the next source: ``skipped`` starts at
        0, what this one learned is shared (each file need not learn its ids again)."""
        other = RecordSelection(self.pairs, self.gates)
        other._decided = self._decided
        other._channels_by_id = self._channels_by_id
        other._ids = self._ids
        other._gates_by_pair = self._gates_by_pair
        return other

    def admits(self, data: str) -> bool:
        """False only when no rule can match the record (its pair is not admitted, or its gate
        rules its text out)."""
        if self.pairs is None:
            return True
        start = data.find('"EventID":')
        if start < 0:
            return True
        start += 10
        end = data.find(",", start, start + 12)
        if end < 0:
            end = _element_end(data, start)
        token = data[start:end] if end > 0 else ""
        channels = self._channels_by_id.get(token)
        if channels is None:
            return self._admits_generally(data, start, end)
        if not channels:
            return False
        if channels is _ANY_CHANNEL and self.gates is None:
            return True
        at = data.find('"Channel":', end)  # System's Channel comes after its EventID
        if at < 0 or data[at + 10 : at + 11] != '"':
            return self._admits_generally(data, start, end)
        close = data.find('"', at + 11)
        channel = data[at + 11 : close]
        if close < 0 or "\\" in channel:
            return True  # not the expected shape: decode it
        channel = channel.lower()
        if channels is not _ANY_CHANNEL and channel not in channels:
            return False
        return self.gates is None or self._passes_gate(data, channel, self._ids[token])

    def _passes_gate(self, data: str, channel: str, event_id: str) -> bool:
        """Whether the gate of the pair lets the record's text through (no gate: always)."""
        pair = (channel, event_id)
        if pair in self._gates_by_pair:
            gate = self._gates_by_pair[pair]
        else:
            gate = self.gates(channel, event_id) if self.gates is not None else None
            if len(self._gates_by_pair) < _LEARNED_IDS:
                self._gates_by_pair[pair] = gate
        return gate is None or gate(data)

    def _admits_generally(self, data: str, start: int, end: int) -> bool:
        """`admits` by the general patterns; learns the channels of the record's id text."""
        number = _EVENT_ID_NUMBER.match(data, start) or _EVENT_ID_ELEMENT.match(data, start)
        if (
            number is not None and number.end() == end + 1 and number.group(1).isascii()
            and len(self._channels_by_id) < _LEARNED_IDS
        ):  # the id's text up to ``end`` alone decides which id it is: remember it
            event_id = str(int(number.group(1)))
            self._ids[data[start:end]] = event_id
            self._channels_by_id[data[start:end]] = self._channels_of(event_id)
        at = data.find('"Channel":')
        channel = _CHANNEL_TEXT.match(data, at + 10) if at >= 0 else None
        if number is None or channel is None:
            return True  # not the expected shape: decode it
        key = (number.group(1), channel.group(1))
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decide(key[1].lower(), str(int(key[0])))
            if len(self._decided) < 4096:
                self._decided[key] = decided
        if decided and self.gates is not None:
            return self._passes_gate(data, key[1].lower(), str(int(key[0])))
        return decided

    def _channels_of(self, event_id: str) -> frozenset[str]:
        """The channels of the pairs admitting ``event_id`` (`_ANY_CHANNEL` for any channel)."""
        pairs = self.pairs or frozenset()
        if (None, event_id) in pairs:
            return _ANY_CHANNEL
        return frozenset(
            channel for channel, admitted in pairs
            if channel is not None and (admitted is None or admitted == event_id)
        )

    def _decide(self, channel: str | None, event_id: str | None) -> bool:
        pairs = self.pairs
        if pairs is None or channel is None or event_id is None:
            return True
        return (
            (channel, event_id) in pairs or (channel, None) in pairs
            or (None, event_id) in pairs or (None, None) in pairs
        )


def _element_end(data: str, start: int) -> int:
    """Where an EventID element (``{"#attributes":{...},"#text":7036}``) at ``start`` ends: the
    position of its closing brace, or -1."""
    text = data.find('"#text":', start, start + 96)
    return -1 if text < 0 else data.find("}", text, text + 32)


TextGate = Callable[[str], bool]
"""Given a record's raw JSON text: False only when no rule can match the record."""
GateFor = Callable[[str, str], "TextGate | None"]
"""The `TextGate` of records with a (lower-cased Channel, EventID text) pair; None: decode them."""

_ANY_CHANNEL: frozenset[str] = frozenset({"\x00any channel"})
"""Marks an EventID that every channel admits (compared by identity)."""
_LEARNED_IDS = 4096
"""EventID texts `RecordSelection` remembers (ids come from the log: bounded)."""

# Fixed, linear patterns over pyevtx-rs's own JSON (stdlib re: cheaper per call than RE2's wrapper).
_EVENT_ID_NUMBER = re.compile(r'\s*(\d+)[,}\]\s]')
_EVENT_ID_ELEMENT = re.compile(r'\s*\{\s*(?:"#attributes":\s*\{[^{}]*\},\s*)?"#text":\s*(\d+)[,}\s]')
_CHANNEL_TEXT = re.compile(r'\s*"([^"\\]*)"')

def raw_event_id(data: str) -> str | None:
    """The ``System/EventID`` of a record's JSON text as decimal text; None when unsure."""
    start = data.find('"EventID":')
    if start < 0:
        return None
    found = _EVENT_ID_NUMBER.match(data, start + 10) or _EVENT_ID_ELEMENT.match(data, start + 10)
    return None if found is None else str(int(found.group(1)))


def raw_channel(data: str) -> str | None:
    """The ``System/Channel`` of a record's JSON text, lower-cased; None when unsure."""
    start = data.find('"Channel":')
    if start < 0:
        return None
    found = _CHANNEL_TEXT.match(data, start + 10)
    return None if found is None else found.group(1).lower()


def _read_records(
    records: Iterator[Any], name: str, problems: ProblemLog, selection: RecordSelection | None = None
) -> Iterator[Event]:
    last_record: int | None = None
    errors_in_a_row = 0
    if selection is not None and selection.pairs is None:
        selection = None  # admits everything: no check per record
    while True:
        try:
            for record in records:
                if record.__class__ is not dict and isinstance(record, BaseException):
                    raise record  # how pyevtx-rs < 0.9 reported errors
                errors_in_a_row = 0
                if selection is not None and record.__class__ is dict:
                    data = record.get("data")
                    if data.__class__ is str and not selection.admits(data):
                        selection.skipped += 1
                        continue
                try:
                    event = event_from_record(record, name, problems)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    number = record.get("event_record_id") if isinstance(record, dict) else None
                    problems.add("read", name, f"record {number}", _reason(exc))
                    continue
                last_record = event.origin.record
                yield event
            return
        except Exception as exc:  # any parser failure is reported, then reading goes on
            place = "before the first record" if last_record is None else f"after record {last_record}"
            problems.add("read", name, place, f"unreadable EVTX data: {exc}")
            errors_in_a_row += 1
            if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                problems.add("read", name, place, f"gave up after {errors_in_a_row} errors in a row")
                return


def read_carefully(
    stream: BinaryIO, checked: Survey, name: str, problems: ProblemLog, selection: RecordSelection | None
) -> Iterator[Event]:
    """The events of a file with damaged chunks, chunk by chunk (see `evtx_chunks`); each record
    a chunk should hold and that is read nowhere in the file is one problem. A record number read
    once is not read again (stale copies in slack space)."""
    if selection is not None and selection.pairs is None:
        selection = None
    ranges: dict[int, range] = {}
    reasons: dict[int, str] = {}
    seen: set[int] = set()
    lost: list[tuple[range, str, str]] = []
    for check, chunk in read_chunks(stream, checked.chunks):
        records = _carved(chunk, check, checked.next_number)
        errors: list[str] = []
        if records:
            yield from _chunk_events(rebuilt_chunk(chunk, records), name, problems, selection, seen, errors)
        reason = check.damage or "unreadable record"
        if errors:
            reason = f"{reason}: {errors[0]}" if check.damage else errors[0]
        numbers = own_numbers(check, records)
        if numbers is None:
            reasons[check.number] = reason
        else:
            ranges[check.number] = numbers
            lost.append((numbers, f"chunk {check.number}", reason))
    for number, reason in reasons.items():
        gap = neighbour_numbers(checked.chunks, ranges).get(number)
        if gap is None:
            problems.add("read", name, f"chunk {number}", f"{reason}: unreadable, its records unknown")
        else:
            lost.append((gap, f"chunk {number}", reason))
    for numbers, place, reason in lost:
        _report_lost(numbers, seen, name, problems, place, reason)


def _carved(chunk: bytes, check: ChunkCheck, next_number: int | None) -> list[CarvedRecord]:
    """The records of a chunk; when most of them are numbered outside its header's range, the
    header belongs to another chunk (copied over this one's): they are carved without it."""
    records = carve(chunk, check, next_number)
    if check.first is None or check.last is None or not records:
        return records
    inside = sum(1 for record in records if check.first <= record.number <= check.last)
    if inside * 2 >= len(records):
        return records
    check.first = check.last = None
    check.free = len(chunk)
    return carve(chunk, check, next_number)


def _chunk_events(
    chunk: bytes, name: str, problems: ProblemLog, selection: RecordSelection | None,
    seen: set[int], errors: list[str],
) -> Iterator[Event]:
    """The events of one (rebuilt) chunk whose numbers are not in ``seen`` yet; ``seen`` gets the
    numbers of the records read (decoded, skipped by ``selection`` or reported), ``errors`` what
    pyevtx-rs raised."""
    records = open_evtx_parser(io.BytesIO(chunk_file(chunk))).records_json()
    while True:
        try:
            for record in records:
                number = record.get("event_record_id")
                if number == FILLER_NUMBER or number in seen:
                    continue
                seen.add(number)
                if selection is not None and not selection.admits(record.get("data") or ""):
                    selection.skipped += 1
                    continue
                try:
                    yield event_from_record(record, name, problems)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    problems.add("read", name, f"record {number}", _reason(exc))
            return
        except Exception as exc:  # a record pyevtx-rs cannot parse: it goes on with the next one
            errors.append(str(exc)[:300])
            if len(errors) > 1024:
                return


def _report_lost(
    numbers: range, seen: set[int], name: str, problems: ProblemLog, place: str, reason: str
) -> None:
    for number in numbers:
        if number not in seen:
            problems.add("read", name, f"record {number}", f"lost in {place}: {reason}")


def event_from_record(record: dict[str, Any], name: str, problems: ProblemLog) -> Event:
    """The event of one ``records_json()`` item (``event_record_id``, ``timestamp``, ``data``)."""
    fields, system_time = flatten_windows_event(orjson.loads(record["data"])["Event"])
    record_id = record["event_record_id"]
    timestamp: datetime | None = None
    if system_time is not None:
        try:
            timestamp = parse_timestamp(system_time)
        except ValueError:
            problems.add(
                "read", name, f"record {record_id}",
                f"unparsable TimeCreated {system_time!r}: used the record header time",
            )
    if timestamp is None:
        timestamp = parse_timestamp(record["timestamp"])
    return Event(timestamp, fields, Origin(name, record_id, "record"), WINDOWS)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"record without {exc}"
    return f"unreadable record: {type(exc).__name__}: {exc}"
