"""Linux auditd logs: raw, enriched and ``ausearch -i`` text, with or without ``node=`` prefixes.

Line parsing lives in `watchpost.readers.auditd_records`, event assembly and the events made of
it in `watchpost.readers.auditd_events` (their docstrings list the fields). Timestamps are UTC,
from the record itself: epoch seconds in the raw and enriched forms; in the interpreted form the
printed local time, read in ``interpreted_tz`` (UTC unless the caller says otherwise).

Bad input: a non-empty line without an audit record header (YAML around embedded test records,
truncated lines) or with an unreadable time is recorded as a ``read`` problem naming its line and
skipped; a record that arrives after its event was released is recorded as late and read alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, tzinfo
from functools import partial

import re2

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.auditd_events import AssembledEvent, EventAssembler, EventBuilder, ProcessTable
from watchpost.readers.auditd_records import MalformedRecord, parse_record
from watchpost.readers.base import Source
from watchpost.readers.text import report_long_line, utf8_lines

_SNIFF = re2.compile(r"type=[A-Za-z0-9_\[\]]+ (?:msg=)?audit\(\d[0-9/.: -]*:\d+\)")
_SEPARATOR = "----"


class AuditdReader:
    """Reads auditd text logs; see the module docstring."""

    name = "auditd"

    def __init__(self, interpreted_tz: tzinfo = UTC, reorder_window: int = 64,
                 processes: ProcessTable | None = None) -> None:
        self.interpreted_tz = interpreted_tz
        self.reorder_window = reorder_window
        self.processes = processes
        """Kept across `read` calls when given (pieces of one growing source, read one after the
        other): parents exec'd in an earlier piece are found; else each read starts afresh."""

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.decode("utf-8", "replace")
        return _SNIFF.search(text) is not None

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        assembler = EventAssembler(self.reorder_window)
        builder = EventBuilder(source.name, processes=self.processes)
        try:
            stream = source.open()
        except OSError as error:
            problems.add("read", source.name, None, f"cannot open: {error}")
            return
        with stream:
            number = 0
            lines = utf8_lines(stream, partial(report_long_line, problems, source.name))
            for number, raw in enumerate(lines, start=1):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if text.strip() == _SEPARATOR:
                    ready = assembler.separator()
                else:
                    ready = self._take_line(text, number, assembler, source, problems)
                for assembled in ready:
                    yield from self._events(assembled, builder, source, problems)
        for assembled in assembler.finish():
            yield from self._events(assembled, builder, source, problems)

    def _take_line(
        self, text: str, number: int, assembler: EventAssembler, source: Source, problems: ProblemLog
    ) -> Iterator[AssembledEvent]:
        if not text.strip():
            return iter(())
        try:
            record = parse_record(text, number, self.interpreted_tz)
        except MalformedRecord as error:
            problems.add("read", source.name, f"line {number}", str(error))
            return iter(())
        if record is None:
            problems.add("read", source.name, f"line {number}", f"not an audit record: {text[:80]!r}")
            return iter(())
        return assembler.add(record)

    @staticmethod
    def _events(
        assembled: AssembledEvent, builder: EventBuilder, source: Source, problems: ProblemLog
    ) -> Iterator[Event]:
        if assembled.late:
            first = assembled.records[0]
            problems.add(
                "read",
                source.name,
                f"line {first.line}",
                f"late record for audit event {first.serial} (already released; read alone)",
            )
        try:
            events = list(builder.events(assembled))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            first = assembled.records[0]
            problems.add("read", source.name, f"line {first.line}", f"unreadable audit event: {error!r}")
            return
        yield from events
