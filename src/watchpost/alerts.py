"""The one alert schema (documented in docs/alerts.md; JSON Schema in docs/alert.schema.json).

An alert is what a user sees: a match of an output rule, or a fired correlation, with the events
behind it. Sinks render `Alert.to_dict()`; they never look at rules or pySigma.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchpost.events import Event
from watchpost.rules.model import RuleMeta

SCHEMA = "watchpost.alert/1"


@dataclass(frozen=True, slots=True)
class CorrelationDetail:
    """What fired a correlation: its type, window, condition and the measured value."""

    type: str
    timespan_seconds: float
    condition: str
    value: float
    first: datetime
    last: datetime
    rules: tuple[str, ...] = ()  # ids of the rules it correlates


@dataclass(frozen=True, slots=True)
class Alert:
    """A detection match or a fired correlation.

    ``events`` are in time order; ``event_rules`` names, for each event, the id of the detection
    rule it matched (the rule itself for a plain match). ``group`` holds the group-by values of a
    correlation.
    """

    rule: RuleMeta
    timestamp: datetime
    events: tuple[Event, ...]
    event_rules: tuple[str, ...] = ()
    group: tuple[tuple[str, str], ...] = ()
    correlation: CorrelationDetail | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str | None:
        for event in self.events:
            host = event.host
            if host:
                return host
        return None

    @property
    def key(self) -> str:
        """A stable identity: the same rule over the same events always gives the same key."""
        digest = hashlib.sha256(self.rule.id.encode())
        for event in self.events:
            digest.update(b"\0" + event.origin.path.encode() + b"\0" + str(event.origin.record).encode())
            digest.update(b"\0" + event.timestamp.isoformat().encode())
        return digest.hexdigest()[:32]

    @property
    def techniques(self) -> tuple[str, ...]:
        return techniques_of(self.rule.tags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.key,
            "timestamp": format_time(self.timestamp),
            "host": self.host,
            "rule": rule_dict(self.rule),
            "techniques": list(self.techniques),
            "group": dict(self.group),
            "correlation": correlation_dict(self.correlation),
            "summary": summarise(self.events),
            "events": [event_dict(e, r) for e, r in zip(self.events, self._event_rules(), strict=True)],
            "extra": dict(self.extra),
        }

    def _event_rules(self) -> tuple[str | None, ...]:
        if len(self.event_rules) == len(self.events):
            return self.event_rules
        return tuple(self.rule.id for _ in self.events)


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``."""
    text = moment.isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def techniques_of(tags: Iterable[str]) -> tuple[str, ...]:
    """ATT&CK technique ids from Sigma tags (``attack.t1049`` -> ``T1049``, sub-techniques too)."""
    found: list[str] = []
    for tag in tags:
        lowered = tag.lower()
        if lowered.startswith("attack.t") and lowered[8:9].isdigit():
            technique = lowered[7:].upper()
            if technique not in found:
                found.append(technique)
    return tuple(found)


def rule_dict(rule: RuleMeta) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "level": rule.level,
        "tags": list(rule.tags),
        "path": rule.path,
        "kind": rule.kind,
        "status": rule.status,
        "description": rule.description,
        "author": rule.author,
        "falsepositives": list(rule.falsepositives),
        "references": list(rule.references),
    }


def correlation_dict(detail: CorrelationDetail | None) -> dict[str, Any] | None:
    if detail is None:
        return None
    return {
        "type": detail.type,
        "timespan_seconds": detail.timespan_seconds,
        "condition": detail.condition,
        "value": detail.value,
        "first": format_time(detail.first),
        "last": format_time(detail.last),
        "rules": list(detail.rules),
    }


def event_dict(event: Event, rule_id: str | None) -> dict[str, Any]:
    origin = event.origin
    return {
        "timestamp": format_time(event.timestamp),
        "rule": rule_id,
        "origin": {"path": origin.path, "record": origin.record, "kind": origin.kind},
        "fields": event.fields,
    }


# Field names, in order of preference, for what a responder asks first about a process event.
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("User", "TargetUserName", "SubjectUserName", "userIdentity.arn", "auid"),
    "domain": ("TargetDomainName", "SubjectDomainName"),
    "process": ("Image", "NewProcessName", "ProcessName", "exe"),
    "process_id": ("NewProcessId", "ProcessId", "pid"),
    "command_line": ("CommandLine", "ScriptBlockText", "Payload"),
    "parent": ("ParentImage", "ParentProcessName"),
    "parent_id": ("ParentProcessId",),
    "parent_command_line": ("ParentCommandLine",),
    "event_name": ("eventName",),
    "source_ip": ("sourceIPAddress", "IpAddress", "SourceIp"),
}


def summarise(events: Iterable[Event]) -> dict[str, Any]:
    """The facts a responder needs first, taken from the events behind an alert.

    For a 4688 the creator's ``ProcessId`` is the parent's PID; elsewhere ``ProcessId`` is the
    process itself. The first event that has a fact gives it.
    """
    summary: dict[str, Any] = {}
    for event in events:
        fields = event.fields
        is_4688 = fields.get("EventID") == 4688 and "NewProcessName" in fields
        for key, names in SUMMARY_FIELDS.items():
            if key in summary:
                continue
            for name in names:
                value = fields.get(name)
                if value not in (None, "", "-"):
                    summary[key] = value
                    break
        if is_4688 and "parent_id" not in summary and fields.get("ProcessId") is not None:
            summary["parent_id"] = fields["ProcessId"]
        if "host" not in summary and event.host:
            summary["host"] = event.host
    return summary
