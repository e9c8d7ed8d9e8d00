"""Sysmon for Linux: syslog lines that carry one ``<Event>...</Event>`` XML document each.

Sysmon for Linux writes its events through syslog with the tag ``sysmon``
(``Oct 12 09:10:11 host sysmon: <Event><System><Provider Name="Linux-Sysmon" .../>...``), so they
sit in ``/var/log/syslog`` or ``/var/log/messages`` among other programs' lines, which are skipped
without a word. The syslog header is not used: the event says its own time and computer.

Fields are named as the Windows readers name them (`watchpost.readers.winevent`): ``EventID`` (int),
``Version``, ``Level``, ``Task``, ``Opcode``, ``EventRecordID``, ``Execution_ProcessID``,
``Execution_ThreadID`` (ints), ``Keywords``, ``Provider_Name`` (``Linux-Sysmon``),
``Provider_Guid``, ``Channel`` (``Linux-Sysmon/Operational``), ``Computer``, ``Security_UserId``,
and each ``EventData`` member under its own name (``Image``, ``CommandLine``, ``ParentImage``,
``User``, ``DestinationIp``, ``TargetFilename``...), as text.

Hint: ``product: linux, service: sysmon`` and the SigmaHQ category of the event ID: 1
process_creation, 3 network_connection, 5 process_termination, 9 raw_access_thread, 11
file_event, 23 file_delete, 4/16 sysmon_status, 255 sysmon_error (other IDs: no category).
Timestamp: ``System/TimeCreated/@SystemTime``, else ``EventData/UtcTime`` (UTC by definition).
Origin: the line number.

Bad input: a line with ``<Event`` whose XML is cut or malformed, or that declares a DTD or an
entity (refused: log content is attacker-controlled), is one problem; an event without a readable
time keeps the Unix epoch and is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from xml.etree.ElementTree import ParseError, fromstring

import re2

from watchpost.events import EPOCH, Event, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.record_times import parse_time
from watchpost.readers.text import report_long_line, utf8_lines
from watchpost.readers.winevent import flatten_windows_event, make_system_integers
from watchpost.readers.winxml import event_dict

CATEGORIES: dict[int, str] = {
    1: "process_creation",
    3: "network_connection",
    4: "sysmon_status",
    5: "process_termination",
    9: "raw_access_thread",
    11: "file_event",
    16: "sysmon_status",
    23: "file_delete",
    255: "sysmon_error",
}
_START = "<Event"
_END = "</Event>"
_FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")
_UNTERMINATED_ENTITY = re2.compile(r"&(lt|gt|amp|quot|apos)([^;])")
"""Sysmon for Linux writes ``&lt unknown process&gt `` (no semicolons) for an image it cannot
name; read as ``<unknown process>`` rather than losing the event."""
_SNIFF_MARKERS = ('Provider Name="Linux-Sysmon"', "<Channel>Linux-Sysmon/Operational</Channel>")


class SysmonLinuxReader:
    """Reads Sysmon for Linux events from syslog files; see the module docstring."""

    name = "sysmon-linux"

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.decode("utf-8", "replace")
        return "<Event>" in text and any(marker in text for marker in _SNIFF_MARKERS)

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        try:
            stream = source.open()
        except OSError as error:
            problems.add("read", source.name, None, f"cannot open: {error}")
            return
        with stream:
            lines = utf8_lines(stream, partial(report_long_line, problems, source.name))
            for number, raw in enumerate(lines, start=1):
                text = raw.decode("utf-8", "replace")
                start = text.find(_START)
                if start < 0:
                    continue
                origin = Origin(source.name, number, "line")
                if any(forbidden in text for forbidden in _FORBIDDEN):
                    problems.add("read", source.name, f"line {number}", "DTD/entity declarations are refused")
                    continue
                event = self._event(text[start:].rstrip(), origin, problems)
                if event is not None:
                    yield event

    @staticmethod
    def _event(xml: str, origin: Origin, problems: ProblemLog) -> Event | None:
        place = f"line {origin.record}"
        end = xml.rfind(_END)
        if end < 0:
            problems.add("read", origin.path, place, "Sysmon event without </Event> (cut line?)")
            return None
        xml = xml[: end + len(_END)]
        if "&" in xml:
            xml = _UNTERMINATED_ENTITY.sub(r"&\1;\2", xml)
        try:
            root = fromstring(xml)
        except ParseError as error:
            problems.add("read", origin.path, place, f"malformed Sysmon event XML: {error}")
            return None
        fields, system_time = flatten_windows_event(event_dict(root))
        make_system_integers(fields)
        timestamp = _timestamp(system_time, fields.get("UtcTime"))
        if timestamp is None:
            problems.add("kept", origin.path, place, "no readable event time: timestamp set to 1970-01-01")
            timestamp = EPOCH
        event_id = fields.get("EventID")
        category = CATEGORIES.get(event_id) if isinstance(event_id, int) else None
        return Event(timestamp, fields, origin, LogsourceHint("linux", "sysmon", category))


def _timestamp(*candidates: Any) -> datetime | None:
    for candidate in candidates:
        if isinstance(candidate, str):
            try:
                return parse_time(candidate)
            except ValueError:
                continue
    return None


