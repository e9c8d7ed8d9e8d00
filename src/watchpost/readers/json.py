"""JSON logs: JSON Lines, JSON arrays, pretty-printed JSON documents (one or several in a row).

What an object becomes (Windows shapes, flattening, which key gives the time) is decided in
`watchpost.readers.json_shapes`. Times are ISO 8601 with any offset, converted to UTC; a time
without an offset is taken as UTC; numbers are epoch times (`watchpost.readers.timestamp`).

Layout: when the first non-blank line is a whole JSON value, the file is JSON Lines: each line
is parsed alone (origin ``(name, line, "line")``; a line holding an array gives one event per
object). When it opens a multi-line value instead (``[``, ``{`` or ``{"key": 1,``...) or is an
``evtx_dump`` ``Record N`` header, the file is one document: a top-level array gives one event
per object (origin ``"element"``, 1-based), an object one event. Several documents in a row,
with ``Record N`` lines between them as ``evtx_dump`` prints, are read too (origin: the line
where each object starts).

Bad input: a malformed line is reported with its line number and the next line is read. A
document that does not parse is read again value by value (``[``, ``]`` and ``,`` between
values skipped): each bad value is reported with its line and reading resumes at the next line
that starts with ``{``. A value that is not an object, or whose time does not parse, is
reported; events without any time get 1970-01-01, reported once per file with their count.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from itertools import accumulate, islice, repeat
from typing import Any

import orjson

from watchpost.events import EPOCH, Event, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_shapes import shape_object
from watchpost.readers.text import report_long_line, utf8_head, utf8_lines
from watchpost.readers.time_field import TIME_FIELD
from watchpost.readers.timestamp import parse_any_timestamp, parse_timestamp


class JsonReader:
    """Reads JSON logs (see the module docstring)."""

    name = "json"
    extensions = (".json", ".jsonl", ".ndjson")

    def sniff(self, head: bytes, source: Source) -> bool:
        return utf8_head(head)[:1] in (b"{", b"[")

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        return self.read_gated(source, problems, None)

    def read_gated(self, source: Source, problems: ProblemLog, gate: LineSkips | None) -> Iterator[Event]:
        """`read`, skipping (undecoded, counted in ``gate.skipped``) the JSON lines it rejects."""
        with source.open() as stream:
            reading = _JsonFile(source.name, problems, gate)
            yield from reading.events(utf8_lines(stream, partial(report_long_line, problems, source.name)))
            reading.report_untimed()

    def read_lines(
        self, name: str, lines: Iterable[bytes], problems: ProblemLog, gate: LineSkips | None, first: bool
    ) -> Iterator[Event]:
        """The events of ``lines``, a byte range of a JSON Lines file (`hunting.byte_ranges`),
        numbered from 1 within the range. ``first``: the range opens the file (read as `read`
        reads it); any other range is JSON Lines whatever its first line holds, every line gated."""
        reading = _JsonFile(name, problems, gate)
        if first:
            yield from reading.events(lines)
        else:
            yield from reading._json_lines(iter(lines), 0)
        reading.report_untimed()


LineGate = Callable[[bytes, int], int]
"""Given JSON lines' bytes and a start: where (at or after the start) the first text is that may
let a rule match its line, -1 when there is none; never a place spanning a line break."""


class LineSkips:
    """A `LineGate` and the lines of one source it kept from being decoded (``skipped``).

    Only lines of a JSON Lines file after its first are offered, and only a line that is one
    object (``{`` ... ``}``) is skipped: such a line gives one event, so each skipped line counts
    as one event. The gate must pass every line holding ``event_record_id`` (an evtx-dump record,
    whose ``data`` may fail to decode and give no event). A skipped
    line that was malformed is not reported (as with EVTX records that are not decoded).
    """

    __slots__ = ("gate", "skipped")

    def __init__(self, gate: LineGate) -> None:
        self.gate = gate
        self.skipped = 0


class _JsonFile:
    def __init__(self, name: str, problems: ProblemLog, skips: LineSkips | None = None) -> None:
        self.name = name
        self.problems = problems
        self.untimed = 0
        self.skips = skips
        self.time_field = TIME_FIELD.get()  # hunt --timefield: the time is this field's, or none

    def events(self, lines: Iterable[bytes]) -> Iterator[Event]:
        line_iter = iter(lines)
        number = 0
        for line in line_iter:
            number += 1
            if line.strip():
                break
        else:
            return
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if _starts_document(line.strip()):
                yield from self._document(number, [line, *line_iter])
                return
            self._problem(f"line {number}", f"malformed JSON: {exc}")
        else:
            yield from self._events_of(value, number, "line")
        yield from self._json_lines(line_iter, number)

    def report_untimed(self) -> None:
        if self.untimed:
            missing = "" if self.time_field is None else f" (no field {self.time_field!r}, --timefield)"
            self.problems.add("kept", self.name, None, f"{self.untimed} events without a time{missing}: "
                              "their time is set to 1970-01-01")

    def _json_lines(self, lines: Iterator[bytes], number: int, gated: bool = True) -> Iterator[Event]:
        if gated and self.skips is not None:
            yield from self._gated_json_lines(lines, number, self.skips)
            return
        loads = orjson.loads
        for line in lines:
            number += 1
            try:
                value = loads(line)
            except orjson.JSONDecodeError as exc:
                if line.strip():
                    self._problem(f"line {number}", f"malformed JSON: {exc}")
                continue
            if value.__class__ is dict:
                event = self._event(value, number, "line")
                if event is not None:
                    yield event
            else:
                yield from self._events_of(value, number, "line")

    def _gated_json_lines(self, lines: Iterator[bytes], number: int, skips: LineSkips) -> Iterator[Event]:
        """`_json_lines` with the gate (see `LineSkips`), over batches of lines joined: one search
        finds the next line that may match, and the lines before it are skipped together."""
        while True:
            batch = list(islice(lines, _BATCH_LINES))
            if not batch:
                return
            yield from self._gated_batch(batch, number, skips)
            number += len(batch)

    def _gated_batch(self, batch: list[bytes], number: int, skips: LineSkips) -> Iterator[Event]:
        if not all(map(bytes.endswith, batch[:-1], repeat(b"\n"))):
            yield from self._gated_lines(batch, 0, len(batch), number, skips)  # lines ended by \r
            return
        chunk = b"".join(batch)
        ends = list(accumulate(map(len, batch)))  # where each line ends in ``chunk``
        find = skips.gate
        done = start = 0  # lines of the batch handled; where the next one starts in ``chunk``
        while done < len(batch):
            hit = find(chunk, start)  # a match never spans a line break
            line = len(batch) if hit < 0 else bisect_right(ends, hit, done)
            yield from self._between(batch, done, line, number, skips)
            if line < len(batch):
                yield from self._json_lines(iter((batch[line],)), number + line, gated=False)
            done = line + 1
            start = ends[line] if line < len(batch) else len(chunk)

    def _between(
        self, batch: list[bytes], first: int, last: int, number: int, skips: LineSkips
    ) -> Iterator[Event]:
        """Lines ``first``..``last`` - 1 of ``batch``, in which the gate found nothing: skipped
        together when each is ``{`` ... ``}\\n``, else one by one."""
        if first >= last:
            return
        lines = batch[first:last]
        if (
            all(map(bytes.startswith, lines, repeat(b"{")))
            and all(map(bytes.endswith, lines, repeat(b"}\n")))
        ):
            skips.skipped += last - first
            return
        for index in range(first, last):
            if _one_object(batch[index]):
                skips.skipped += 1
            else:
                yield from self._json_lines(iter((batch[index],)), number + index, gated=False)

    def _gated_lines(
        self, batch: list[bytes], first: int, last: int, number: int, skips: LineSkips
    ) -> Iterator[Event]:
        """Lines ``first``..``last`` - 1 of ``batch``, each offered to the gate by itself."""
        find = skips.gate
        for index in range(first, last):
            line = batch[index]
            if find(line, 0) < 0 and _one_object(line):
                skips.skipped += 1
            else:
                yield from self._json_lines(iter((line,)), number + index, gated=False)

    def _document(self, first_number: int, lines: list[bytes]) -> Iterator[Event]:
        text = b"".join(lines)
        if b"\r" in text:  # CR or CRLF line ends: LF alone, so that lines are counted and found alike
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            yield from self._values_one_by_one(text.decode("utf-8", errors="replace"), first_number)
            return
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                yield from self._events_of(item, index, "element")
        else:
            yield from self._events_of(value, first_number, "line")

    def _values_one_by_one(self, text: str, first_number: int) -> Iterator[Event]:
        """Decode ``text`` value by value, skipping separators and ``Record N`` headers."""
        decoder = json.JSONDecoder()
        position, line = 0, first_number
        length = len(text)
        while position < length:
            char = text[position]
            if char in " \t\r\n,[]":
                line += char == "\n"
                position += 1
                continue
            if text.startswith("Record ", position):
                position = _line_end(text, position)
                continue
            try:
                value, end = decoder.raw_decode(text, position)
            except json.JSONDecodeError as exc:
                noticed = first_number + exc.lineno - 1
                where = "" if noticed == line else f" (noticed at line {noticed})"
                self._problem(f"line {line}", f"malformed JSON: {exc.msg}{where}")
                resume = text.find("\n{", position + 1)
                end = length if resume < 0 else resume
            else:
                yield from self._events_of(value, line, "line")
            line += text.count("\n", position, end)
            position = end

    def _events_of(self, value: Any, number: int, kind: str) -> Iterator[Event]:
        items = value if isinstance(value, list) else (value,)
        for item in items:
            event = self._event(item, number, kind)
            if event is not None:
                yield event

    def _event(self, value: Any, number: int, kind: str) -> Event | None:
        place = f"{kind} {number}"
        if value.__class__ is not dict:
            self._problem(place, f"not a JSON object: {type(value).__name__}")
            return None
        try:
            fields, raw_time, logsource = shape_object(value)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            self._problem(place, f"unreadable embedded record: {exc}")
            return None
        if self.time_field is not None:
            raw_time = fields.get(self.time_field)
        timestamp = self._timestamp(raw_time, place)
        return Event(timestamp, fields, Origin(self.name, number, kind), logsource)

    def _timestamp(self, raw_time: Any, place: str) -> datetime:
        if raw_time is None:
            self.untimed += 1
            return EPOCH
        try:
            if raw_time.__class__ is str:
                return parse_timestamp(raw_time)
            return parse_any_timestamp(raw_time)
        except ValueError:
            self.problems.add("kept", self.name, place, f"unparsable time {raw_time!r}: set to 1970-01-01")
            return EPOCH

    def _problem(self, place: str | None, reason: str) -> None:
        self.problems.add("read", self.name, place, reason)


def _starts_document(first_line: bytes) -> bool:
    """Whether a first line that is not a JSON value opens a multi-line document.

    True for the start of a pretty-printed object or array (``{``, ``[``, ``{"key": 1,``) and for
    an ``evtx_dump`` ``Record N`` header; False for a damaged JSON line (cut or garbled).
    """
    if first_line.startswith(b"["):
        return True
    if first_line.startswith(b"{"):
        return not first_line.endswith(b"}")
    words = first_line.split()
    return len(words) == 2 and words[0] == b"Record" and words[1].isdigit()


_BATCH_LINES = 128
"""Lines joined for one gate search (~256 KB for 2 KB lines; 64-512 measured alike)."""


def _one_object(line: bytes) -> bool:
    """Whether ``line`` is ``{`` ... ``}`` (blanks around allowed), so that, when it is JSON, it is
    one object. The gate passes a line holding ``event_record_id`` (see `LineSkips`)."""
    if line[:1] == b"{" and line[-2:] == b"}\n":
        return True
    text = line.strip()
    return text[:1] == b"{" and text[-1:] == b"}"


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end
