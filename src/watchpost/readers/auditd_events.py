"""Audit records assembled into events, and the watchpost events made of them.

The kernel writes one event as several records sharing node, time and serial (SYSCALL, EXECVE,
CWD, PATH..., PROCTITLE, EOE). Records of different events may interleave or arrive late
(go-libaudit's ``out_of_order.log``), so `EventAssembler` keeps a bounded reorder buffer keyed by
``(node, serial, time)``: an event is released when its EOE arrives, when it is evidently complete
(SYSCALL, PROCTITLE and as many PATH records as ``items=`` says), at an ``ausearch`` ``----``
separator, when more than ``window`` events are pending (oldest first), or at the end of the input.
Events are released in the order their first record appeared. A record whose event was already
released is reported as late and becomes an event of its own.

`EventBuilder` turns one assembled event into:

- one event per record for SigmaHQ's ``product: linux, service: auditd`` rules: ``type`` plus the
  record's own decoded fields (``a0``..., ``comm``, ``exe``, ``key``, ``name``, ``nametype``,
  ``cwd``, ``proctitle``, ``uid``...), the enriched upper-case translations, ``node``, and for
  SYSCALL records ``SYSCALL``/``ARCH`` names worked out from ``syscall``/``arch`` when the log is
  not enriched (x86_64, i386, aarch64; other architectures get none). The EXECVE records of one
  event are merged into the first (long argument lists span several records). EOE records yield
  nothing. Origin: the record's own line.
- one ``product: linux, category: process_creation`` event per successful execve: ``Image``
  (``exe``, else the first PATH name), ``CommandLine`` (the decoded argv joined with spaces, else
  ``proctitle``), ``CurrentDirectory``, ``User`` (the uid's name when the log is enriched or
  interpreted, else the uid), ``LogonId`` (``auid``), ``TerminalSessionId`` (``ses``),
  ``ProcessId``/``ParentProcessId`` (int when numeric), ``ParentImage``/``ParentCommandLine`` when
  the parent's own execve was seen earlier (bounded pid cache per node), ``key``, ``tty``, ``comm``
  and ``node``. Origin: the line of the event's first record.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from watchpost.events import Event, FieldValue, LogsourceHint, Origin
from watchpost.readers.auditd_records import AuditRecord, decode_execve
from watchpost.readers.auditd_syscalls import arch_name, syscall_name

AUDITD = LogsourceHint(product="linux", service="auditd")
PROCESS_CREATION = LogsourceHint(product="linux", category="process_creation")
EXEC_SYSCALLS = frozenset({"execve", "execveat"})
UNSET_TEXTS = frozenset({"(null)", "(none)"})
"""How auditd prints an absent key or tty; the derived events leave such fields out."""

# Record types that user-space programs send alone (never joined by kernel records).
STANDALONE_PREFIXES = (
    "USER_", "CRED_", "ADD_", "DEL_", "GRP_", "CHGRP_", "CHUSER_", "DAEMON_", "SERVICE_", "SYSTEM_",
    "ROLE_", "ANOM_LOGIN", "ANOM_ADD", "ANOM_DEL", "ANOM_MOD", "RESP_", "CRYPTO_", "VIRT_", "ACCT_",
    "SOFTWARE_", "TRUSTED_APP", "USYS_", "LABEL_", "TEST",
)


@dataclass(slots=True)
class AssembledEvent:
    """The records of one audit event, in arrival order."""

    records: list[AuditRecord] = field(default_factory=list)
    complete: bool = False
    late: bool = False

    def first(self, record_type: str) -> AuditRecord | None:
        for record in self.records:
            if record.type == record_type:
                return record
        return None

    def is_evidently_complete(self) -> bool:
        """EOE seen, a lone user-space record, or SYSCALL + PROCTITLE + all PATH items."""
        types = [record.type for record in self.records]
        if "EOE" in types:
            return True
        if len(types) == 1 and types[0].startswith(STANDALONE_PREFIXES):
            return True
        syscall = self.first("SYSCALL")
        if syscall is None or "PROCTITLE" not in types:
            return False
        items = syscall.fields.get("items")
        wanted = int(items) if isinstance(items, str) and items.isdigit() else 0
        return types.count("PATH") >= wanted


class EventAssembler:
    """Groups records into events with a bounded reorder buffer (see the module docstring)."""

    def __init__(self, window: int = 64, remembered: int = 4096) -> None:
        self.window = max(1, window)
        self._pending: OrderedDict[tuple[str | None, str, str], AssembledEvent] = OrderedDict()
        self._released: deque[tuple[str | None, str, str]] = deque(maxlen=remembered)
        self._released_set: set[tuple[str | None, str, str]] = set()

    def add(self, record: AuditRecord) -> Iterator[AssembledEvent]:
        """Take one record; yield the events it makes ready."""
        key = record.key
        event = self._pending.get(key)
        if event is None and record.type == "EOE" and key in self._released_set:
            return  # the end marker of an event already released as evidently complete
        if event is None:
            event = AssembledEvent(late=key in self._released_set)
            self._pending[key] = event
        event.records.append(record)
        if event.is_evidently_complete():
            event.complete = True
        yield from self._release_ready()

    def separator(self) -> Iterator[AssembledEvent]:
        """An ``ausearch`` ``----`` line: everything pending is complete."""
        yield from self.finish()

    def finish(self) -> Iterator[AssembledEvent]:
        while self._pending:
            yield self._pop_oldest()

    def _release_ready(self) -> Iterator[AssembledEvent]:
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if not oldest.complete and len(self._pending) <= self.window:
                return
            yield self._pop_oldest()

    def _pop_oldest(self) -> AssembledEvent:
        key, event = self._pending.popitem(last=False)
        if len(self._released) == self._released.maxlen:
            self._released_set.discard(self._released[0])
        self._released.append(key)
        self._released_set.add(key)
        return event


def merged_execve(assembled: AssembledEvent) -> dict[str, FieldValue]:
    """The fields of all EXECVE records of an event decoded as one (chunks may span records)."""
    records = [record for record in assembled.records if record.type == "EXECVE"]
    if len(records) == 1:
        return records[0].fields
    pairs = [pair for record in records for pair in (record.execve_pairs or ())]
    return decode_execve(pairs, records[0].interpreted)


def _text(value: FieldValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _number_or_text(value: FieldValue) -> FieldValue:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


ProcessTable = OrderedDict[tuple[str | None, str], tuple[str | None, str | None]]
"""Recent execs: (node, pid) -> (image, command line), oldest first."""


class EventBuilder:
    """Makes watchpost events of assembled audit events; remembers recent execs per (node, pid)
    in ``processes`` (a fresh table unless the caller keeps one across reads of one source)."""

    def __init__(self, source_name: str, cache_size: int = 8192,
                 processes: ProcessTable | None = None) -> None:
        self.source_name = source_name
        self.cache_size = cache_size
        self._processes: ProcessTable = OrderedDict() if processes is None else processes

    def events(self, assembled: AssembledEvent) -> Iterator[Event]:
        """The per-record events, then the derived process_creation event if any."""
        yield from self.record_events(assembled)
        derived = self.process_creation(assembled)
        if derived is not None:
            yield derived

    def record_events(self, assembled: AssembledEvent) -> Iterator[Event]:
        execve_seen = False
        for record in assembled.records:
            if record.type == "EOE" or (record.type == "EXECVE" and execve_seen):
                continue
            fields: dict[str, FieldValue] = {"type": record.type}
            if record.type == "EXECVE":
                execve_seen = True
                fields.update(merged_execve(assembled))
            else:
                fields.update(record.fields)
            fields.update(record.enriched)
            if record.type == "SYSCALL":
                self._name_syscall(fields)
            if record.node is not None:
                fields["node"] = record.node
            origin = Origin(self.source_name, record.line, "line")
            yield Event(record.timestamp, fields, origin, AUDITD)

    @staticmethod
    def _name_syscall(fields: dict[str, FieldValue]) -> None:
        arch = fields.get("arch")
        number = fields.get("syscall")
        if not isinstance(arch, str) or not isinstance(number, str):
            return
        # ausearch -i prints names already (syscall=execve arch=x86_64)
        name = syscall_name(arch, number) if number.isdigit() else number
        architecture = arch_name(arch)
        if "SYSCALL" not in fields and name is not None:
            fields["SYSCALL"] = name
        if "ARCH" not in fields and architecture is not None:
            fields["ARCH"] = architecture

    def process_creation(self, assembled: AssembledEvent) -> Event | None:
        """The derived process_creation event of a successful execve, or None."""
        syscall = assembled.first("SYSCALL")
        execve = [record for record in assembled.records if record.type == "EXECVE"]
        sys_fields = syscall.fields if syscall is not None else {}
        if syscall is not None:
            name = syscall.enriched.get("SYSCALL") or sys_fields.get("syscall")
            arch = sys_fields.get("arch")
            if isinstance(name, str) and name.isdigit() and isinstance(arch, str):
                # an architecture without a table here: an EXECVE record says it was an exec
                name = syscall_name(arch, name) or ("execve" if execve else name)
            if name not in EXEC_SYSCALLS or sys_fields.get("success") == "no":
                return None
        elif not execve:
            return None
        fields = self._process_fields(assembled, sys_fields, execve)
        if syscall is not None and syscall.enriched.get("UID"):
            fields["User"] = syscall.enriched["UID"]
        node = assembled.records[0].node
        if node is not None:
            fields["node"] = node
        self._link_parent(node, fields)
        first = assembled.records[0]
        return Event(first.timestamp, fields, Origin(self.source_name, first.line, "line"), PROCESS_CREATION)

    @staticmethod
    def _process_fields(
        assembled: AssembledEvent, sys_fields: dict[str, FieldValue], execve: list[AuditRecord]
    ) -> dict[str, FieldValue]:
        fields: dict[str, FieldValue] = {}
        image = _text(sys_fields.get("exe"))
        if image is None:
            path = assembled.first("PATH")
            image = _text(path.fields.get("name")) if path is not None else None
        if image is not None:
            fields["Image"] = image
        args: dict[int, str] = {}
        if execve:
            for name, value in merged_execve(assembled).items():
                if name[0] == "a" and name[1:].isdigit():
                    args[int(name[1:])] = _text(value) or ""
        proctitle = assembled.first("PROCTITLE")
        if args:
            fields["CommandLine"] = " ".join(args[i] for i in sorted(args))
        elif proctitle is not None and proctitle.fields.get("proctitle") is not None:
            fields["CommandLine"] = _text(proctitle.fields.get("proctitle"))
        cwd = assembled.first("CWD")
        if cwd is not None and cwd.fields.get("cwd") is not None:
            fields["CurrentDirectory"] = _text(cwd.fields["cwd"])
        for target, name in (
            ("User", "uid"), ("LogonId", "auid"), ("TerminalSessionId", "ses"), ("ProcessId", "pid"),
            ("ParentProcessId", "ppid"), ("key", "key"), ("tty", "tty"), ("comm", "comm"),
        ):
            value = sys_fields.get(name)
            if value is not None and not (isinstance(value, str) and value in UNSET_TEXTS):
                fields[target] = _number_or_text(value) if target.endswith("ProcessId") else value
        return fields

    def _link_parent(self, node: str | None, fields: dict[str, FieldValue]) -> None:
        ppid = fields.get("ParentProcessId")
        if ppid is not None:
            parent = self._processes.get((node, str(ppid)))
            if parent is not None:
                image, command_line = parent
                if image is not None:
                    fields["ParentImage"] = image
                if command_line is not None:
                    fields["ParentCommandLine"] = command_line
        pid = fields.get("ProcessId")
        if pid is None:
            return
        key = (node, str(pid))
        self._processes[key] = (_text(fields.get("Image")), _text(fields.get("CommandLine")))
        self._processes.move_to_end(key)
        while len(self._processes) > self.cache_size:
            self._processes.popitem(last=False)
