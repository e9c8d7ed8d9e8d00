"""The log formats watchpost reads, and how an input finds its reader.

Adding a format
    Write a class that follows `watchpost.readers.base.Reader` (``name``, ``sniff``, ``read``) and
    add one instance to ``READERS`` below: one line. ``READERS`` are tried first, in list order,
    so they may claim content that the catch-all ``GENERIC_READERS`` (any ``<Event>`` XML, any
    JSON) would also accept. A reader may also have ``extensions``, a tuple of lower-case file
    suffixes such as ``(".evtx",)``: they break ties between readers whose ``sniff`` accepts the
    same content, and choose the reader when no ``sniff`` recognises the content.

API
    ``FORMATS``: reader by name (``evtx``, ``xml``, ``json``...), for ``--input-format``.
    ``sniff(source) -> Reader | None``: the reader for a source, from its first ``HEAD_SIZE``
    bytes (decompressed), then its extension.
    ``iter_sources(paths, problems) -> Iterator[Source]``: files, directories, gzip, zip and ``-``
    (stdin) as sources (see `watchpost.readers.archive`).
    ``read_source(source, problems, format=None) -> Iterator[Event]``: the events of one source,
    read with the ``format`` reader, or the sniffed one.
    ``read_events(paths, problems, format=None) -> Iterator[Event]``: all of the above, source
    after source.

Bad input is never skipped silently: a path that does not exist, a file no reader recognises
("unknown format"), a file that cannot be read, and a source whose reading fails part-way
(damaged archive, I/O error) each become one ``read`` problem; reading goes on with the next
source. An empty file, or one in which no record is found, is one problem too.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import ARCHIVE_ERRORS, iter_sources
from watchpost.readers.auditd import AuditdReader
from watchpost.readers.azure import AzureActivityReader
from watchpost.readers.azure_log_analytics import AzureLogAnalyticsReader
from watchpost.readers.base import Reader, Source
from watchpost.readers.cloudtrail import CloudTrailReader
from watchpost.readers.eslogger import EsloggerReader
from watchpost.readers.evtx import EvtxReader
from watchpost.readers.gcp import GcpAuditReader
from watchpost.readers.json import JsonReader
from watchpost.readers.sysmon_linux import SysmonLinuxReader
from watchpost.readers.text import detect_utf16, utf8_head
from watchpost.readers.winxml import WindowsXmlReader

__all__ = ["FORMATS", "GENERIC_READERS", "HEAD_SIZE", "READERS", "iter_sources", "read_events",
           "read_source", "sniff"]

READERS: list[Reader] = [
    EvtxReader(),
    CloudTrailReader(),  # before Azure/GCP/eslogger: eventSource + eventName decide
    GcpAuditReader(),
    AzureLogAnalyticsReader(),  # Linux records in a Log Analytics Syslog/RawData column
    AzureActivityReader(),
    EsloggerReader(),
    SysmonLinuxReader(),  # before auditd: a syslog file may carry both, Sysmon's XML is the stronger mark
    AuditdReader(),
]
"""Readers of formats recognised by their own content; tried first, in order. Add yours here."""

GENERIC_READERS: list[Reader] = [
    WindowsXmlReader(),
    JsonReader(),
]
"""Catch-all readers, tried after ``READERS``."""

FORMATS: dict[str, Reader] = {reader.name: reader for reader in (*READERS, *GENERIC_READERS)}

HEAD_SIZE = 4096


def sniff(source: Source) -> Reader | None:
    """The reader for ``source``, or None when neither its content nor its name is known.

    Raises what opening or reading the source raises (OSError, damaged-archive errors).
    """
    with source.open() as stream:
        head = stream.read(HEAD_SIZE)
    return choose_reader(head, source)


def choose_reader(head: bytes, source: Source) -> Reader | None:
    """The reader for a source starting with ``head`` (see the module docstring)."""
    readers = (*READERS, *GENERIC_READERS)
    if detect_utf16(head) is not None:  # readers of text read UTF-16 as UTF-8: sniff it so too
        head = utf8_head(head)
    suffix = source_suffix(source.name)
    matches = [reader for reader in READERS if _sniffs(reader, head, source)] or [
        reader for reader in GENERIC_READERS if _sniffs(reader, head, source)
    ]  # a content-specific reader beats the catch-alls whatever the file's extension
    for reader in matches:
        if suffix in getattr(reader, "extensions", ()):
            return reader
    if matches:
        return matches[0]
    for reader in readers:
        if suffix in getattr(reader, "extensions", ()):
            return reader
    return None


def source_suffix(name: str) -> str:
    """The lower-case suffix that tells the format: ``.json`` for ``a.zip!x/A.JSON.gz``."""
    member = name.rpartition("!")[2]
    suffixes = [suffix.lower() for suffix in Path(member).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def read_source(source: Source, problems: ProblemLog, format: str | None = None) -> Iterator[Event]:
    """The events of ``source``; problems are recorded in ``problems``, never raised.

    ``format`` names a reader of ``FORMATS`` to use instead of sniffing (ValueError if unknown).
    """
    if format is not None:
        reader: Reader | None = FORMATS.get(format)
        if reader is None:
            raise ValueError(f"unknown input format {format!r}; known: {', '.join(sorted(FORMATS))}")
    else:
        try:
            with source.open() as stream:
                head = stream.read(HEAD_SIZE)
        except ARCHIVE_ERRORS as exc:
            problems.add("read", source.name, None, f"cannot read: {exc}")
            return
        if not head:
            problems.add("read", source.name, None, "empty file: no events")
            return
        reader = choose_reader(head, source)
        if reader is None:
            problems.add("read", source.name, None, f"unknown format (starts with {head[:16]!r})")
            return
    yield from noting_empty(reader.read(source, problems), source, problems, reader.name)


def noting_empty(
    events: Iterator[Event], source: Source, problems: ProblemLog, reader: str,
    skipped: Callable[[], int] = lambda: 0,
) -> Iterator[Event]:
    """``events``; a reader failure becomes a problem, and so does a source that gave no event
    (no record in it: empty, or cut short) without any other problem being reported for it.
    ``skipped`` tells how many records were read and left undecoded (they count as records)."""
    before = problems.by_path[source.name]
    iterator = iter(events)
    read_any = False
    try:
        for first in iterator:  # the first event alone, then the rest delegated (no loop here)
            read_any = True
            yield first
            yield from iterator
    except ARCHIVE_ERRORS as exc:  # a damaged compressed stream or archive member, an I/O error
        kind = "damaged deflate data" if isinstance(exc, zlib.error) else type(exc).__name__
        after = "after the events above" if read_any else "before any event"
        reason = f"unreadable from here on, {after} (read as {reader}): {kind}: {exc}"
        problems.add("read", source.name, None, reason)
    except Exception as exc:  # a reader bug: report it, go on with the rest
        reason = f"reading as {reader} failed: {type(exc).__name__}: {exc}"
        problems.add("read", source.name, None, reason)
    if not read_any and skipped() == 0 and problems.by_path[source.name] == before:
        problems.add("read", source.name, None, f"no record found (read as {reader}): no events")


def read_events(
    paths: Iterable[Path | str], problems: ProblemLog, format: str | None = None
) -> Iterator[Event]:
    """The events of every source behind ``paths``, one source after the other."""
    for source in iter_sources(paths, problems):
        yield from read_source(source, problems, format)


def _sniffs(reader: Reader, head: bytes, source: Source) -> bool:
    try:
        return reader.sniff(head, source)
    except Exception:  # a sniffer that fails on odd bytes simply does not claim them
        return False
