"""What followers hand to the watch loop (`Chunk`) and how a chunk of lines becomes events.

A chunk is a run of **complete** lines of one source (or, for EVTX, decoded events). Its lines
are read by the source's reader as if they were a small file of their own; origins are then
renumbered so that an event keeps the line (or ``<Event>`` element) number it has in the whole
file, the number `watchpost hunt` gives it. Problems are renumbered the same way.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from watchpost.events import Event, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Reader, Source

ELEMENT_START = b"<Event"
_NAME_ENDS = frozenset(b" \t\r\n>/")


@dataclass
class Chunk:
    """Complete lines of source ``name`` (``data``) with the numbers of the lines and elements
    before them; or, for EVTX sources, the decoded ``events``."""

    name: str
    data: bytes = b""
    lines_before: int = 0
    elements_before: int = 0
    events: list[Event] | None = None
    format: str | None = None
    """The name of the reader of ``data`` (`watchpost.readers.registry.FORMATS`)."""
    identity: tuple[int, int] | None = None
    """``(st_dev, st_ino)`` of the file read (None for standard input)."""
    context: bytes = b""
    """Lines before ``data`` read again only to rebuild a reader's memory after a restart
    (`watchpost.watch.joins`); set on the first chunk read from a saved position."""


def count_elements(data: bytes) -> int:
    """How many ``<Event>`` start tags (not ``<EventData``...) ``data`` holds."""
    count = 0
    found = data.find(ELEMENT_START)
    while found >= 0:
        after = found + len(ELEMENT_START)
        if after < len(data) and data[after] in _NAME_ENDS:
            count += 1
        found = data.find(ELEMENT_START, after)
    return count


def decode_chunk(chunk: Chunk, reader: Reader, problems: ProblemLog) -> Iterator[Event]:
    """The events of ``chunk`` read by ``reader``, with whole-file origins; never raises."""
    if chunk.events is not None:
        yield from chunk.events
        return
    if not chunk.data.strip():
        return
    local = ProblemLog()
    source = Source(chunk.name, partial(io.BytesIO, chunk.data))
    lines, elements = chunk.lines_before, chunk.elements_before
    last_line = 0
    try:
        for event in reader.read(source, local):
            origin = event.origin
            if origin.record is not None:
                if origin.kind == "line":
                    last_line = max(last_line, origin.record)
                    event.origin = Origin(origin.path, origin.record + lines, "line")
                elif origin.kind == "element":
                    event.origin = Origin(origin.path, origin.record + elements, "element")
            yield event
    except Exception as exc:  # a reader bug on odd input: the lines after the last event one by one
        if elements or count_elements(chunk.data):  # XML elements span lines: no line to single out
            local.add("quarantine", chunk.name, f"line {lines + last_line + 1}",
                      f"reading as {reader.name} failed ({type(exc).__name__}: {exc}): the rest of "
                      "this read is skipped")
        else:  # (problems of those lines are met again there)
            local.problems = [p for p in local.problems if _line_of(p.place) <= last_line]
            yield from _line_by_line(chunk, reader, last_line, problems)
    for problem in local.problems:
        problems.add(problem.stage, problem.path, _shift_place(problem.place, lines, elements),
                     problem.reason)


def _line_by_line(chunk: Chunk, reader: Reader, done: int, problems: ProblemLog) -> Iterator[Event]:
    """The events of ``chunk``'s lines after line ``done`` (of the chunk), each line read alone;
    a line whose reading raises is **quarantined**: reported with its line number and skipped."""
    for number, text in enumerate(chunk.data.splitlines(keepends=True)[done:], start=done + 1):
        single = Chunk(chunk.name, text, chunk.lines_before + number - 1, 0, None, chunk.format,
                       chunk.identity)
        local = ProblemLog()
        source = Source(chunk.name, partial(io.BytesIO, text))
        try:
            events = list(reader.read(source, local))
        except Exception as exc:  # noqa: BLE001 - this line is the hostile one
            problems.add("quarantine", chunk.name, f"line {single.lines_before + 1}",
                         f"reading as {reader.name} failed ({type(exc).__name__}: {exc}): line skipped")
            continue
        for event in events:
            origin = event.origin
            if origin.record is not None and origin.kind == "line":
                event.origin = Origin(origin.path, origin.record + single.lines_before, "line")
            yield event
        for problem in local.problems:
            problems.add(problem.stage, problem.path, _shift_place(problem.place, single.lines_before, 0),
                         problem.reason)


def _line_of(place: str | None) -> int:
    """The line number a problem's place starts with (0 when it names none)."""
    words = (place or "").split()
    if len(words) >= 2 and words[0] == "line" and words[1].rstrip(",;)").isdigit():
        return int(words[1].rstrip(",;)"))
    return 0


def _shift_place(place: str | None, lines: int, elements: int) -> str | None:
    """``"line 3"`` -> ``"line 3 + lines"`` (and the same for elements) in a problem's place."""
    if place is None:
        return None
    words = place.split()
    out = []
    shift_next = 0
    for word in words:
        bare = word.rstrip(",;)")
        if shift_next and bare.isdigit():
            word = str(int(bare) + shift_next) + word[len(bare):]
        shift_next = lines if bare == "line" else elements if bare == "element" else 0
        out.append(word)
    return " ".join(out)
