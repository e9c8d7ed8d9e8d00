"""macOS Endpoint Security events as ``eslogger`` prints them: one JSON message per line.

Every message becomes an event with all its members flattened (`watchpost.readers.nested_fields`:
``process.executable.path``, ``event.exec.args``...), plus ``EventType``, the short name of the
Endpoint Security event (the single key under ``event``: ``exec``, ``fork``, ``exit``...).
Audit tokens are written either as objects (``{"pid": ..., "euid": ...}``) or, by newer macOS
releases, as the raw ``audit_token_t`` array of eight integers ``[auid, euid, egid, ruid, rgid,
pid, asid, pidversion]``; arrays are turned into the object form first, so field names are the
same for both (``process.audit_token.pid``). Timestamp: ``time`` (nanoseconds, truncated), UTC.

``exec`` events get hint ``product: macos, category: process_creation`` and the Sigma taxonomy
fields of the new image:

- ``Image`` (``event.exec.target.executable.path``), ``CommandLine`` (``event.exec.args`` joined
  with spaces), ``CurrentDirectory`` (``event.exec.cwd.path``), ``ProcessId`` (the target's pid),
  ``User`` (the target's effective uid, as text: eslogger gives no user names), ``ParentProcessId``
  (the target's ``ppid``), ``OriginalParentProcessId`` (``original_ppid``);
- ``ParentImage``/``ParentCommandLine``: the image and arguments of the parent's own exec when it
  was seen earlier in the stream (matched by pid and pidversion), else ``ParentImage`` is the
  exec'ing process's image before the exec (``process.executable.path``: after fork or
  posix_spawn that is the parent's image);
- ``ResponsibleProcessId`` (and ``ResponsibleImage`` when its exec was seen), and
  ``InstigatorProcessId``/``InstigatorImage`` when the message has an ``instigator`` process;
- ``SigningId``, ``TeamId``, ``CDHash``, ``IsPlatformBinary`` of the target.

Other event types keep hint ``product: macos`` with no category: SigmaHQ's macOS rules are
process_creation and file_event rules, and no file_event mapping is made here yet.

Bad input: an unreadable line or one that is not an object is one problem (line number); a
message without a readable ``time`` keeps the Unix epoch and is reported.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from watchpost.events import Event, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_documents import iter_json_records
from watchpost.readers.nested_fields import Fields, flatten_record
from watchpost.readers.record_times import record_time

MACOS = LogsourceHint(product="macos")
PROCESS_CREATION = LogsourceHint(product="macos", category="process_creation")
AUDIT_TOKEN_MEMBERS = ("auid", "euid", "egid", "ruid", "rgid", "pid", "asid", "pidversion")
_HEADER_KEYS = ('"schema_version"', '"mach_time"', '"global_seq_num"', '"event_type"', '"action_type"')


def normalise_audit_tokens(value: Any) -> Any:
    """``value`` with every ``*audit_token`` array turned into the object form."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, member in value.items():
            if (
                key.endswith("audit_token")
                and isinstance(member, list)
                and len(member) == len(AUDIT_TOKEN_MEMBERS)
            ):
                result[key] = dict(zip(AUDIT_TOKEN_MEMBERS, member, strict=True))
            else:
                result[key] = normalise_audit_tokens(member)
        return result
    if isinstance(value, list):
        return [normalise_audit_tokens(item) for item in value]
    return value


class EsloggerReader:
    """Reads ``eslogger`` JSON lines; see the module docstring."""

    name = "eslogger"

    def __init__(self, cache_size: int = 8192, execs: ExecMemory | None = None) -> None:
        self.cache_size = cache_size
        self.execs = execs
        """Kept across `read` calls when given (pieces of one growing source, read one after the
        other): parents exec'd in an earlier piece are found; else each read starts afresh."""

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        if text.lstrip()[:1] != "{" or '"event"' not in text:
            return False
        if sum(key in text for key in _HEADER_KEYS) >= 2:
            return True
        return '"audit_token"' in text and '"executable"' in text and '"pidversion"' in text

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        execs = self.execs if self.execs is not None else ExecMemory(self.cache_size)
        for item in iter_json_records(source, problems, wrappers=()):
            origin = Origin(source.name, item.place, item.kind)
            message = normalise_audit_tokens(item.record)
            timestamp = record_time(message, ("time",), origin, problems)
            fields = flatten_record(message)
            event = message.get("event")
            kind = next(iter(event), None) if isinstance(event, dict) and len(event) == 1 else None
            if kind is not None:
                fields["EventType"] = kind
            hint = MACOS
            if kind == "exec" and isinstance(event, dict) and isinstance(event["exec"], dict):
                add_process_creation(fields, message, event["exec"], execs)
                hint = PROCESS_CREATION
            yield Event(timestamp, fields, origin, hint)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _path(file: Any) -> str | None:
    """The path of an ``es_file_t`` (object with ``path``), or a plain path string."""
    if isinstance(file, str):
        return file
    path = _get(file, "path")
    return path if isinstance(path, str) else None


class ExecMemory:
    """Images and command lines of recent execs by (pid, pidversion), bounded."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._by_token: OrderedDict[tuple[Any, Any], tuple[str | None, str | None]] = OrderedDict()
        self._by_pid: dict[Any, tuple[Any, Any]] = {}

    def remember(self, token: Any, image: str | None, command_line: str | None) -> None:
        pid, version = _get(token, "pid"), _get(token, "pidversion")
        if pid is None:
            return
        key = (pid, version)
        self._by_token[key] = (image, command_line)
        self._by_token.move_to_end(key)
        self._by_pid[pid] = key
        while len(self._by_token) > self.size:
            old, _ = self._by_token.popitem(last=False)
            if self._by_pid.get(old[0]) == old:
                del self._by_pid[old[0]]

    def recall(self, token: Any, pid: Any = None) -> tuple[str | None, str | None] | None:
        """The exec remembered for ``token`` (pid and pidversion), else for ``pid`` alone."""
        if token is not None:
            found = self._by_token.get((_get(token, "pid"), _get(token, "pidversion")))
            if found is not None or _get(token, "pidversion") is not None:
                return found
            pid = _get(token, "pid")
        key = self._by_pid.get(pid)
        return None if key is None else self._by_token.get(key)


def add_process_creation(
    fields: Fields, message: dict[str, Any], exec_event: dict[str, Any], execs: ExecMemory
) -> None:
    """Set the process_creation taxonomy fields of an ``exec`` message (see the module docstring)."""
    target = exec_event.get("target")
    target = target if isinstance(target, dict) else {}
    token = target.get("audit_token")
    image = _path(target.get("executable"))
    args = exec_event.get("args")
    command_line = " ".join(str(arg) for arg in args) if isinstance(args, list) else None
    values: dict[str, Any] = {
        "Image": image,
        "CommandLine": command_line,
        "CurrentDirectory": _path(exec_event.get("cwd")),
        "ProcessId": _get(token, "pid") if token is not None else target.get("pid"),
        "User": None if _get(token, "euid") is None else str(_get(token, "euid")),
        "ParentProcessId": target.get("ppid"),
        "OriginalParentProcessId": target.get("original_ppid"),
        "SigningId": target.get("signing_id"),
        "TeamId": target.get("team_id"),
        "CDHash": target.get("cdhash"),
        "IsPlatformBinary": target.get("is_platform_binary"),
    }
    parent = execs.recall(target.get("parent_audit_token"), target.get("ppid"))
    if parent is not None:
        values["ParentImage"], values["ParentCommandLine"] = parent
    else:
        values["ParentImage"] = _path(_get(message, "process", "executable"))
    responsible = target.get("responsible_audit_token")
    if responsible is not None:
        values["ResponsibleProcessId"] = _get(responsible, "pid")
        remembered = execs.recall(responsible)
        values["ResponsibleImage"] = None if remembered is None else remembered[0]
    instigator = message.get("instigator")
    if isinstance(instigator, dict):
        values["InstigatorProcessId"] = _get(instigator, "audit_token", "pid")
        values["InstigatorImage"] = _path(instigator.get("executable"))
    for name, value in values.items():
        if value is not None:
            fields[name] = value
    execs.remember(token, image, command_line)
