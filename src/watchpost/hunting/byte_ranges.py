"""Large JSON Lines and line-per-event text logs read in byte ranges, so that several processes
(or Spark tasks) share one file; line numbers, problems and merge keys put back in the whole
file's coordinates.

A range ``[start, end)`` holds the lines that *begin* in it: its reader skips the end of the
line it starts inside (unless ``start`` follows a line break) and reads past ``end`` to finish
its last line, so every line belongs to exactly one range, whatever the boundaries. Only plain
files are split (not UTF-16), read by a reader that takes each line alone (`LINE_READERS`):
JSON Lines read by the generic JSON reader (whose first line is a whole JSON value: a multi-line
JSON document cannot be cut) and Sysmon for Linux syslog files. Archives, gzip files and other
formats (auditd joins records across lines; eslogger and CloudTrail lines have readers of their
own) are read whole.

Each range is matched as a source of its own, numbered by its place (ranges of a file are
consecutive sources), with line numbers counted from its first line. `RangeJoin` then takes the
ranges' detections in order and puts them back in file coordinates:

- lines: a range's line numbers (events' origins, problems' places) are shifted by the lines of
  the ranges before it;
- merge keys: a match's key in the whole file is the latest of its key in the range, the key the
  previous ranges ended with, and their latest event time less the lateness
  (`SourceMatcher.stream`), so the matches' keys, and with them the alerts of detection rules
  and their order, are those of the unsplit file.

What may differ from reading the file whole (docs/spark.md, "Split files"): ticks come every
`TICK_EVERY` events of a range rather than of the file, and a tick only moves the correlation
engine's horizon. So a correlation alert may come out earlier or later among the others (the
same alert), and a match already more than the lateness behind the file's earlier events (a
late match) may meet a different horizon: reported late in one run and not in the other, its
window decided accordingly. Matches within the lateness of the file's order are unaffected.
A ``kept`` problem counting the events without a time is given per range. The tests
(tests/hunting/test_byte_ranges.py, test_spark_differential.py) found identical alerts, order
and problems on LF and CRLF files with late matches.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import BinaryIO

import orjson

from watchpost.events import Event
from watchpost.problems import Problem, ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.text import detect_utf16

SPLIT_BYTES = 64 << 20
"""Files at least twice this long are read in ranges of about this many bytes."""
LINE_READERS = ("json", "sysmon-linux")
"""Readers (by name) that read each line of a file alone: a range can be read by them."""
HEAD_BYTES = 1 << 16
"""How much of a file is read to tell JSON Lines (its first line must end within it)."""

@dataclass(frozen=True)
class LineRange(Source):
    """Lines ``[start, end)`` (by the byte their line begins at) of a plain file; picklable when
    its ``open`` is (a plain file's is). Its name is the file's, so origins name the file."""

    start: int = 0
    end: int = 0
    reader: str = "json"
    """The `LINE_READERS` name that reads it."""
    part: int = 0
    """Its place among the file's ranges (0 opens the file)."""
    parts: int = 1

    def lines(self, count: list[int]) -> Iterator[bytes]:
        """The range's lines (line ends kept; the first range loses a UTF-8 BOM), counted in
        ``count[0]`` as they are read."""
        with self.open() as stream:
            for line in range_lines(stream, self.start, self.end):
                count[0] += 1
                yield line


class RangeStream(io.RawIOBase):
    """The lines of a range as a binary stream (for readers that iterate over a stream)."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            line = next(self._lines, None)
            if line is None:
                return 0
            self._pending = line
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def range_lines(stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The lines beginning in ``[start, end)`` of a seekable binary ``stream``."""
    position = start
    if start > 0:
        stream.seek(start - 1)
        skipped = stream.readline()  # the rest of the line ``start`` falls in (or just "\n")
        position = start - 1 + len(skipped)
    else:
        stream.seek(0)
    first = start == 0
    while position < end:
        line = stream.readline()
        if not line:
            return
        position += len(line)
        if first:
            first = False
            if line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
        yield line


def json_lines_head(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) opens a JSON Lines file: not UTF-16, and its first
    non-blank line ends within it and is a whole JSON value."""
    if detect_utf16(head[:4]) is not None:
        return False
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    for line in head.split(b"\n")[:-1]:  # the last piece may be cut
        if line.strip():
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                return False
            return True
    return False


def splittable(head: bytes, source: Source, input_format: str | None = None) -> str | None:
    """The `LINE_READERS` name that reads a file starting with ``head`` line by line, or None
    (read it whole): its format as given or as `readers.registry` would sniff it."""
    from watchpost.readers.registry import HEAD_SIZE, choose_reader

    if detect_utf16(head[:4]) is not None:
        return None
    name = input_format
    if name is None:
        reader = choose_reader(head[:HEAD_SIZE], source)
        name = None if reader is None else reader.name
    if name not in LINE_READERS or (name == "json" and not json_lines_head(head)):
        return None
    return name


def split_source(
    source: Source, split_bytes: int = SPLIT_BYTES, input_format: str | None = None
) -> list[Source]:
    """``source`` as ranges when it is a plain JSON Lines file (`splittable`) of at least two
    ``split_bytes``, else ``[source]``."""
    if split_bytes <= 0 or source.path is None or isinstance(source, LineRange):
        return [source]
    try:
        size = os.stat(source.path).st_size
        if size < 2 * split_bytes:
            return [source]
        with source.open() as stream:
            head = stream.read(HEAD_BYTES)
    except OSError:  # reading it whole reports the problem
        return [source]
    reader = splittable(head, source, input_format)
    if reader is None:
        return [source]
    parts = -(-size // split_bytes)
    bounds = [size * part // parts for part in range(parts + 1)]
    return [
        LineRange(source.name, source.open, source.path, bounds[part], bounds[part + 1], reader, part, parts)
        for part in range(parts)
    ]


def split_sources(
    sources: list[Source], split_bytes: int = SPLIT_BYTES, input_format: str | None = None
) -> list[Source]:
    """Every source, large JSON Lines files replaced by their ranges (in order)."""
    return [piece for source in sources for piece in split_source(source, split_bytes, input_format)]


Keyed = tuple[datetime, int, int, str, Event | None]
"""`source_hunts.Keyed` (repeated here: that module imports this one)."""

_LINE_PLACE = re.compile(r"line (\d+)")


class RangeJoin:
    """Puts the ranges of one file back in the file's coordinates (see the module text); give it
    each range's problems (`rebase_problems`), take its `rebaser` for its items, then
    `close_range`, range after range in order."""

    def __init__(self, name: str, lateness: timedelta) -> None:
        self.name = name
        self.lateness = lateness
        self.lines = 0
        self.key: datetime | None = None
        self.latest: datetime | None = None

    def floor(self) -> datetime | None:
        """The lowest key a match of the next range may have in the whole file."""
        if self.latest is None:
            return self.key
        behind = self.latest - self.lateness
        return behind if self.key is None or behind > self.key else self.key

    def rebase_problems(self, problems: ProblemLog) -> None:
        base, name = self.lines, self.name
        if not base:
            return

        def shifted(found: re.Match[str]) -> str:
            return f"line {int(found[1]) + base}"

        problems.problems = [
            Problem(p.stage, p.path, _LINE_PLACE.sub(shifted, p.place, 1), p.reason)
            if p.path == name and p.place is not None else p
            for p in problems.problems
        ]

    def rebaser(self) -> Callable[[Iterator[Keyed]], Iterator[Keyed]]:
        """What puts the next range's items (keys, line numbers) in the whole file's coordinates,
        from where the file stands now (the items are changed as they are read, later)."""
        return partial(rebased, floor=self.floor(), base=self.lines, name=self.name)

    def close_range(self, lines: int, last_key: datetime | None, latest: datetime | None) -> None:
        """Carry a range's end into the next one (after its items were rebased)."""
        floor = self.floor()
        if last_key is not None:
            self.key = last_key if floor is None or last_key > floor else floor
        else:
            self.key = floor
        if latest is not None and (self.latest is None or latest > self.latest):
            self.latest = latest
        self.lines += lines


def rebased(found: Iterator[Keyed], floor: datetime | None, base: int, name: str) -> Iterator[Keyed]:
    """``found`` with keys raised to ``floor`` and line origins in ``name`` shifted by ``base``."""
    last: Event | None = None
    for key, number, sequence, rule, event in found:
        if floor is not None and key < floor:
            key = floor
        if event is not None and event is not last and base:
            origin = event.origin
            if origin.kind == "line" and origin.record is not None and origin.path == name:
                event.origin = origin._replace(record=origin.record + base)
        last = event  # a match of several rules repeats its event: shifted once
        yield key, number, sequence, rule, event
