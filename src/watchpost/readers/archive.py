"""From the paths given on the command line to `Source`s: files, directories, gzip, zip, stdin.

- A directory is walked recursively, entries sorted by name; symbolic links are followed, each
  directory visited once. Entries that are neither files nor directories, and directories that
  cannot be listed, are reported.
- A gzip file (recognised by its magic bytes, whatever its name) is read decompressed, under its
  own name (``a.json.gz``), as a stream bounded by `ArchiveLimits` (total size, and ratio once
  past ``ratio_floor``): past a bound, reading stops with a problem naming the file.
- A zip or tar archive (magic bytes; ``.tar.gz``/``.tgz`` are gzip, then tar) gives one source
  per member, sorted by member name and named ``a.zip!dir/member.json``; members that are
  themselves gzip, zip or tar are expanded in turn (up to ``max_nesting`` levels). Encrypted
  members, unreadable archives and every limit hit are reported
  (`watchpost.readers.archive_members`).
- ``-`` is standard input, named ``<stdin>``. Its first ``STDIN_HEAD`` bytes are read ahead (so
  that the format can be sniffed), compressed input is read whole; it can be read only once.

Damage found later (a truncated gzip stream, a bad CRC) surfaces while a reader reads the source;
`watchpost.readers.registry.read_source` reports it.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from watchpost.problems import ProblemLog
from watchpost.readers.archive_members import (
    DEFAULT_LIMITS,
    ZIP_MAGICS,
    ArchiveLimitError,
    ArchiveLimits,
    is_tar,
    tar_members,
    zip_members,
)
from watchpost.readers.base import Source

GZIP_MAGIC = b"\x1f\x8b"
MAX_NESTING = DEFAULT_LIMITS.max_nesting
HEAD_PEEK = 512
"""Bytes read from each source when it is listed: enough for the magics told apart here (tar's
``ustar`` at 257) or by a reader that trusts `ListedFile.head` (EVTX's ``ElfFile\\0``)."""
STDIN_HEAD = 1 << 16
STDIN_NAME = "<stdin>"

ARCHIVE_ERRORS = (
    OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError, zlib.error
)
"""What opening or decompressing a damaged archive raises (a damaged deflate stream raises
zlib.error, from zip members and gzip alike; encrypted zip members raise RuntimeError; a limit
hit raises `ArchiveLimitError`, an OSError)."""


def iter_sources(
    paths: Iterable[Path | str], problems: ProblemLog, limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Source]:
    """The sources behind ``paths`` (files, directories, archives, ``-``), in order."""
    for given in paths:
        if str(given) == "-":
            yield from expand_source(stdin_source(), problems, limits=limits)
            continue
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, problems, set(), limits)
        elif path.is_file():
            yield from expand_source(file_source(path), problems, limits=limits)
        elif path.exists() or path.is_symlink():
            problems.add("read", str(path), None, "not a regular file or directory")
        else:
            problems.add("read", str(path), None, "no such file or directory")


def file_source(path: Path) -> Source:
    """A plain file on disk."""
    return Source(str(path), partial(_open_file, path), path)


def stdin_source(stream: BinaryIO | None = None) -> Source:
    """Standard input (or ``stream``) as a source; its head is buffered for sniffing.

    Compressed input (gzip, zip) is read whole into memory first, since decompressing it for
    sniffing would consume more than the buffered head.
    """
    shared = _ReadAhead(stream if stream is not None else sys.stdin.buffer)
    with shared.open() as probe:
        magic = probe.read(4)
    if magic.startswith(GZIP_MAGIC) or magic.startswith(ZIP_MAGICS):
        with shared.open() as whole:
            content = whole.read()
        return Source(STDIN_NAME, partial(io.BytesIO, content))
    return Source(STDIN_NAME, shared.open)


@dataclass(frozen=True)
class ListedFile(Source):
    """A plain file as listed: ``head`` holds its first `HEAD_PEEK` bytes (fewer if shorter),
    read once to tell archives apart, so that the format can be told without opening it again."""

    head: bytes = b""


def expand_source(
    source: Source, problems: ProblemLog, depth: int = 0, limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Source]:
    """``source`` itself, or the sources inside it when it is a gzip file, a zip or tar archive.

    A plain file comes back as a `ListedFile` carrying its first bytes. Damage met while
    peeking (a damaged deflate stream, a limit hit) is one problem naming the source.
    """
    try:
        head = _peek(source)
    except ARCHIVE_ERRORS as exc:
        problems.add("read", source.name, None, f"cannot read: {_error_text(exc)}")
        return
    archive = _archive_kind(head)
    if archive is None:
        if source.path is not None and source.__class__ is Source:
            source = ListedFile(source.name, source.open, source.path, head)
        yield source
        return
    if depth >= limits.max_nesting:
        problems.add("read", source.name, None, f"archives nested deeper than {limits.max_nesting} levels")
        return
    if archive == "gzip":
        inner = Source(source.name, partial(open_gzip, source.open, limits, source.name))
        members: Iterator[Source] = iter((inner,))
    elif archive == "zip":
        members = zip_members(source, problems, limits)
    else:
        members = tar_members(source, problems, limits)
    for member in members:
        yield from expand_source(member, problems, depth + 1, limits)


def _archive_kind(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    return "tar" if is_tar(head) else None


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return text if isinstance(exc, (OSError, zipfile.BadZipFile)) else f"{type(exc).__name__}: {text}"


def _peek(source: Source) -> bytes:
    """The first `HEAD_PEEK` bytes of ``source``; plain files without a buffered file object
    (a third of the cost of ``open``, paid for every file listed)."""
    if source.path is None:
        with source.open() as stream:
            return stream.read(HEAD_PEEK)
    descriptor = os.open(source.path, os.O_RDONLY)
    try:
        return os.read(descriptor, HEAD_PEEK)
    finally:
        os.close(descriptor)


def _open_file(path: Path) -> BinaryIO:
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def open_gzip(open_compressed: Callable[[], BinaryIO], limits: ArchiveLimits, name: str) -> BinaryIO:
    """The decompressed content of a gzip stream, bounded by ``limits``."""
    return cast(BinaryIO, io.BufferedReader(_BoundedGzip(open_compressed(), limits), 1 << 16))


GZIP_PIECE = 1 << 12
"""Compressed bytes fed to zlib at a time: what was decompressed before damage comes out
before the damage is raised, save the output of the damaged piece (gzip.GzipFile checks a
member's CRC before returning its end, losing all of a small file)."""


class _BoundedGzip(io.RawIOBase):
    """Decompressed gzip (members one after the other, zero padding after them allowed) that
    stops with `ArchiveLimitError` past the total or the ratio bound, and with an OSError
    naming the damage when the deflate stream or a member's CRC is damaged."""

    def __init__(self, compressed: BinaryIO, limits: ArchiveLimits) -> None:
        self._compressed = compressed
        self._inflate = zlib.decompressobj(31)
        self._tail = b""
        self._limits = limits
        self._read = 0
        self._expanded = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while True:
            if self._inflate.eof and not self._next_member():
                return 0
            data = self._tail or self._take()
            if not data:
                raise EOFError("gzip stream cut short (ended before its end-of-stream marker)")
            try:
                out = self._inflate.decompress(data, len(buffer))
            except zlib.error as exc:
                raise OSError(f"damaged gzip data after {self._expanded} bytes: {exc}") from None
            self._tail = self._inflate.unconsumed_tail
            if out:
                self._count(len(out))
                buffer[: len(out)] = out
                return len(out)

    def _take(self) -> bytes:
        data = self._compressed.read(GZIP_PIECE)
        self._read += len(data)
        return data

    def _next_member(self) -> bool:
        """After a member: whether another one follows (zero padding is passed over)."""
        rest = self._inflate.unused_data
        while not rest.lstrip(b"\x00"):
            rest = self._take()
            if not rest:
                return False
        rest = rest.lstrip(b"\x00")
        if not rest.startswith(GZIP_MAGIC[: len(rest)]):
            raise OSError("data after the gzip stream that is not gzip")
        self._inflate = zlib.decompressobj(31)
        self._tail = rest
        return True

    def _count(self, count: int) -> None:
        self._expanded += count
        limits, expanded = self._limits, self._expanded
        if expanded > limits.max_expanded:
            raise ArchiveLimitError(f"gzip stream expands past {limits.max_expanded} bytes: rest not read")
        if expanded > limits.ratio_floor and expanded > limits.max_ratio * max(self._read, 1):
            raise ArchiveLimitError(
                f"gzip stream expands more than {limits.max_ratio} times "
                f"(archive bomb?): rest not read after {expanded} bytes"
            )

    def close(self) -> None:
        try:
            self._compressed.close()
        finally:
            super().close()


def _walk(
    directory: Path, problems: ProblemLog, seen: set[tuple[int, int]], limits: ArchiveLimits
) -> Iterator[Source]:
    try:
        status = directory.stat()
        key = (status.st_dev, status.st_ino)
        if key in seen:
            return  # a symbolic link back to a directory already walked
        seen.add(key)
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        problems.add("read", str(directory), None, f"cannot list directory: {exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()
        except OSError as exc:
            problems.add("read", str(path), None, f"cannot read: {exc}")
            continue
        if is_dir:
            yield from _walk(path, problems, seen, limits)
        elif is_file:
            yield from expand_source(file_source(path), problems, limits=limits)
        else:
            problems.add("read", str(path), None, "not a regular file or directory (or a broken link)")


class _ReadAhead:
    """A once-readable stream whose first bytes can be read again by every opener."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._head: bytes | None = None

    def open(self) -> BinaryIO:
        if self._head is None:
            self._head = self._stream.read(STDIN_HEAD)
        return cast(BinaryIO, io.BufferedReader(_Prefixed(self._head, self._stream)))


class _Prefixed(io.RawIOBase):
    """``head`` then whatever is left in ``rest`` (which is shared and never closed here)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._offset = 0
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._offset < len(self._head):
            data = self._head[self._offset : self._offset + len(buffer)]
            self._offset += len(data)
        else:
            data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
