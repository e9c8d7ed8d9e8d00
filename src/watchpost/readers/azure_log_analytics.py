"""Linux records exported from Azure Log Analytics (Microsoft Sentinel), read as their inner format.

The Azure Monitor / OMS agent ships Linux logs into the ``Syslog`` table; an export (``az monitor
log-analytics query``, the Security-Datasets ``Syslog`` JSON) is one JSON object per line with
the table's columns: ``TimeGenerated``, ``Computer``, ``HostName``, ``ProcessName``, ``Facility``,
``SyslogMessage``... Custom-log tables carry the line in ``RawData`` instead. The column holds the
record the Linux host wrote:

- **Sysmon for Linux** (``ProcessName`` ``sysmon``): one ``<Event>`` XML document, read exactly as
  `watchpost.readers.sysmon_linux` reads it from syslog (same fields, ``product: linux, service:
  sysmon`` and the event's category);
- **auoms** (the agent's audit collector, ``type=AUOMS_EXECVE audit(<epoch>:<serial>): key=value
  ...``): one record per execve, complete in itself. A successful one becomes a ``product: linux,
  category: process_creation`` event named as the auditd reader names them: ``Image`` (``exe``),
  ``CommandLine`` (``cmdline``, else ``proctitle``), ``CurrentDirectory``, ``User`` (``user``),
  ``LogonId`` (``auid``), ``TerminalSessionId`` (``ses``), ``ProcessId``/``ParentProcessId`` (ints),
  ``ParentImage``/``ParentCommandLine`` when the parent's own execve came earlier in the file,
  ``comm``, ``key``, ``tty``, ``node``; failed execs (``success=no``) give no event;
- **raw auditd** (``type=SYSCALL msg=audit(...)``, one record per row): the rows are handed, in
  order, to `watchpost.readers.auditd.AuditdReader`, which assembles each event's records.

Every event also keeps the row's ``Computer``. Timestamps are the inner record's own (Sysmon's
``SystemTime``, the audit epoch). Origin: the JSON line. JSON Lines only (one row per line).

Bad input: a line that is not a JSON object, a row without the message column, an inner record
that cannot be read: one ``read`` problem each (file and line), reading goes on. Rows of other
programs (``ProcessName`` cron, sshd...) are not process records and are skipped without a word.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import re2

from watchpost.events import Event, FieldValue, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.auditd import AuditdReader
from watchpost.readers.base import Source
from watchpost.readers.sysmon_linux import SysmonLinuxReader

MESSAGE_COLUMNS = ("SyslogMessage", "RawData")
_SNIFF_COLUMNS = ('"SyslogMessage"', '"RawData"')
_SNIFF_TABLE = ('"TimeGenerated"', '"TenantId"', '"_ResourceId"')
_SNIFF_INNER = ("audit(", "Linux-Sysmon")
_AUOMS = re2.compile(r"(?s)^type=AUOMS_EXECVE audit\((\d+)(?:\.(\d+))?:(\d+)\):\s*(.*)$")
_PAIR = re2.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S*)')
PARENTS_KEPT = 4096
"""Execs remembered per file (pid -> image, command line) to name a later exec's parent."""
PROCESS_CREATION = LogsourceHint(product="linux", category="process_creation")


class AzureLogAnalyticsReader:
    """Reads Azure Log Analytics ``Syslog`` / custom-log exports of Linux hosts (module docstring)."""

    name = "azure-log-analytics"

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        return (
            text.lstrip()[:1] == "{"
            and any(marker in text for marker in _SNIFF_COLUMNS)
            and any(marker in text for marker in _SNIFF_TABLE)
            and any(marker in text for marker in _SNIFF_INNER)
        )

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        try:
            stream = source.open()
        except OSError as error:
            problems.add("read", source.name, None, f"cannot open: {error}")
            return
        rows = _Rows(source.name, problems)
        with stream:
            for number, raw in enumerate(stream, start=1):
                yield from rows.take(number, raw)
        yield from rows.finish()


class _Rows:
    """The rows of one file: Sysmon and auoms records become events at once; raw auditd records
    are collected (one line per row, so the auditd reader's line numbers are the file's) and read
    at the end."""

    def __init__(self, name: str, problems: ProblemLog) -> None:
        self.name = name
        self.problems = problems
        self.parents: OrderedDict[tuple[str, int], tuple[str, str]] = OrderedDict()
        self.audit_lines: list[str] = []
        self.computers: dict[int, str] = {}

    def take(self, number: int, raw: bytes) -> Iterator[Event]:
        if not raw.strip():
            return
        place = f"line {number}"
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            self.problems.add("read", self.name, place, f"not a JSON object: {error}")
            return
        if not isinstance(row, dict):
            self.problems.add("read", self.name, place, "not a JSON object")
            return
        message = next((row[c] for c in MESSAGE_COLUMNS if isinstance(row.get(c), str)), None)
        if message is None:
            self.problems.add("read", self.name, place, "no SyslogMessage or RawData column")
            return
        origin = Origin(self.name, number, "line")
        text = message.strip()
        computer = row.get("Computer") if isinstance(row.get("Computer"), str) else None
        if "<Event" in text:  # a cut record (Syslog rows are truncated near 2 KB) is reported there
            event = SysmonLinuxReader._event(text[text.find("<Event"):], origin, self.problems)  # noqa: SLF001
            if event is not None:
                yield self._with_computer(event, computer)
        elif text.startswith("type=AUOMS_EXECVE"):
            event = self._auoms(text, origin, row)
            if event is not None:
                yield self._with_computer(event, computer)
        elif text.startswith("type=") and "audit(" in text:
            while len(self.audit_lines) < number - 1:
                self.audit_lines.append("")
            self.audit_lines.append(text.replace("\n", " "))
            if computer:
                self.computers[number] = computer

    def finish(self) -> Iterator[Event]:
        if not self.audit_lines:
            return
        lines = ("\n".join(self.audit_lines) + "\n").encode()
        inner = Source(self.name, lambda: io.BytesIO(lines))
        for event in AuditdReader().read(inner, self.problems):
            computer = self.computers.get(event.origin.record or 0)
            yield self._with_computer(event, computer)

    @staticmethod
    def _with_computer(event: Event, computer: str | None) -> Event:
        if computer and "Computer" not in event.fields:
            event.fields["Computer"] = computer
        return event

    def _auoms(self, text: str, origin: Origin, row: dict[str, Any]) -> Event | None:
        match = _AUOMS.match(text)
        if match is None:
            self.problems.add("read", self.name, f"line {origin.record}", "unreadable AUOMS_EXECVE record")
            return None
        seconds, fraction, _, body = match.groups()
        pairs = {key: _unquote(value) for key, value in _PAIR.findall(body)}
        node = pairs.get("node") or str(row.get("Computer") or "")
        pid, ppid = _integer(pairs.get("pid")), _integer(pairs.get("ppid"))
        image = pairs.get("exe") or ""
        command_line = pairs.get("cmdline") or pairs.get("proctitle") or ""
        if isinstance(pid, int):
            self._remember(node, pid, image, command_line)
        if pairs.get("success") != "yes":
            return None
        fields: dict[str, FieldValue] = {
            "Image": image,
            "CommandLine": command_line,
            "CurrentDirectory": pairs.get("cwd", ""),
            "User": pairs.get("user") or pairs.get("uid", ""),
            "LogonId": pairs.get("auid", ""),
            "TerminalSessionId": pairs.get("ses", ""),
            "ProcessId": pid,
            "ParentProcessId": ppid,
            "comm": pairs.get("comm", ""),
            "key": pairs.get("key", ""),
            "tty": pairs.get("tty", ""),
            "node": node,
        }
        parent = self.parents.get((node, ppid)) if isinstance(ppid, int) else None
        if parent is not None:
            fields["ParentImage"], fields["ParentCommandLine"] = parent
        micros = int((fraction or "0").ljust(6, "0")[:6])
        timestamp = datetime.fromtimestamp(int(seconds), tz=UTC).replace(microsecond=micros)
        return Event(timestamp, fields, origin, PROCESS_CREATION)

    def _remember(self, node: str, pid: int, image: str, command_line: str) -> None:
        self.parents[(node, pid)] = (image, command_line)
        self.parents.move_to_end((node, pid))
        while len(self.parents) > PARENTS_KEPT:
            self.parents.popitem(last=False)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _integer(value: str | None) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value

