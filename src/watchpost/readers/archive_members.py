"""The members of zip and tar archives, listed once and opened each on its own, within limits.

Listing is linear in the number of members: an archive's directory is read once, and each member
is opened later straight at its offset (a zip member's local header, a tar member's data), never
by reading the directory again (reopening a zip per member made a 2,000-member archive take
minutes).

An archive that is not a plain file on disk (inside another archive, decompressed from gzip, or
on standard input) is first copied into an unnamed temporary file, bounded by
`ArchiveLimits.max_expanded`. Members are read from either at offsets (``os.pread``): streams
opened from one archive share no file position, so they may be read side by side, or in forked
worker processes.

Limits (`ArchiveLimits`), each hit reported as one ``read`` problem naming the archive or member:
members per archive (those after the first ``max_members`` by name are not read), total declared
expanded size (members past it are not read), and expansion ratio of a member (a member larger
than ``ratio_floor`` that expands more than ``max_ratio`` times is not read). Member names are
only shown, never used as paths, so ``..`` or absolute names reach nothing; tar links, devices and
sparse members are reported and not read.
"""

from __future__ import annotations

import io
import os
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, TypeVar, cast

from watchpost.problems import ProblemLog
from watchpost.readers.base import Source

TAR_MAGIC_AT = 257
TAR_MAGIC = b"ustar"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_COPY_CHUNK = 1 << 20
_T = TypeVar("_T")


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one archive may expand to (see the module docstring)."""

    max_members: int = 20_000
    max_expanded: int = 8 << 30
    """Bytes an archive (all its members), or one gzip stream, may expand to."""
    max_ratio: int = 200
    ratio_floor: int = 16 << 20
    """Expanded bytes below which the ratio is not checked (small, very regular logs)."""
    max_nesting: int = 4


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveLimitError(OSError):
    """An archive or compressed stream went past one of its `ArchiveLimits`."""


def is_tar(head: bytes) -> bool:
    """Whether ``head`` (at least 262 bytes) starts a POSIX or GNU tar archive."""
    return head[TAR_MAGIC_AT : TAR_MAGIC_AT + len(TAR_MAGIC)] == TAR_MAGIC


class Backing:
    """An archive's bytes, read at offsets: a plain file (by path) or an unnamed temporary copy."""

    def __init__(self, path: str | None = None, copy: BinaryIO | None = None, size: int = 0) -> None:
        self.path = path
        self.copy = copy
        self.size = os.path.getsize(path) if path is not None else size

    @classmethod
    def of(cls, source: Source, limits: ArchiveLimits) -> Backing:
        """``source`` itself when it is a file on disk, else a bounded temporary copy of it."""
        if source.path is not None:
            return cls(path=str(source.path))
        copy = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115 - lives as long as its members
        size = 0
        with source.open() as stream:
            while chunk := stream.read(_COPY_CHUNK):
                size += len(chunk)
                if size > limits.max_expanded:
                    copy.close()
                    raise ArchiveLimitError(f"expands past {limits.max_expanded} bytes: not read")
                copy.write(chunk)
        copy.flush()
        return cls(copy=copy, size=size)

    def open(self, start: int = 0, length: int | None = None) -> BinaryIO:
        """A buffered stream over ``length`` bytes from ``start`` (to the end when None)."""
        end = self.size if length is None else min(self.size, start + length)
        if self.path is not None:
            descriptor = os.open(self.path, os.O_RDONLY)
            return cast(BinaryIO, io.BufferedReader(_Slice(descriptor, start, end, owned=True)))
        assert self.copy is not None
        return cast(BinaryIO, io.BufferedReader(_Slice(self.copy.fileno(), start, end, owned=False)))


class _Slice(io.RawIOBase):
    """Bytes ``start``..``end`` of a file descriptor, read with ``os.pread`` (no shared position)."""

    def __init__(self, descriptor: int, start: int, end: int, owned: bool) -> None:
        self._descriptor = descriptor
        self._start = start
        self._end = max(start, end)
        self._position = start
        self._owned = owned

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._position, io.SEEK_END: self._end}[whence]
        self._position = min(max(self._start, base + offset), self._end)
        return self._position - self._start

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._end - self._position)
        if wanted <= 0:
            return 0
        data = os.pread(self._descriptor, wanted, self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed and self._owned:
            os.close(self._descriptor)
        super().close()


@dataclass
class _Budget:
    """What is left of one archive's limits while its members are listed."""

    source: str
    limits: ArchiveLimits
    problems: ProblemLog
    expanded: int = 0

    exhausted: bool = False

    def admits(self, name: str, size: int, compressed: int | None) -> bool:
        """Whether the member may be read; once the total is passed, no further member is."""
        limits = self.limits
        ratio = size // max(compressed, 1) if compressed is not None else 0
        if size > limits.ratio_floor and ratio > limits.max_ratio:
            self.problems.add("read", name, None, f"expands {ratio} times "
                              f"(limit {limits.max_ratio}): archive bomb? not read")
            return False
        if self.expanded + size > limits.max_expanded:
            self.problems.add("read", name, None, f"archive {self.source} expands past "
                              f"{limits.max_expanded} bytes: this member and the next not read")
            self.exhausted = True
            return False
        self.expanded += size
        return True


def zip_members(source: Source, problems: ProblemLog, limits: ArchiveLimits) -> Iterator[Source]:
    """The members of a zip archive, sorted by name, as sources (directories left out)."""
    try:
        backing = Backing.of(source, limits)
        with backing.open() as stream, zipfile.ZipFile(stream) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError) as exc:
        problems.add("read", source.name, None, f"unreadable zip archive: {exc}")
        return
    infos = _first_members(sorted(infos, key=lambda info: info.filename), source.name, problems, limits)
    budget = _Budget(source.name, limits, problems)
    for info in infos:
        name = f"{source.name}!{info.filename}"
        if info.flag_bits & 0x1:
            problems.add("read", name, None, "encrypted zip member: not read")
            continue
        if not budget.admits(name, info.file_size, info.compress_size):
            if budget.exhausted:
                return
            continue
        yield Source(name, partial(_open_zip_member, backing, info))


def _open_zip_member(backing: Backing, info: zipfile.ZipInfo) -> BinaryIO:
    """The decompressed content of one zip member, found by its local header's offset."""
    stream = backing.open(info.header_offset)
    try:
        header = stream.read(_ZIP_LOCAL_HEADER.size)
        if len(header) != _ZIP_LOCAL_HEADER.size:
            raise zipfile.BadZipFile("truncated member header")
        fields = _ZIP_LOCAL_HEADER.unpack(header)
        if fields[0] != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad magic number for member header")
        stream.seek(fields[10] + fields[11], io.SEEK_CUR)  # the name and extra field
        return cast(BinaryIO, zipfile.ZipExtFile(stream, "r", info, None, True))
    except BaseException:
        stream.close()
        raise


def tar_members(source: Source, problems: ProblemLog, limits: ArchiveLimits) -> Iterator[Source]:
    """The regular files of a tar archive, sorted by name, as sources."""
    try:
        backing = Backing.of(source, limits)
        files = _tar_files(backing, source.name, problems, limits)
    except (OSError, EOFError, tarfile.TarError, ValueError) as exc:
        problems.add("read", source.name, None, f"unreadable tar archive: {exc}")
        return
    files = _first_members(sorted(files, key=lambda info: info.name), source.name, problems, limits)
    budget = _Budget(source.name, limits, problems)
    for info in files:
        name = f"{source.name}!{info.name}"
        if not budget.admits(name, info.size, None):
            return
        yield Source(name, partial(backing.open, info.offset_data, info.size))


def _tar_files(
    backing: Backing, name: str, problems: ProblemLog, limits: ArchiveLimits
) -> list[tarfile.TarInfo]:
    """The regular, non-sparse files of the archive; at most one past ``max_members`` are read
    from its headers, so that a listing is bounded too."""
    files: list[tarfile.TarInfo] = []
    with backing.open() as stream, tarfile.open(fileobj=stream, mode="r:") as archive:
        while len(files) <= limits.max_members:
            try:
                info = archive.next()
            except tarfile.ReadError as exc:  # damage after good members: keep those
                problems.add("read", name, f"after {len(files)} members", f"damaged tar archive: {exc}")
                break
            if info is None:
                break
            if info.isreg() and not info.issparse():
                files.append(info)
            elif not info.isdir():
                reason = f"not a regular file ({_tar_kind(info)}): not read"
                problems.add("read", f"{name}!{info.name}", None, reason)
    return files


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.issym() or info.islnk():
        return f"link to {info.linkname!r}"
    return "sparse file" if info.issparse() else "device or pipe"


def _first_members(members: list[_T], name: str, problems: ProblemLog, limits: ArchiveLimits) -> list[_T]:
    if len(members) > limits.max_members:
        problems.add("read", name, None, f"more than {limits.max_members} members: "
                     f"only the first {limits.max_members} by name are read")
        return members[: limits.max_members]
    return members
