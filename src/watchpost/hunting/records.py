"""Events from records already decoded (rows of a table, dicts from a queue): `events_from_records`.

Shapes:

``"json"``
    Each record is a JSON object as a JSON Lines file holds it (ECS/Winlogbeat, evtx-dump,
    NXLog-flat, anything else), shaped as the JSON reader shapes it (`readers.json_shapes`):
    the same record gives the same event as in a file.
``"windows"``
    Each record already has Windows field names (``EventID``, ``Channel``, ``Computer``,
    EventData members...) at the top level; logsource hint ``product: windows``; time from
    ``time_field`` or the first of ``TimeCreated``, ``@timestamp``, ``timestamp``.
``"flat"``
    As ``"windows"`` without the hint (Linux, cloud... rules with their own gates).

Null versus missing: a record's key whose value is None (a null column) is left out of the
event, as if the record had no such field, so ``field|exists: true`` is false for it and
``field: null`` is true. Tables hold every column for every row; a null there almost always
means "not in this event". (A JSON record with shape ``"json"`` keeps its nulls as the JSON
reader does.)

Origins: ``origin`` is either a name (every event's origin is ``name`` and the record's number
from 1, kind ``record``) or a `RecordOrigin` naming the columns that hold the file and the place
(line or record number) the row came from; those columns are not fields of the event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchpost.events import EPOCH, WINDOWS, Event, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.json_shapes import shape_object
from watchpost.readers.timestamp import parse_any_timestamp, parse_timestamp

SHAPES = ("json", "windows", "flat")
TIME_FIELDS = ("TimeCreated", "@timestamp", "timestamp", "time", "eventTime")
NO_HINT = LogsourceHint()


@dataclass(frozen=True)
class RecordOrigin:
    """The columns of a record that say where it came from: ``path`` (a file name) and ``place``
    (a line or record number, of kind ``kind``); either may be None."""

    path: str | None = None
    place: str | None = None
    kind: str = "line"
    default: str = "records"
    """The file name when ``path`` is None or empty in a record."""

    def columns(self) -> tuple[str, ...]:
        return tuple(name for name in (self.path, self.place) if name is not None)


def events_from_records(
    records: Iterable[Mapping[str, Any]],
    shape: str = "windows",
    origin: str | RecordOrigin = "records",
    time_field: str | None = None,
    problems: ProblemLog | None = None,
) -> Iterator[Event]:
    """The events of ``records`` (see the module text). A record that cannot be an event (not a
    mapping, an unreadable time) is a problem in ``problems`` naming its origin, and skipped (a
    time that cannot be read is kept as 1970-01-01, as the readers do)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown record shape {shape!r} (one of {', '.join(SHAPES)})")
    problems = problems if problems is not None else ProblemLog()
    where = origin if isinstance(origin, RecordOrigin) else RecordOrigin(default=origin, kind="record")
    leave_out = frozenset(where.columns())
    hint = WINDOWS if shape == "windows" else NO_HINT
    for number, record in enumerate(records, 1):
        place = _origin(record, where, number)
        if not isinstance(record, Mapping):
            problems.add("read", place.path, f"{place.kind} {place.record}", "not a record (mapping)")
            continue
        if shape == "json":
            kept = {k: v for k, v in record.items() if k not in leave_out}
            fields, raw_time, logsource = shape_object(kept)
        else:
            fields = {k: v for k, v in record.items() if v is not None and k not in leave_out}
            raw_time, logsource = _time_of(fields, time_field), hint
        yield Event(_timestamp(raw_time, place, problems), fields, place, logsource)


def _origin(record: Any, where: RecordOrigin, number: int) -> Origin:
    values: Mapping[str, Any] = record if isinstance(record, Mapping) else {}
    path = values.get(where.path) if where.path is not None else None
    place = values.get(where.place) if where.place is not None else number
    try:
        record_number = int(place) if place is not None else None
    except (TypeError, ValueError):
        record_number = None
    return Origin(str(path) if path else where.default, record_number, where.kind)


def _time_of(fields: Mapping[str, Any], time_field: str | None) -> Any:
    if time_field is not None:
        return fields.get(time_field)
    for name in TIME_FIELDS:
        value = fields.get(name)
        if value is not None:
            return value
    return None


def _timestamp(raw: Any, origin: Origin, problems: ProblemLog) -> datetime:
    if raw is None:
        return EPOCH
    try:
        if isinstance(raw, datetime):
            return raw
        if isinstance(raw, str):
            return parse_timestamp(raw)
        return parse_any_timestamp(raw)
    except (ValueError, TypeError, OverflowError):
        problems.add("kept", origin.path, f"{origin.kind} {origin.record}",
                     f"unparsable time {raw!r}: set to 1970-01-01")
        return EPOCH
