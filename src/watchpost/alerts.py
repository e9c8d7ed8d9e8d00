"""The one alert schema (documented in docs/alerts.md; JSON Schema in docs/alert.schema.json).

An alert is what a user sees: a match of an output rule, or a fired correlation, with the events
behind it. Sinks render `Alert.to_dict()`; they never look at rules or pySigma.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchpost.event_context import cloud_scope, event_host
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
    fields: tuple[str, ...] = ()  # the measured field(s) of a value_* correlation
    values: tuple[str, ...] = ()  # a value_count's distinct values, in order of first appearance


@dataclass(frozen=True, slots=True)
class Alert:
    """A detection match or a fired correlation.

    ``events`` are in time order; ``event_rules`` names, for each event, the id of the detection
    rule it matched (the rule itself for a plain match). ``group`` holds the group-by values of a
    correlation. ``assumed_host`` names the host when no event does (``hunt --host``: eslogger
    and other logs that do not say where they were written).
    """

    rule: RuleMeta
    timestamp: datetime
    events: tuple[Event, ...]
    event_rules: tuple[str, ...] = ()
    group: tuple[tuple[str, str], ...] = ()
    correlation: CorrelationDetail | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    assumed_host: str | None = None

    @property
    def host(self) -> str | None:
        """The first host an event names (cloud events: account and region), else ``assumed_host``."""
        for event in self.events:
            host = event_host(event)
            if host:
                return host
        return self.assumed_host

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
            "summary": summarise(self.events, self.assumed_host),
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
        "fields": list(detail.fields),
        "values": list(detail.values),
    }


def event_dict(event: Event, rule_id: str | None) -> dict[str, Any]:
    origin = event.origin
    return {
        "timestamp": format_time(event.timestamp),
        "rule": rule_id,
        "origin": {"path": origin.path, "record": origin.record, "kind": origin.kind},
        "fields": event.fields,
    }


# Field names, in order of preference, for what a responder asks first about an event.
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("User", "TargetUserName", "SubjectUserName", "userIdentity.arn",
             "protoPayload.authenticationInfo.principalEmail", "Caller", "auid", "Security_UserID"),
    "domain": ("TargetDomainName", "SubjectDomainName"),
    "process": ("Image", "NewProcessName", "ProcessName", "exe"),
    "process_id": ("NewProcessId", "ProcessId", "pid", "Execution_ProcessID"),
    "command_line": ("CommandLine", "ScriptBlockText", "Payload"),
    "parent": ("ParentImage", "ParentProcessName"),
    "parent_id": ("ParentProcessId",),
    "parent_command_line": ("ParentCommandLine",),
    "event_name": ("eventName", "protoPayload.methodName", "OperationNameValue"),
    "source_ip": ("sourceIPAddress", "protoPayload.requestMetadata.callerIp", "CallerIpAddress",
                  "IpAddress", "SourceIp"),
}

SUMMARY_ORDER = ("host", "user", "domain", "process", "process_id", "command_line", "parent",
                 "parent_id", "parent_command_line", "event_name", "source_ip", "account", "region",
                 "commands")
"""The summary's keys, in the one order every output shows them (those an alert has); the CSV
columns follow it (`watchpost.sinks.csv`: the keys added later are columns added at the end)."""

PROCESS_FACTS = frozenset(
    ("process", "process_id", "command_line", "parent", "parent_id", "parent_command_line")
)
"""Facts about one process: in a multi-event alert they come only from events of the first process."""

PROCESS_ID_FACTS = ("process_id", "parent_id")
# Windows logs write the user's domain apart: shown as DOMAIN\\user, as Sysmon's ``User`` is.
USER_DOMAINS = {"TargetUserName": "TargetDomainName", "SubjectUserName": "SubjectDomainName"}
MAX_COMMANDS = 100

EMPTY = (None, "", "-")

# PowerShell module logging (4103) names the host program and user in its ContextInfo text.
_CONTEXT_LINE = re.compile(r"^\s*(Host Application|User)\s*=\s*(.+?)\s*$", re.MULTILINE)


def event_facts(event: Event) -> dict[str, Any]:
    """The summary facts one event gives, each from the first of its field names that is set.

    In a 4688 the creator's ``ProcessId`` is the parent's id; a 4103 gives the host program and
    user of its ``ContextInfo``. Process ids are decimal integers whatever the log wrote (Security
    writes ``0x6cb0``, Sysmon ``27824``: the event keeps its own form); a Windows user is
    ``DOMAIN\\user`` with its domain, as Sysmon writes it. Cloud events give account and region.
    """
    fields = event.fields
    facts: dict[str, Any] = {}
    creator = fields.get("ProcessId")
    if fields.get("EventID") == 4688 and "NewProcessName" in fields and creator not in EMPTY:
        facts["parent_id"] = creator
    context = fields.get("ContextInfo")
    if isinstance(context, str):
        for name, value in _CONTEXT_LINE.findall(context):
            facts.setdefault("process" if name == "Host Application" else "user", value)
    for key, names in SUMMARY_FIELDS.items():
        if key in facts:
            continue
        for name in names:
            value = fields.get(name)
            if value not in EMPTY:
                facts[key] = qualified_user(fields, name, value) if key == "user" else value
                if key == "user" and name in USER_DOMAINS:
                    domain = fields.get(USER_DOMAINS[name])
                    if domain not in EMPTY:
                        facts["domain"] = domain
                break
    for key in PROCESS_ID_FACTS:
        if key in facts:
            number = process_number(facts[key])
            facts[key] = facts[key] if number is None else number
    add_place(event, facts)
    return facts


def qualified_user(fields: dict[str, Any], name: str, value: Any) -> Any:
    """``DOMAIN\\user`` for a Windows user name written apart from its domain."""
    domain = fields.get(USER_DOMAINS.get(name, ""))
    text = str(value)
    if domain in EMPTY or "\\" in text or "@" in text:
        return value
    return f"{domain}\\{text}"


def add_place(event: Event, facts: dict[str, Any]) -> None:
    """The host; for cloud events the account (subscription, project) and region as well."""
    host = event_host(event)
    if host:
        facts["host"] = host
    scope = cloud_scope(event)
    if scope is not None:
        _, account, region = scope
        if account:
            facts["account"] = account
        if region:
            facts["region"] = region


def process_number(value: Any) -> int | None:
    """A process id as an integer (``0x2bc``, ``700`` and 700 are the same), None if not one."""
    try:
        return int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return None


def summarise(events: Iterable[Event], assumed_host: str | None = None) -> dict[str, Any]:
    """The facts a responder needs first, taken from the events behind an alert, in `SUMMARY_ORDER`.

    The first event gives what it has. Later events fill the gaps: host, user and the like from
    any event, process facts only from events of the same process (same host and process id), so
    a burst of several commands never mixes one process's parent with another's command line.
    When the events ran more than one command, ``commands`` lists each once, in time order.
    """
    summary: dict[str, Any] = {}
    anchor: tuple[str | None, int | None] | None = None
    commands: dict[tuple[str | None, Any, str], None] = {}
    for event in events:
        facts = event_facts(event)
        identity = (facts.get("host"), process_number(facts.get("process_id")))
        first = anchor is None
        if anchor is None:
            anchor = identity
        same_process = first or (identity == anchor and identity[1] is not None)
        for key, value in facts.items():
            if key in summary or (key in PROCESS_FACTS and not same_process):
                continue
            summary[key] = value
        command = facts.get("command_line")
        if command is not None and len(commands) < MAX_COMMANDS:
            commands.setdefault((identity[0], identity[1], str(command)), None)
    if "host" not in summary and assumed_host:
        summary["host"] = assumed_host
    if len(commands) > 1:
        summary["commands"] = [command for _, _, command in commands]
    return {key: summary[key] for key in SUMMARY_ORDER if key in summary}
