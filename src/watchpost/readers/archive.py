"""From the paths given on the command line to `Source`s: files, directories, gzip, zip, stdin.

- A directory is walked recursively, entries sorted by name; symbolic links are followed, each
  directory visited once. Entries that are neither files nor directories, and directories that
  cannot be listed, are reported.
- A gzip file (recognised by its magic bytes, whatever its name) is read decompressed, under its
  own name (``a.json.gz``).
- A zip archive (magic bytes) gives one source per member, sorted by member name and named
  ``a.zip!dir/member.json``; members that are themselves gzip or zip are expanded in turn (up to
  ``MAX_NESTING`` levels). Encrypted members and unreadable archives are reported.
- ``-`` is standard input, named ``<stdin>``. Its first ``STDIN_HEAD`` bytes are read ahead (so
  that the format can be sniffed), compressed input is read whole; it can be read only once.

Damage found later (a truncated gzip stream, a bad CRC) surfaces while a reader reads the source;
`watchpost.readers.registry.read_source` reports it.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from watchpost.problems import ProblemLog
from watchpost.readers.base import Source

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MAX_NESTING = 4
HEAD_PEEK = 8
"""Bytes read from each source when it is listed: the longest magic told apart here or by a
reader that trusts `ListedFile.head` (EVTX's ``ElfFile\\0``)."""
STDIN_HEAD = 1 << 16
STDIN_NAME = "<stdin>"

ARCHIVE_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError)
"""What opening or decompressing a damaged archive raises (zlib.error is an Exception subclass
that gzip wraps in BadGzipFile/OSError; encrypted zip members raise RuntimeError)."""


def iter_sources(paths: Iterable[Path | str], problems: ProblemLog) -> Iterator[Source]:
    """The sources behind ``paths`` (files, directories, archives, ``-``), in order."""
    for given in paths:
        if str(given) == "-":
            yield from expand_source(stdin_source(), problems)
            continue
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, problems, set())
        elif path.is_file():
            yield from expand_source(file_source(path), problems)
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


def expand_source(source: Source, problems: ProblemLog, depth: int = 0) -> Iterator[Source]:
    """``source`` itself, or the sources inside it when it is a gzip file or a zip archive.

    A plain file comes back as a `ListedFile` carrying its first bytes.
    """
    try:
        magic = _peek(source)
    except ARCHIVE_ERRORS as exc:
        problems.add("read", source.name, None, f"cannot read: {exc}")
        return
    if not magic.startswith(GZIP_MAGIC) and not magic.startswith(ZIP_MAGICS):
        if source.path is not None and source.__class__ is Source:
            source = ListedFile(source.name, source.open, source.path, magic)
        yield source
        return
    if depth >= MAX_NESTING:
        problems.add("read", source.name, None, f"archives nested deeper than {MAX_NESTING} levels")
        return
    if magic.startswith(GZIP_MAGIC):
        yield from expand_source(Source(source.name, partial(_open_gzip, source.open)), problems, depth + 1)
    else:
        yield from _zip_members(source, problems, depth)


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


class _GzipStream(gzip.GzipFile):
    """A gzip reader that also closes the stream it decompresses."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__(fileobj=inner, mode="rb")
        self._inner = inner

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._inner.close()


def _open_gzip(open_compressed: Callable[[], BinaryIO]) -> BinaryIO:
    return cast(BinaryIO, _GzipStream(open_compressed()))


def _zip_members(source: Source, problems: ProblemLog, depth: int) -> Iterator[Source]:
    try:
        open_archive = _archive_opener(source)
        with open_archive() as archive:
            members = sorted(archive.infolist(), key=lambda info: info.filename)
    except ARCHIVE_ERRORS as exc:
        problems.add("read", source.name, None, f"unreadable zip archive: {exc}")
        return
    for info in members:
        if info.is_dir():
            continue
        name = f"{source.name}!{info.filename}"
        if info.flag_bits & 0x1:
            problems.add("read", name, None, "encrypted zip member: not read")
            continue
        member = Source(name, partial(_open_member, open_archive, info.filename))
        yield from expand_source(member, problems, depth + 1)


def _archive_opener(source: Source) -> Callable[[], zipfile.ZipFile]:
    """How to open the archive again for each member (zip needs a seekable file)."""
    if source.path is not None:
        return partial(zipfile.ZipFile, source.path)
    with source.open() as stream:
        content = stream.read()  # an archive inside an archive, or on stdin: kept in memory
    return lambda: zipfile.ZipFile(io.BytesIO(content))


def _open_member(open_archive: Callable[[], zipfile.ZipFile], member: str) -> BinaryIO:
    archive = open_archive()
    try:
        # The member keeps the archive file open until it is closed itself.
        return cast(BinaryIO, archive.open(member))
    finally:
        archive.close()


def _walk(directory: Path, problems: ProblemLog, seen: set[tuple[int, int]]) -> Iterator[Source]:
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
            yield from _walk(path, problems, seen)
        elif is_file:
            yield from expand_source(file_source(path), problems)
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
