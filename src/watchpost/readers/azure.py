"""Azure Activity log records (and Entra ID logs in the same envelope), as JSON.

Accepted layouts (see `watchpost.readers.json_documents`): the storage-account / Event Hubs export
``{"records": [...]}``, the REST API / ``az monitor activity-log list`` output (``{"value": [...]}``
or a plain array), JSON lines, and Log Analytics ``AzureActivity`` rows exported as JSON.

Hint: ``product: azure`` with the service taken from the record's category: ``activitylogs`` for
the Activity log categories (Administrative, Security, Policy, ServiceHealth...), ``signinlogs``
for the Entra ID sign-in categories, ``auditlogs`` for ``AuditLogs``.

Fields: every key with dotted names (`watchpost.readers.nested_fields`). SigmaHQ's activitylogs
rules use two spellings, so both are made to work:

- the export names, ``operationName``, ``category``, ``resourceId``... In the REST form these
  are ``{"value": ..., "localizedValue": ...}`` objects: the field itself then holds ``value``
  (``operationName.value`` and ``operationName.localizedValue`` stay too);
- the Log Analytics names ``OperationNameValue``, ``CategoryValue``, ``ResourceProviderValue``,
  ``ResourceId``, ``ActivityStatusValue``, ``Caller``, ``CallerIpAddress``, set from the export
  names when the record has not got them (``ResourceProviderValue`` from ``resourceProviderName``,
  else from the part of ``operationName`` before the first ``/``), and the export names from them
  in the other direction.

A ``properties``/``Properties`` member holding JSON text (Log Analytics) is read and flattened
like an object. Timestamp: ``time``, ``eventTimestamp``, ``TimeGenerated``, ``submissionTimestamp``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from watchpost.events import Event, FieldValue, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_documents import iter_json_records
from watchpost.readers.nested_fields import Fields, flatten_record
from watchpost.readers.record_times import record_time

TIME_KEYS = ("time", "eventTimestamp", "TimeGenerated", "submissionTimestamp")
LOCALIZABLE = (
    "operationName",
    "category",
    "resourceProviderName",
    "resourceType",
    "status",
    "subStatus",
    "eventName",
)
ANALYTICS_NAMES = (
    ("OperationNameValue", "operationName"),
    ("CategoryValue", "category"),
    ("ResourceProviderValue", "resourceProviderName"),
    ("ResourceId", "resourceId"),
    ("ActivityStatusValue", "status"),
    ("Caller", "caller"),
    ("CallerIpAddress", "callerIpAddress"),
)
SIGNIN_CATEGORIES = frozenset(
    {
        "signinlogs",
        "noninteractiveusersigninlogs",
        "serviceprincipalsigninlogs",
        "managedidentitysigninlogs",
        "adfssigninlogs",
    }
)
_MARKERS = ('"operationName"', '"OperationNameValue"', '"OperationName"')
_RESOURCE_MARKERS = ('"resourceId"', '"ResourceId"', '"resourceUri"')
_ENVELOPE_MARKERS = (
    '"correlationId"',
    '"CorrelationId"',
    '"category"',
    '"CategoryValue"',
    '"callerIpAddress"',
)


class AzureActivityReader:
    """Reads Azure Activity log records; see the module docstring."""

    name = "azure"

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        return (
            text.lstrip()[:1] in ("{", "[")
            and '"eventSource"' not in text
            and any(marker in text for marker in _MARKERS)
            and any(marker in text for marker in _RESOURCE_MARKERS)
            and any(marker in text for marker in _ENVELOPE_MARKERS)
        )

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        for item in iter_json_records(source, problems, wrappers=("records", "value")):
            yield self.event(item.record, Origin(source.name, item.place, item.kind), problems)

    @staticmethod
    def event(record: dict[str, Any], origin: Origin, problems: ProblemLog) -> Event:
        """The event of one Activity log record."""
        timestamp = record_time(record, TIME_KEYS, origin, problems)
        fields = flatten_record(_with_parsed_properties(record))
        _add_names(fields)
        return Event(timestamp, fields, origin, _hint(fields))


def _with_parsed_properties(record: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] | None = None
    for key in ("properties", "Properties"):
        value = record.get(key)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                inner = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(inner, dict):
                parsed = parsed or dict(record)
                parsed[key] = inner
    return parsed or record


def _add_names(fields: Fields) -> None:
    for key in LOCALIZABLE:
        value = fields.get(f"{key}.value")
        if isinstance(value, str):
            fields[key] = value
    for analytics, export in ANALYTICS_NAMES:
        if analytics not in fields and fields.get(export) is not None:
            fields[analytics] = fields[export]
        elif export not in fields and fields.get(analytics) is not None:
            fields[export] = fields[analytics]
    operation = fields.get("operationName")
    if "ResourceProviderValue" not in fields and isinstance(operation, str) and "/" in operation:
        fields["ResourceProviderValue"] = operation.partition("/")[0]


def _hint(fields: Fields) -> LogsourceHint:
    category: FieldValue = fields.get("category")
    lowered = category.lower() if isinstance(category, str) else ""
    if lowered in SIGNIN_CATEGORIES:
        return LogsourceHint(product="azure", service="signinlogs")
    if lowered == "auditlogs":
        return LogsourceHint(product="azure", service="auditlogs")
    return LogsourceHint(product="azure", service="activitylogs")
