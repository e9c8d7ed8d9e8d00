"""The records of a JSON log file, whatever way they were written down.

Cloud logs arrive as one JSON document (CloudTrail's ``{"Records": [...]}`` as delivered to S3,
Azure's ``{"records": [...]}`` or ``{"value": [...]}``, a plain ``[...]`` array, or a single
pretty-printed object) or as JSON lines (one record per line, or one wrapper document per line).
`iter_json_records` tells them apart by the first character and the first line, and yields each
record object with its place: the 1-based element number in a document (kind ``"element"``), or
the 1-based line number for JSON lines (kind ``"line"``). Records of wrapper documents written one
per line (a CloudTrail file is one line) are numbered as elements, counting on across lines.

Bad input: an unreadable line, or an element that is not an object, is one problem and reading
goes on. A damaged document (truncated download) keeps the elements before the damage: they are
read one by one from the start of the array, and the damage is one problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import orjson
import re2

from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.text import report_long_line, utf8_lines

_WRAPPED_ARRAY = re2.compile(r'"(?:Records|records|value)"\s*:\s*\[')


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One record object and where it was: ``place`` is an element or line number (``kind``)."""

    record: dict[str, Any]
    place: int
    kind: str


def _wrapped(document: Any, wrappers: tuple[str, ...]) -> list[Any] | None:
    if isinstance(document, dict):
        for key in wrappers:
            value = document.get(key)
            if isinstance(value, list):
                return value
    return None


def iter_json_records(
    source: Source, problems: ProblemLog, wrappers: tuple[str, ...] = ("Records", "records", "value")
) -> Iterator[JsonRecord]:
    """Each record object of ``source``; ``wrappers`` name the keys whose list holds the records.

    The text may be UTF-8 or UTF-16 (with a BOM), its lines ended by LF, CRLF or CR. The file is
    JSON lines when its first non-blank line is a JSON object, or when that line is damaged
    (starts with ``{`` but does not parse) and the next non-blank line is an object: a damaged
    first line then costs that line only.
    """
    try:
        stream = source.open()
    except OSError as error:
        problems.add("read", source.name, None, f"cannot open: {error}")
        return
    with stream:
        lines = utf8_lines(stream, partial(report_long_line, problems, source.name))
        head = list(_first_lines(lines, 2))
        first = head[0][1] if head else b""
        if first.startswith(b"{") and (
            _is_json_object(first) or (len(head) > 1 and _is_json_object(head[1][1]))
        ):
            yield from _json_lines(head, lines, source.name, problems, wrappers)
            return
        document = b"".join(_with_blank_lines(head, lines))
    yield from _document(document, source.name, problems, wrappers)


def _first_lines(lines: Iterator[bytes], count: int) -> Iterator[tuple[int, bytes]]:
    """The first ``count`` non-blank lines (stripped), with their numbers."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text:
            yield number, text
            count -= 1
            if count == 0:
                return


def _with_blank_lines(head: list[tuple[int, bytes]], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The text of the whole file again, from the non-blank lines read ahead and the rest."""
    for _, text in head:
        yield text + b"\n"
    yield from rest


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _json_lines(
    head: list[tuple[int, bytes]], rest: Iterator[bytes], name: str, problems: ProblemLog,
    wrappers: tuple[str, ...],
) -> Iterator[JsonRecord]:
    elements = 0
    numbered = chain(head, enumerate(rest, start=head[-1][0] + 1))
    for number, line in numbered:
        text = line.strip()
        if not text:
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            problems.add("read", name, f"line {number}", f"unreadable JSON line: {error}")
            continue
        records = _wrapped(value, wrappers)
        if records is None:
            yield from _checked(value, number, "line", name, problems)
            continue
        for item in records:
            elements += 1
            yield from _checked(item, elements, "element", name, problems)


def _checked(item: Any, place: int, kind: str, name: str, problems: ProblemLog) -> Iterator[JsonRecord]:
    if isinstance(item, dict):
        yield JsonRecord(item, place, kind)
    else:
        problems.add("read", name, f"{kind} {place}", "not a JSON object")


def _document(
    data: bytes, name: str, problems: ProblemLog, wrappers: tuple[str, ...]
) -> Iterator[JsonRecord]:
    if not data.strip():
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        yield from _salvage(data, name, problems, str(error))
        return
    records = _wrapped(document, wrappers)
    if records is None:
        records = document if isinstance(document, list) else [document]
    for index, item in enumerate(records, start=1):
        yield from _checked(item, index, "element", name, problems)


def _salvage(data: bytes, name: str, problems: ProblemLog, reason: str) -> Iterator[JsonRecord]:
    """The elements before the damage of an unreadable document (its array read one by one)."""
    text = data.decode("utf-8", "replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        position = len(text) - len(stripped) + 1
    else:
        match = _WRAPPED_ARRAY.search(text)
        if match is None:
            problems.add("read", name, None, f"unreadable JSON document: {reason}")
            return
        position = match.end()
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            ended = "after the record list" if position < len(text) else "before the end of the record list"
            problems.add("read", name, f"element {index}", f"JSON document damaged {ended}: {reason}")
            return
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            where = f"element {index + 1}"
            problems.add("read", name, where, f"unreadable JSON document from here on: {error.msg}")
            return
        index += 1
        yield from _checked(item, index, "element", name, problems)
