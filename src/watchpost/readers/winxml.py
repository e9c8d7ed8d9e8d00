"""Windows event XML: ``wevtutil qe /f:xml``, ``Get-WinEvent | % ToXml``, Event Viewer exports.

Accepted layouts: ``<Event>`` elements one after another with no root (wevtutil), one per line
(ToXml), or wrapped in an ``<Events>`` (or any other) root, with or without an XML declaration,
with or without the event namespace; UTF-8 or UTF-16 (see `watchpost.readers.text`).

Every ``<Event>`` element is cut out of the byte stream and parsed on its own (stdlib
ElementTree), so a malformed element costs only itself: it is reported with its 1-based element
number and line, and reading goes on with the next one. Fields are named as in EVTX (see
`watchpost.readers.winevent`); values are the XML text (``""`` for empty elements), except the
numeric System fields, which are ints. The origin is ``(source name, element number,
"element")``.

Log content is attacker-controlled: a file with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration is
refused (one problem, nothing read), so no entity is ever expanded. An event without
``TimeCreated`` gets the Unix epoch as timestamp and a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring

from watchpost.events import EPOCH, WINDOWS, Event, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.text import CHUNK_SIZE, utf8_chunks, utf8_head
from watchpost.readers.timestamp import parse_timestamp
from watchpost.readers.winevent import ATTRIBUTES, TEXT, flatten_windows_event, make_system_integers

MAX_ELEMENT_BYTES = 16 << 20
"""An ``<Event>`` element larger than this is reported and skipped."""

_START = b"<Event"
_END = b"</Event"
_NAME_ENDS = frozenset(b" \t\r\n>/")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


class WindowsXmlReader:
    """Reads Windows event XML (see the module docstring for layouts and error handling)."""

    name = "xml"
    extensions = (".xml",)

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size

    def sniff(self, head: bytes, source: Source) -> bool:
        text = utf8_head(head)
        return text.startswith(b"<") and _find_start(text, 0) >= 0

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        with source.open() as stream:
            splitter = _ElementSplitter(source.name, problems)
            for index, line, fragment in splitter.elements(utf8_chunks(stream, self.chunk_size)):
                event = _event(fragment, source.name, index, line, problems)
                if event is not None:
                    yield event
        if splitter.index == 0 and not splitter.refused:
            problems.add("read", source.name, None, "no <Event> element found")


def _find_start(buffer: bytes, position: int) -> int:
    """Where the next ``<Event`` start tag begins (not ``<Events``/``<EventData``), or -1."""
    found = buffer.find(_START, position)
    while found >= 0:
        after = found + len(_START)
        if after >= len(buffer):
            return -1  # cut off: the caller reads more
        if buffer[after] in _NAME_ENDS:
            return found
        found = buffer.find(_START, found + 1)
    return -1


def _find_end(buffer: bytes, start: int) -> int:
    """The position just after the element starting at ``start``, or -1 if not in ``buffer``."""
    tag_end = buffer.find(b">", start)
    if tag_end < 0:
        return -1
    if buffer[tag_end - 1] == ord("/"):
        return tag_end + 1  # <Event/>
    found = buffer.find(_END, tag_end)
    while found >= 0:
        after = found + len(_END)
        if after >= len(buffer):
            return -1
        if buffer[after] in _NAME_ENDS:
            close = buffer.find(b">", after)
            return -1 if close < 0 else close + 1
        found = buffer.find(_END, found + 1)
    return -1


class _ElementSplitter:
    """Cuts ``<Event>`` elements out of a stream of UTF-8 chunks, reporting what lies between."""

    def __init__(self, name: str, problems: ProblemLog) -> None:
        self.name = name
        self.problems = problems
        self.buffer = b""
        self.position = 0
        self.line = 1  # line number at self.position
        self.index = 0
        self.quiet_gap = False  # the gap is the rest of a skipped element: do not report it
        self.refused = False

    def elements(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
        """``(element number, line, element bytes)`` for every complete ``<Event>`` element."""
        chunk_iter = iter(chunks)
        at_end = False
        while True:
            start = _find_start(self.buffer, self.position)
            end = -1 if start < 0 else _find_end(self.buffer, start)
            following = -1 if start < 0 else _find_start(self.buffer, start + 1)
            if start >= 0 and (end >= 0 or following >= 0 or at_end):
                if not self._advance_to(start):
                    return
                if following >= 0 and (end < 0 or following < end):
                    self._report_element("element has no end tag")
                    self._skip_to(following)
                elif end >= 0:
                    self.index += 1
                    yield self.index, self.line, self.buffer[start:end]
                    self._skip_to(end)
                else:
                    self._report_element("element cut off at end of file")
                    return
                continue
            if at_end:
                self._advance_to(len(self.buffer))
                return
            if start >= 0 and len(self.buffer) - start > MAX_ELEMENT_BYTES:
                if not self._advance_to(start):
                    return
                self._report_element(f"element larger than {MAX_ELEMENT_BYTES} bytes, skipped")
                self._skip_to(len(self.buffer) - len(_START))
                self.quiet_gap = True
            elif start < 0 and len(self.buffer) - self.position > MAX_ELEMENT_BYTES:
                if self.quiet_gap:
                    self._skip_to(len(self.buffer) - len(_START))
                elif not self._advance_to(len(self.buffer) - len(_START)):
                    return
            chunk = next(chunk_iter, None)
            if chunk is None:
                at_end = True
            else:
                self.buffer = self.buffer[self.position :] + chunk
                self.position = 0

    def _advance_to(self, position: int) -> bool:
        """Move to ``position`` after checking what lies before it; False if the file is refused."""
        gap = self.buffer[self.position : position]
        if gap and not gap.isspace():
            if any(forbidden in gap for forbidden in _FORBIDDEN):
                self.problems.add(
                    "read", self.name, f"line {self.line}",
                    "DTD/entity declarations are refused in event XML: rest of file not read",
                )
                self.refused = True
                return False
            if not self.quiet_gap and not _is_markup_only(gap):
                stripped = gap.lstrip()
                line = self.line + gap.count(b"\n", 0, len(gap) - len(stripped))
                excerpt = stripped[:60].rstrip().decode("utf-8", errors="replace")
                self.problems.add(
                    "read", self.name, f"line {line}", f"unexpected text between events: {excerpt!r}"
                )
        self.quiet_gap = False
        self._skip_to(position)
        return True

    def _skip_to(self, position: int) -> None:
        self.line += self.buffer.count(b"\n", self.position, position)
        self.position = position

    def _report_element(self, reason: str) -> None:
        self.index += 1
        self.problems.add("read", self.name, f"element {self.index} (line {self.line})", reason)


def _is_markup_only(gap: bytes) -> bool:
    """True when ``gap`` holds only tags, declarations, comments and blanks."""
    position = 0
    while True:
        opening = gap.find(b"<", position)
        text = gap[position:] if opening < 0 else gap[position:opening]
        if text and not text.isspace():
            return False
        if opening < 0:
            return True
        closing = gap.find(b">", opening)
        if closing < 0:
            return True  # a tag cut at the end of the data read so far
        position = closing + 1


def _event(fragment: bytes, name: str, index: int, line: int, problems: ProblemLog) -> Event | None:
    place = f"element {index} (line {line})"
    if any(forbidden in fragment for forbidden in _FORBIDDEN):
        problems.add("read", name, place, "DTD/entity declarations are refused in event XML")
        return None
    try:
        root = fromstring(fragment)
    except ParseError as exc:
        problems.add("read", name, place, f"malformed XML: {exc}")
        return None
    fields, system_time = flatten_windows_event(event_dict(root))
    make_system_integers(fields)
    timestamp = EPOCH
    if system_time is None:
        problems.add("kept", name, place, "event without System/TimeCreated: timestamp set to 1970-01-01")
    else:
        try:
            timestamp = parse_timestamp(system_time)
        except ValueError:
            problems.add(
                "kept", name, place, f"unparsable TimeCreated {system_time!r}: timestamp set to 1970-01-01"
            )
    return Event(timestamp, fields, Origin(name, index, "element"), WINDOWS)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def event_dict(root: Element) -> dict[str, Any]:
    """The event in the JSON form pyevtx-rs gives (see `watchpost.readers.winevent`)."""
    event: dict[str, Any] = {}
    for section in root:
        kind = _local(section.tag)
        if kind == "System":
            event["System"] = {_local(child.tag): _system_value(child) for child in section}
        elif kind == "EventData":
            event["EventData"] = _event_data(section)
        elif kind == "UserData":
            event["UserData"] = _json_form(section)
        elif kind == "RenderingInfo":
            for child in section:
                if _local(child.tag) == "Message":
                    event["RenderingInfo"] = {"Message": child.text or ""}
    return event


def _attributes(element: Element) -> dict[str, str]:
    return {_local(name): value for name, value in element.attrib.items()}


def _system_value(element: Element) -> Any:
    text = element.text
    if not element.attrib:
        return text
    value: dict[str, Any] = {ATTRIBUTES: _attributes(element)}
    if text and text.strip():
        value[TEXT] = text
    return value


def _event_data(section: Element) -> dict[str, Any]:
    named: dict[str, Any] = {}
    unnamed: list[str] = []
    for child in section:
        text = child.text or ""
        kind = _local(child.tag)
        key = child.get("Name") if kind == "Data" else kind
        if key is None:
            unnamed.append(text)
        else:
            named[key] = text
    if unnamed:
        named["Data"] = unnamed[0] if len(unnamed) == 1 else unnamed
    return named


def _json_form(element: Element) -> Any:
    """An element as pyevtx-rs renders it: text, or a dict of attributes, children and text."""
    text = element.text
    if not element.attrib and len(element) == 0:
        return text or ""
    value: dict[str, Any] = {}
    if element.attrib:
        value[ATTRIBUTES] = _attributes(element)
    for child in element:
        kind = _local(child.tag)
        converted = _json_form(child)
        if kind not in value:
            value[kind] = converted
        elif isinstance(value[kind], list):
            value[kind].append(converted)
        else:
            value[kind] = [value[kind], converted]
    if text and text.strip():
        value[TEXT] = text
    return value
