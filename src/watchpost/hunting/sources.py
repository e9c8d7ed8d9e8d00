"""Picklable descriptions of inputs (`SourceRef`: a URI, an archive member, a byte range) and
their openers, so that one process lists inputs and others (Spark executors) read them.

A URI is a local path (``logs/a.evtx``, ``file:///data/a.evtx``) or an fsspec URL (``s3://``,
``abfs://``, ``gs://``, ``hdfs://``...; fsspec and the filesystem's package must be installed
where it is read, and fsspec is imported only then). A member names what is inside an archive as
`readers.archive` names it (``a.zip!dir/b.json`` has the member ``dir/b.json``; a gzip file's
content has the member ``""``); opening it expands the archive again and takes that member.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, cast

from watchpost.hunting.byte_ranges import HEAD_BYTES, LineRange, splittable
from watchpost.problems import ProblemLog
from watchpost.readers.archive import ListedFile, expand_source, file_source, iter_sources
from watchpost.readers.base import Source

LOCAL_SCHEME = "file://"


@dataclass(frozen=True)
class SourceRef:
    """One input to read somewhere else: picklable, with `open_source` to read it there."""

    uri: str
    member: str | None = None
    """None: the file itself; else what is inside it (see the module text)."""
    size: int = 0
    """Bytes (of the file; what batching goes by)."""
    start: int = 0
    end: int | None = None
    part: int = 0
    parts: int = 1
    """A byte range (`byte_ranges.LineRange`) when ``parts`` > 1, read by ``reader``."""
    reader: str = "json"

    @property
    def name(self) -> str:
        """What origins and problems show: the name a local hunt gives the same input."""
        return self.uri if self.member is None or self.member == "" else f"{self.uri}!{self.member}"

    def open_source(self, problems: ProblemLog) -> Source | None:
        """The `Source` to read; None (with a problem naming it) when it cannot be reached."""
        try:
            base = _base_source(self.uri)
        except Exception as error:  # a missing filesystem package, a bad URL, no credentials
            problems.add("read", self.name, None, f"cannot open: {type(error).__name__}: {error}")
            return None
        if self.parts > 1:
            end = self.end or 0
            return LineRange(base.name, base.open, base.path, self.start, end, self.reader, self.part,
                             self.parts)
        if self.member is None:
            return base
        for source in expand_source(base, problems):
            if source.name == self.name:
                return source
        problems.add("read", self.name, None, "archive member not found when read again")
        return None


def is_url(uri: str) -> bool:
    return "://" in uri and not uri.startswith(LOCAL_SCHEME)


def _local_path(uri: str) -> Path:
    return Path(uri[len(LOCAL_SCHEME):] if uri.startswith(LOCAL_SCHEME) else uri)


def _base_source(uri: str) -> Source:
    if not is_url(uri):
        path = _local_path(uri)
        return Source(uri, file_source(path).open, path)
    return Source(uri, partial(open_url, uri))


def open_url(uri: str) -> BinaryIO:
    """A seekable binary stream of an fsspec URL (fsspec imported here only)."""
    import fsspec  # type: ignore[import-not-found, unused-ignore]

    return cast(BinaryIO, fsspec.open(uri, "rb").open())


def list_refs(
    inputs: Iterable[str | Path], problems: ProblemLog, split_bytes: int = 0, input_format: str | None = None
) -> list[SourceRef]:
    """The inputs (local paths, folders, archives, or fsspec URLs of files and folders) as
    `SourceRef`s in the order a local hunt reads them; large JSON Lines files as byte ranges of
    about ``split_bytes`` (0: whole). Problems (missing inputs...) go to ``problems``."""
    found: list[SourceRef] = []
    for given in inputs:
        text = str(given)
        if text == "-":
            problems.add("read", "<stdin>", None, "standard input cannot be sent to other processes")
        elif is_url(text):
            found.extend(_url_refs(text, problems, split_bytes, input_format))
        else:
            local = str(_local_path(text))
            for source in iter_sources([local], problems):
                uri = source.name.split("!", 1)[0]
                plain = isinstance(source, ListedFile)
                found.extend(_refs_of(source, uri, _size(uri), plain, split_bytes, input_format))
    return found


def _refs_of(
    source: Source, uri: str, size: int, plain: bool, split_bytes: int, input_format: str | None
) -> list[SourceRef]:
    """The refs of a listed source (``uri``: the file it was found in, ``plain``: the source
    is that file as it is, not what an archive holds)."""
    if source.name != uri:  # an archive member
        return [SourceRef(uri, source.name[len(uri) + 1:], size)]
    if not plain:
        return [SourceRef(uri, "", size)]  # a gzip file's content
    if split_bytes > 0 and size >= 2 * split_bytes:
        try:
            with source.open() as stream:
                head = stream.read(HEAD_BYTES)
        except Exception:
            head = b""
        reader = splittable(head, source, input_format)
        if reader is not None:
            parts = -(-size // split_bytes)
            bounds = [size * part // parts for part in range(parts + 1)]
            return [SourceRef(uri, None, size, bounds[n], bounds[n + 1], n, parts, reader)
                    for n in range(parts)]
    return [SourceRef(uri, None, size)]


def _size(uri: str) -> int:
    if is_url(uri):
        return 0
    try:
        return os.stat(_local_path(uri)).st_size
    except OSError:
        return 0


def _url_refs(
    url: str, problems: ProblemLog, split_bytes: int, input_format: str | None
) -> Iterator[SourceRef]:
    """The files under an fsspec URL (a file or a folder, walked in name order), archives
    expanded as a local hunt expands them."""
    try:
        import fsspec  # type: ignore[import-not-found, unused-ignore]

        filesystem: Any
        filesystem, root = fsspec.core.url_to_fs(url)
        if filesystem.isdir(root):
            listed = sorted(filesystem.find(root, detail=True).items())
        else:
            listed = [(root, filesystem.info(root))]
    except Exception as error:
        problems.add("read", url, None, f"cannot list: {type(error).__name__}: {error}")
        return
    for path, info in listed:
        uri = path if "://" in path else str(filesystem.unstrip_protocol(path))
        size = int(info.get("size") or 0)
        base = Source(uri, partial(open_url, uri))
        for source in expand_source(base, problems):
            yield from _refs_of(source, uri, size, source is base, split_bytes, input_format)
