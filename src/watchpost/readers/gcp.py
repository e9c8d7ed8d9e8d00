"""Google Cloud Audit Logs: Cloud Logging ``LogEntry`` records with an ``AuditLog`` payload.

Accepted layouts (see `watchpost.readers.json_documents`): JSON lines as exported to Cloud Storage
or BigQuery-to-JSON, the array ``gcloud logging read --format=json`` prints, a single entry, and
entries wrapped as ``{"data": {<LogEntry>}}`` by Pub/Sub-based collectors (unwrapped).

Hint: ``product: gcp, service: gcp.audit``. Timestamp: ``timestamp``, else ``receiveTimestamp``.

Fields: SigmaHQ's gcp.audit rules use three spellings; all three are present:

- the LogEntry as exported, with dotted names (`watchpost.readers.nested_fields`):
  ``protoPayload.methodName``, ``protoPayload.authorizationInfo.permission`` (a list, one value
  per element), ``resource.type``, ``logName``...;
- the same fields again under ``data.`` (``data.protoPayload.methodName``), the envelope of the
  collectors SigmaHQ's rules were written for. Those rules also address ``logName`` and
  ``resource.type`` under ``data.protoPayload.``: ``data.protoPayload.resource.type`` is set
  from ``resource.type`` and ``data.protoPayload.logName`` from the log id of ``logName`` (the
  part after ``/logs/``, e.g. ``cloudaudit.googleapis.com%2Factivity``);
- the Elastic (Filebeat ``gcp.audit``) names: every ``protoPayload.<path>`` also as
  ``gcp.audit.<path in snake_case>`` (``gcp.audit.method_name``,
  ``gcp.audit.authentication_info.principal_email``, ``gcp.audit.request_metadata.caller_ip``),
  with ``@type`` as ``gcp.audit.type``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from watchpost.events import Event, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_documents import iter_json_records
from watchpost.readers.nested_fields import Fields, flatten_record
from watchpost.readers.record_times import record_time

GCP_AUDIT = LogsourceHint(product="gcp", service="gcp.audit")
TIME_KEYS = ("timestamp", "receiveTimestamp")
PAYLOAD = "protoPayload."
ECS_PREFIX = "gcp.audit."


class GcpAuditReader:
    """Reads Google Cloud audit log entries; see the module docstring."""

    name = "gcp"

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        if text.lstrip()[:1] not in ("{", "["):
            return False
        if "google.cloud.audit.AuditLog" in text:
            return True
        return '"protoPayload"' in text and ('"logName"' in text or '"insertId"' in text)

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        for item in iter_json_records(source, problems, wrappers=()):
            yield self.event(item.record, Origin(source.name, item.place, item.kind), problems)

    @staticmethod
    def event(record: dict[str, Any], origin: Origin, problems: ProblemLog) -> Event:
        """The event of one LogEntry."""
        inner = record.get("data")
        if isinstance(inner, dict) and "protoPayload" in inner:
            record = inner
        timestamp = record_time(record, TIME_KEYS, origin, problems)
        fields = flatten_record(record)
        _add_spellings(fields)
        return Event(timestamp, fields, origin, GCP_AUDIT)


def snake_case(name: str) -> str:
    """``callerSuppliedUserAgent`` -> ``caller_supplied_user_agent`` (dots kept)."""
    out: list[str] = []
    previous = ""
    for char in name:
        if char.isupper() and (previous.islower() or previous.isdigit()):
            out.append("_")
        out.append(char.lower())
        previous = char
    return "".join(out)


def _add_spellings(fields: Fields) -> None:
    originals = list(fields.items())
    for name, value in originals:
        fields["data." + name] = value
        if name.startswith(PAYLOAD):
            path = name[len(PAYLOAD) :]
            ecs = "type" if path == "@type" else snake_case(path)
            fields.setdefault(ECS_PREFIX + ecs, value)
    if "resource.type" in fields:
        fields.setdefault("data.protoPayload.resource.type", fields["resource.type"])
    log_name = fields.get("logName")
    if isinstance(log_name, str):
        fields.setdefault("data.protoPayload.logName", log_name.rpartition("/logs/")[2])
