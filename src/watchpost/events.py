"""The event model shared by every stage: readers produce `Event`s, matchers read them.

An event is one log record after reading: a UTC timestamp, a flat field mapping, where it came
from (`Origin`), and logsource hints that tell which rules may apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

FieldValue = Any
"""A field holds str, int, float, bool, None, or a list of those (multi-valued fields)."""


class Origin(NamedTuple):
    """Where an event came from: a file (``archive.zip!member`` inside archives) and a place in it.

    ``record`` is the EVTX record id for EVTX files and the 1-based line (or element) number for
    text formats; ``kind`` says which. Immutable; a named tuple because one is made per event
    (a frozen dataclass costs several times as much to build).
    """

    path: str
    record: int | None
    kind: str = "record"  # "record" | "line" | "element"

    def describe(self) -> str:
        if self.record is None:
            return self.path
        return f"{self.path}:{self.kind} {self.record}"


@dataclass(frozen=True, slots=True)
class LogsourceHint:
    """What the reader knows about the log an event comes from (Sigma logsource terms).

    Windows readers set ``product="windows"`` and leave the service to the event's ``Channel``;
    other readers set what their format implies (``linux``/``auditd``, ``aws``/``cloudtrail``...).
    ``category`` is set when a reader derives a taxonomy event (e.g. auditd execve ->
    ``process_creation``).
    """

    product: str | None = None
    service: str | None = None
    category: str | None = None


WINDOWS = LogsourceHint(product="windows")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Event:
    """One log record after reading.

    ``fields`` is flat: nested structures are addressed with dotted names
    (``userIdentity.arn``); Windows ``EventData``/``UserData`` members appear under their own
    names next to ``EventID``, ``Channel``, ``Computer`` and ``Provider_Name``.
    """

    __slots__ = ("timestamp", "fields", "origin", "logsource", "_lower")

    def __init__(
        self,
        timestamp: datetime,
        fields: dict[str, FieldValue],
        origin: Origin,
        logsource: LogsourceHint = WINDOWS,
    ) -> None:
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        self.timestamp = timestamp
        self.fields = fields
        self.origin = origin
        self.logsource = logsource
        self._lower: dict[str, str] | None = None

    def get(self, name: str) -> FieldValue:
        """The value of field ``name``, or None when the event has no such field."""
        return self.fields.get(name)

    def has(self, name: str) -> bool:
        return name in self.fields

    def lowered(self, name: str, text: str) -> str:
        """``text`` (the string form of field ``name``) lower-cased, computed once per event."""
        cache = self._lower
        if cache is None:
            cache = self._lower = {}
        value = cache.get(name)
        if value is None:
            value = cache[name] = text.lower()
        return value

    def forget_lowered(self) -> None:
        """Drop the lower-cased copies made while matching (before an event is kept or sent)."""
        self._lower = None

    @property
    def host(self) -> str | None:
        for key in ("Computer", "Hostname", "host.name", "node", "hostname"):
            value = self.fields.get(key)
            if value:
                return str(value)
        return None

    def __repr__(self) -> str:
        return f"Event({self.timestamp.isoformat()}, {self.origin.describe()}, {len(self.fields)} fields)"
