"""Text log files as UTF-8 bytes, whatever Unicode encoding they were written in.

Windows tools often write UTF-16 (Windows PowerShell's ``>``) or put a byte order mark first.
Readers of text formats go through these helpers so that they only ever see UTF-8: a UTF-8 BOM
is dropped, UTF-16 (with a BOM, or without one when the first character is ASCII) is decoded.
Bytes that are not valid in the detected UTF-16 encoding become U+FFFD.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from typing import BinaryIO

from watchpost.problems import ProblemLog

CHUNK_SIZE = 1 << 20
MAX_LINE = 64 << 20
"""Bytes past which a line is not read (a damaged or hostile file with no line end would
otherwise be held whole in memory)."""


def detect_utf16(head: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when ``head`` starts UTF-16 text (or ``"utf-16"`` when
    it starts with a UTF-16 BOM), else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0 and head[2] != 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0 and head[3] != 0:
        return "utf-16-be"
    return None


def utf8_head(head: bytes) -> bytes:
    """The start of a text file as UTF-8, BOM and leading whitespace removed (for sniffing)."""
    encoding = detect_utf16(head)
    if encoding is not None:
        usable = len(head) - len(head) % 2
        head = head[:usable].decode(encoding, errors="replace").encode("utf-8")
    elif head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    return head.lstrip()


def utf8_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The content of ``stream`` as UTF-8, in chunks of at most about ``size`` bytes.

    Chunks are read with ``read1`` where the stream has it: what was decompressed before damage
    in a compressed stream comes out before the error is raised.
    """
    read = getattr(stream, "read1", stream.read)
    first = read(size)
    encoding = detect_utf16(first)
    if encoding is not None:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        chunk = first
        while chunk:
            yield decoder.decode(chunk).encode("utf-8")
            chunk = read(size)
        yield decoder.decode(b"", final=True).encode("utf-8")
        return
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    yield first
    while chunk := read(size):
        yield chunk


LongLine = Callable[[int], None]
"""Told the number of a line longer than `MAX_LINE` (which is replaced by an empty line)."""


def utf8_lines(stream: BinaryIO, on_long_line: LongLine, max_line: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of ``stream`` as UTF-8 bytes, line ends kept.

    LF, CRLF and CR alone all end a line (old Mac tools and some syslog relays write CR). A line
    longer than ``max_line`` is not held in memory: ``on_long_line`` is told its number and an
    empty line (``b"\\n"``) stands for it, so that line numbers stay right.
    """
    pending: list[bytes] = []  # the start of a line whose end has not been read yet
    pending_size = number = 0
    skipping = False  # inside an over-long line: its bytes are dropped up to its end
    for piece in utf8_chunks(stream):
        chunk = piece
        if skipping:
            data = b"".join([*pending, chunk])
            pending, pending_size = [], 0
            end = _first_line_end(data)
            if end < 0:
                pending = [b"\r"] if data.endswith(b"\r") else []
                continue
            skipping, number, chunk = False, number + 1, data[end:]
            yield b"\n"
        after_cr = bool(pending) and pending[-1].endswith(b"\r")  # that CR ended a line
        if b"\n" not in chunk and b"\r" not in chunk and not after_cr:
            pending.append(chunk)
            pending_size += len(chunk)
        else:
            lines = b"".join([*pending, chunk]).splitlines(keepends=True)
            pending, pending_size = [], 0
            if not lines[-1].endswith(b"\n"):  # unfinished, or a CR that an LF may follow
                pending, pending_size = [lines[-1]], len(lines[-1])
                lines.pop()
            number += len(lines)
            yield from lines
        if pending_size > max_line:
            on_long_line(number + 1)
            skipping = True
            pending = [b"\r"] if pending[-1].endswith(b"\r") else []
            pending_size = 0
    if skipping:
        yield b"\n"
    elif pending:
        yield b"".join(pending)


def report_long_line(problems: ProblemLog, name: str, number: int) -> None:
    """The `LongLine` of readers: one ``read`` problem naming the file and line."""
    problems.add("read", name, f"line {number}", f"line longer than {MAX_LINE} bytes: not read")


def _first_line_end(data: bytes) -> int:
    """Where the first line of ``data`` ends (after its LF, CRLF or CR); -1 when it does not.
    A CR last in ``data`` is not taken as an end: an LF may follow in the next chunk."""
    newline = data.find(b"\n")
    cr = data.find(b"\r", 0, newline if newline >= 0 else len(data))
    if cr >= 0 and cr + 1 < len(data):
        return cr + 2 if data[cr + 1 : cr + 2] == b"\n" else cr + 1
    return -1 if newline < 0 else newline + 1
