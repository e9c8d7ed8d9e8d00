"""Joins across reads: what makes a followed source read in pieces give the events of one read.

`watchpost hunt` reads a whole file at once; the watch reads a followed file a chunk of complete
lines at a time (`watchpost.watch.chunks`). Two readers join across lines, and do here too:

- **auditd** joins the records of one event (same ``msg=audit(time:serial)``). The tail holds
  back the lines from the first record of the oldest event the reader's assembler would still
  hold at the end of a read (`held_back`). Held lines are not consumed (the saved position stays
  before them, so a restart reads them again); they go out with the next read that brings more
  lines, or alone once the source has written nothing for `HOLD_SECONDS`, when a rotated or
  deleted file is read to its end, and before a ``--stop-when-idle`` end.
- **auditd** and **eslogger** remember recent execs to name a process's parent
  (``ParentImage``/``ParentCommandLine``). `ReaderSessions` keeps one reader, with its own table,
  per followed file (name and ``(st_dev, st_ino)``: a rotated file and its successor are two
  files, as they are for a hunt; a truncated file read again from its start gets a new table),
  the least recently read dropped beyond `MAX_SESSIONS`.
  The tables belong to the running process and are not saved: when a file is read from a saved
  position (a restart, also after ``SIGKILL``) or from its end (``--start-at-end``), the last
  `CONTEXT_BYTES` of lines before that position are read again to rebuild the table, their events
  dropped. A parent exec'd further back than that is not named after a restart (docs/watch.md).
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Iterator
from functools import partial

import re2

from watchpost.events import EPOCH, Event
from watchpost.problems import ProblemLog
from watchpost.readers.auditd import AuditdReader
from watchpost.readers.auditd_events import AssembledEvent, EventAssembler
from watchpost.readers.auditd_records import TYPE_NUMBERS, AuditRecord, split_header
from watchpost.readers.base import Reader, Source
from watchpost.readers.eslogger import EsloggerReader, ExecMemory
from watchpost.readers.registry import FORMATS
from watchpost.watch.chunks import Chunk, decode_chunk

HOLD_SECONDS = 1.0
"""Lines held back for a join go out alone once their source wrote nothing for this long."""
MAX_HELD = 1 << 20
"""An unfinished audit event longer than this is not held back (it is read as it is)."""
CONTEXT_BYTES = 16 << 20
"""Lines before a resumed position read again to rebuild a reader's table of execs."""
MAX_SESSIONS = 64
"""Followed files whose readers (and tables) are kept at most."""
HELD_FORMATS = frozenset({"auditd"})
"""Formats whose events span lines: the trailing lines of an unfinished event are held back."""
REMEMBERING_FORMATS = frozenset({"auditd", "eslogger"})
"""Formats whose readers remember execs of earlier lines (parents)."""
SEPARATOR = "----"
"""``ausearch``'s line between events."""
_ITEMS = re2.compile(r"(?:^|\s)items=(\d+)")


def held_back(format_name: str | None, data: bytes) -> int:
    """How many bytes at the end of ``data`` (complete lines) to hold back; 0 for formats that
    do not join lines.

    For auditd: ``data``'s records go through the reader's own assembler. The events it still
    holds at the end (not ended by an ``EOE``, a separator, their SYSCALL, PROCTITLE and PATH
    records, or 64 later events) may get more records; so does nothing of ``data`` from the
    first record of the oldest of them on, moved further back while an event released before
    has records after that point (interleaved records). Read again with the next lines, those
    records are assembled as in one read of the whole file: every event before the cut is
    released and has no record after it, as for the assembler of a hunt at that point."""
    if format_name not in HELD_FORMATS:
        return 0
    released, pending = _assembled(data)
    if not pending:
        return 0
    oldest = pending[0].records[0].line  # `line` holds each record's byte offset here
    spans = sorted((min(r.line for r in event.records), max(r.line for r in event.records))
                   for event in (*released, *pending))
    reach = [0] * len(spans)  # reach[k]: the last record of the spans before k
    for number in range(1, len(spans)):
        reach[number] = max(reach[number - 1], spans[number - 1][1])
    cut = oldest
    for number in range(len(spans) - 1, -1, -1):
        first = spans[number][0]
        if first <= oldest and (number == 0 or reach[number] < first):
            cut = first
            break
    held = len(data) - cut
    return held if held <= MAX_HELD else 0


def _assembled(data: bytes) -> tuple[list[AssembledEvent], list[AssembledEvent]]:
    """The audit events of ``data`` its assembler releases, and those it still holds at the
    end (oldest first); each record's ``line`` is its byte offset in ``data``."""
    assembler = EventAssembler()
    released: list[AssembledEvent] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start) + 1 or len(data)
        text = data[start:end].decode("utf-8", "replace").strip()
        if text == SEPARATOR:
            released.extend(assembler.separator())
        elif text and (record := _header_record(text, start)) is not None:
            released.extend(assembler.add(record))
        start = end
    return released, list(assembler.finish())


def _header_record(text: str, offset: int) -> AuditRecord | None:
    """What the assembler needs of an audit record line (its header, and ``items`` of a
    SYSCALL), with ``offset`` as its line; None for a line without an audit record."""
    header = split_header(text.partition("\x1d")[0])
    if header is None:
        return None
    node, record_type, stamp, body = header
    stamp = stamp.strip()
    record_type = TYPE_NUMBERS.get(record_type, record_type)
    record = AuditRecord(offset, node, record_type, stamp.rpartition(":")[2], stamp, EPOCH, False)
    if record_type == "SYSCALL":
        items = _ITEMS.search(body)
        if items is not None:
            record.fields["items"] = items.group(1)
    return record


class ReaderSessions:
    """The reader of each followed file, one that remembers across chunks where the format
    needs it (see the module docstring)."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._readers: OrderedDict[tuple[str, tuple[int, int] | None], Reader] = OrderedDict()

    def decode(self, chunk: Chunk, problems: ProblemLog) -> Iterator[Event]:
        """The events of ``chunk`` (whose ``format`` is a reader's name), as `decode_chunk`."""
        assert chunk.format is not None
        return decode_chunk(chunk, self.reader_for(chunk), problems)

    def reader_for(self, chunk: Chunk) -> Reader:
        assert chunk.format is not None
        base = FORMATS[chunk.format]
        if chunk.format not in REMEMBERING_FORMATS:
            return base
        key = (chunk.name, chunk.identity)
        reader = self._readers.get(key)
        if reader is None or chunk.lines_before == 0:  # a file's first lines (again, if truncated)
            reader = _remembering(base)
            self._readers[key] = reader
            while len(self._readers) > self.limit:
                self._readers.popitem(last=False)
            if chunk.context:
                _replay(reader, chunk)
        self._readers.move_to_end(key)
        return reader

    def __len__(self) -> int:
        return len(self._readers)


def _remembering(base: Reader) -> Reader:
    """A reader like ``base`` with a table of execs of its own, kept across its reads."""
    if isinstance(base, AuditdReader):
        return AuditdReader(base.interpreted_tz, base.reorder_window, OrderedDict())
    if isinstance(base, EsloggerReader):
        return EsloggerReader(base.cache_size, ExecMemory(base.cache_size))
    return base


def _replay(reader: Reader, chunk: Chunk) -> None:
    """Read the lines before ``chunk`` again for what the reader remembers; events dropped."""
    source = Source(chunk.name, partial(io.BytesIO, chunk.context))
    try:
        for _event in reader.read(source, ProblemLog()):
            pass
    except Exception:  # noqa: BLE001, S110 - the lines were read (and any problem reported) before
        pass
