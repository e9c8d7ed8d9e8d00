"""Text log files as UTF-8 bytes, whatever Unicode encoding they were written in.

Windows tools often write UTF-16 (Windows PowerShell's ``>``) or put a byte order mark first.
Readers of text formats go through these helpers so that they only ever see UTF-8: a UTF-8 BOM
is dropped, UTF-16 (with a BOM, or without one when the first character is ASCII) is decoded.
Bytes that are not valid in the detected UTF-16 encoding become U+FFFD.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

CHUNK_SIZE = 1 << 20


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
    """The content of ``stream`` as UTF-8, in chunks of about ``size`` bytes."""
    first = stream.read(size)
    encoding = detect_utf16(first)
    if encoding is not None:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        chunk = first
        while chunk:
            yield decoder.decode(chunk).encode("utf-8")
            chunk = stream.read(size)
        yield decoder.decode(b"", final=True).encode("utf-8")
        return
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    yield first
    while chunk := stream.read(size):
        yield chunk


def utf8_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of ``stream`` as UTF-8 bytes (line ends kept, as binary file iteration does)."""
    buffered: Any = stream if callable(getattr(stream, "peek", None)) else io.BufferedReader(_Raw(stream))
    head = buffered.peek(4)[:4]
    encoding = detect_utf16(head)
    if encoding is not None:
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")
        for line in text:
            yield line.encode("utf-8")
        return
    first = buffered.readline()
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    if first:
        yield first
    yield from buffered


class _Raw(io.RawIOBase):
    """Any binary stream seen as a raw stream, so that it can be buffered (and peeked at)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
