"""From one decoded JSON object to the fields and time of an event, by the shape of the object.

Shapes, tried in this order (the first that fits decides):

evtx-dump
    ``{"Event": {"System": ..., "EventData": ...}}`` as pyevtx-rs / ``evtx_dump -o json(l)``
    print it, or a pyevtx-rs record ``{"event_record_id", "timestamp", "data": "<json text>"}``.
    Fields exactly as the EVTX reader makes them (`watchpost.readers.winevent`).
Winlogbeat / ECS
    An object with a ``winlog`` object. Every key is kept with its dotted name
    (``winlog.event_data.CommandLine``, ``process.command_line``); in addition each
    ``winlog.event_data`` member is set under its own name (``CommandLine``), each
    ``winlog.user_data`` member too (``xml_name`` left out), and the Windows names are filled in:
    ``EventID`` (``winlog.event_id``, else ``event.code``), ``Channel`` (``winlog.channel``),
    ``Computer`` (``winlog.computer_name``, else ``host.name``, else ``host.hostname``),
    ``Provider_Name``/``Provider_Guid`` (``winlog.provider_name``/``provider_guid``),
    ``EventRecordID`` (``winlog.record_id``), ``Execution_ProcessID``/``Execution_ThreadID``
    (``winlog.process.pid``/``winlog.process.thread.id``), ``Version`` and ``Security_UserID``
    (``winlog.user.identifier``). Time: ``@timestamp``.
NXLog-style flat
    An object with ``EventID`` and one of ``Channel``, ``Hostname``, ``SourceName``,
    ``ProviderName``: EventData members are already top-level. Originals are kept; added when
    absent: ``Computer`` from ``Hostname``, ``Provider_Name`` from ``SourceName`` (else
    ``ProviderName``), ``Provider_Guid`` from ``ProviderGuid``, ``EventRecordID`` from
    ``RecordNumber``. Time: ``TimeCreated``, else ``@timestamp``, else ``EventTime``, else
    ``UtcTime`` (Sysmon's own field, in UTC: flat Sysmon JSON often has nothing else).
anything else
    Every key flattened to dotted names, no product hint. Time: the first of ``@timestamp``,
    ``timestamp``, ``time``, ``eventTime``, ``EventTime``, ``TimeCreated``, ``ts``, ``UtcTime``.
    (``hunt --timefield NAME`` names the field instead: `watchpost.readers.time_field`.)

Flattening: nested objects give dotted names (``a.b.c``); a list of scalars stays a list; a list
of objects gives, for each dotted name below it, the list of the values found (``resources.ARN``
is the list of every resource's ARN). For the Windows shapes, the numeric System fields
(``EventID``, ``Level``, ``Task``...) become ints when they are decimal text.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from watchpost.events import WINDOWS, FieldValue, LogsourceHint
from watchpost.readers.winevent import (
    Fields,
    flatten_windows_event,
    integer_or_text,
    make_system_integers,
)

NO_HINT = LogsourceHint()

_NXLOG_MARKERS = ("Channel", "Hostname", "SourceName", "ProviderName")
_NXLOG_ALIASES = (
    ("Computer", ("Hostname",)),
    ("Provider_Name", ("SourceName", "ProviderName")),
    ("Provider_Guid", ("ProviderGuid",)),
    ("EventRecordID", ("RecordNumber",)),
)
_NXLOG_TIME_KEYS = ("TimeCreated", "@timestamp", "EventTime", "UtcTime")
_GENERIC_TIME_KEYS = (
    "@timestamp", "timestamp", "time", "eventTime", "EventTime", "TimeCreated", "ts", "UtcTime",
)
_WINLOG_NAMES = (
    ("EventID", ("winlog.event_id", "event.code")),
    ("Channel", ("winlog.channel",)),
    ("Computer", ("winlog.computer_name", "host.name", "host.hostname")),
    ("Provider_Name", ("winlog.provider_name",)),
    ("Provider_Guid", ("winlog.provider_guid",)),
    ("EventRecordID", ("winlog.record_id",)),
    ("Execution_ProcessID", ("winlog.process.pid",)),
    ("Execution_ThreadID", ("winlog.process.thread.id",)),
    ("Version", ("winlog.version",)),
    ("Security_UserID", ("winlog.user.identifier",)),
)
_CONTAINERS = frozenset({dict, list})


class Shaped(NamedTuple):
    """What a JSON object says: fields, the raw time value (None if absent), the logsource."""

    fields: Fields
    time: Any
    logsource: LogsourceHint


def shape_object(obj: dict[str, Any]) -> Shaped:
    """The fields, time and logsource hint of ``obj`` (see the module docstring).

    Raises ValueError (or orjson.JSONDecodeError) when an evtx-dump record's ``data`` is not JSON.
    """
    event = obj.get("Event")
    if event.__class__ is dict and ("System" in event or "EventData" in event):
        return _windows_record(event)
    data = obj.get("data")
    if data.__class__ is str and "event_record_id" in obj:
        inner = orjson.loads(data)
        if inner.__class__ is dict and inner.get("Event").__class__ is dict:
            shaped = _windows_record(inner["Event"])
            return shaped if shaped.time is not None else shaped._replace(time=obj.get("timestamp"))
    if obj.get("winlog").__class__ is dict:
        return _winlogbeat(obj)
    if "EventID" in obj and any(marker in obj for marker in _NXLOG_MARKERS):
        return _nxlog(obj)
    fields = flatten_json(obj)
    return Shaped(fields, _first(obj, _GENERIC_TIME_KEYS), NO_HINT)


def flatten_json(obj: dict[str, Any]) -> Fields:
    """``obj`` with nested objects and lists of objects flattened to dotted names."""
    if _CONTAINERS.isdisjoint(map(type, obj.values())):
        return obj  # already flat: the common case, no copy
    fields: Fields = {}
    _flatten_into(fields, "", obj)
    return fields


def _flatten_into(fields: Fields, prefix: str, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        name = prefix + key
        if value.__class__ is dict:
            _flatten_into(fields, name + ".", value)
        elif value.__class__ is list and not _CONTAINERS.isdisjoint(map(type, value)):
            _flatten_list(fields, name, value)
        else:
            fields[name] = value


def _flatten_list(fields: Fields, name: str, items: list[Any]) -> None:
    """A list holding objects or lists: every dotted name below it gets the list of its values."""
    collected: dict[str, list[FieldValue]] = {}
    for item in items:
        if item.__class__ is dict:
            part: Fields = {}
            _flatten_into(part, name + ".", item)
            for key, value in part.items():
                bucket = collected.setdefault(key, [])
                if isinstance(value, list):
                    bucket.extend(value)
                else:
                    bucket.append(value)
        elif item.__class__ is list:
            part = {}
            _flatten_list(part, name, item)
            for key, value in part.items():
                collected.setdefault(key, []).extend(value)
        else:
            collected.setdefault(name, []).append(item)
    fields.update(collected)


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _windows_record(event: dict[str, Any]) -> Shaped:
    fields, system_time = flatten_windows_event(event)
    make_system_integers(fields)
    return Shaped(fields, system_time, WINDOWS)


def _nxlog(obj: dict[str, Any]) -> Shaped:
    fields = flatten_json(obj)
    for name, sources in _NXLOG_ALIASES:
        if name not in fields:
            value = _first(obj, sources)
            if value is not None:
                fields[name] = value
    make_system_integers(fields)
    return Shaped(fields, _first(obj, _NXLOG_TIME_KEYS), WINDOWS)


def _winlogbeat(obj: dict[str, Any]) -> Shaped:
    fields = dict(flatten_json(obj))
    for name, sources in _WINLOG_NAMES:
        if name not in fields:
            value = _first(fields, sources)
            if value is not None:
                fields[name] = value
    winlog = obj["winlog"]
    for section, skip in (("event_data", ""), ("user_data", "xml_name")):
        members = winlog.get(section)
        if members.__class__ is not dict:
            continue
        for key, value in flatten_json(members).items():
            if key != skip and key not in fields:  # on a clash it keeps only its dotted name
                fields[key] = value
    for name in ("EventID", "EventRecordID", "Execution_ProcessID", "Execution_ThreadID", "Version"):
        value = fields.get(name)
        if value is not None:
            fields[name] = integer_or_text(value)
    return Shaped(fields, obj.get("@timestamp"), WINDOWS)
