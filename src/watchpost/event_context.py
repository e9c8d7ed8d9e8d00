"""What an analyst needs to place one event: where it ran (host, or cloud account and region),
which log and event kind it is (channel / event id), and how to get back to the raw record.

The same answers for every format, so that alerts, `watchpost search` and `watchpost metrics`
name things alike:

- host: the Windows ``Computer``, the auditd ``node``, an ECS ``host.name``... (`Event.host`), or
  for cloud audit logs the account / subscription / project with the region
  (``aws:111122223333/us-east-1``, ``azure:<subscription>``, ``gcp:<project>/<region>``);
- channel: the Windows ``Channel``, else the reader's logsource (``aws/cloudtrail``,
  ``linux/auditd``, ``macos/process_creation``);
- event id: the Windows ``EventID``, the cloud operation (``eventName``, ``methodName``,
  ``operationName``), the auditd record ``type``, the eslogger ``event_type``.
"""

from __future__ import annotations

from watchpost.events import Event, FieldValue

EMPTY_VALUES = (None, "", "-")

HOST_FIELDS = ("Computer", "Hostname", "host.name", "node", "hostname", "host.hostname",
               "_source.host.name", "_source.host.hostname", "agent.hostname", "ComputerName")
"""Field names that name the machine an event comes from, in order of preference."""

AWS_ACCOUNT = ("recipientAccountId", "userIdentity.accountId")
AWS_REGION = ("awsRegion",)
AZURE_SUBSCRIPTION = ("subscriptionId", "SubscriptionId", "properties.subscriptionId")
AZURE_REGION = ("location", "Location", "properties.location", "resourceLocation")
GCP_PROJECT = ("resource.labels.project_id", "protoPayload.resourceName.project")
GCP_REGION = ("resource.labels.location", "resource.labels.region", "resource.labels.zone",
              "protoPayload.resourceLocation.currentLocations")
EVENT_ID_FIELDS = ("EventID", "eventName", "protoPayload.methodName", "operationName",
                   "OperationNameValue", "type", "event_type", "EventType")


def first_value(event: Event, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that the event sets, as text (lists give their first item)."""
    fields = event.fields
    for name in names:
        value: FieldValue = fields.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value not in EMPTY_VALUES:
            return str(value)
    return None


def cloud_scope(event: Event) -> tuple[str, str | None, str | None] | None:
    """``(provider, account, region)`` of a cloud audit event, None for other events."""
    product = event.logsource.product
    if product == "aws":
        return "aws", first_value(event, AWS_ACCOUNT), first_value(event, AWS_REGION)
    if product == "azure":
        return "azure", azure_subscription(event), first_value(event, AZURE_REGION)
    if product == "gcp":
        return "gcp", gcp_project(event), first_value(event, GCP_REGION)
    return None


def azure_subscription(event: Event) -> str | None:
    found = first_value(event, AZURE_SUBSCRIPTION)
    if found:
        return found
    resource = first_value(event, ("resourceId", "ResourceId", "_ResourceId"))
    return path_part(resource, "subscriptions")


def gcp_project(event: Event) -> str | None:
    found = first_value(event, GCP_PROJECT)
    if found:
        return found
    return path_part(first_value(event, ("logName",)), "projects")


def path_part(path: str | None, marker: str) -> str | None:
    """The segment after ``/marker/`` in a resource path (``/subscriptions/<id>/...``)."""
    if not path:
        return None
    parts = path.strip("/").split("/")
    for position, part in enumerate(parts[:-1]):
        if part.lower() == marker:
            return parts[position + 1] or None
    return None


def event_host(event: Event) -> str | None:
    """The machine, or the cloud account and region, an event comes from (None if unknown)."""
    named = first_value(event, HOST_FIELDS)
    if named:
        return named
    scope = cloud_scope(event)
    if scope is None:
        return None
    provider, account, region = scope
    if account is None and region is None:
        return None
    return f"{provider}:{account or '?'}" + (f"/{region}" if region else "")


def event_channel(event: Event) -> str:
    """The Windows channel, else the logsource the reader gave (``aws/cloudtrail``)."""
    channel = first_value(event, ("Channel",))
    if channel:
        return channel
    hint = event.logsource
    parts = [part for part in (hint.product, hint.service or hint.category) if part]
    return "/".join(parts) or "(unknown)"


def event_code(event: Event) -> str:
    """The event id or operation within its channel (``4688``, ``DescribeVpcs``, ``EXECVE``)."""
    return first_value(event, EVENT_ID_FIELDS) or ""


def event_place(event: Event) -> str:
    """Where the raw record is: ``file:record 12`` / ``file:line 3``."""
    return event.origin.describe()


def event_label(event: Event) -> str:
    """``Security 4688 @ Security.evtx:record 12``: the log, the event kind and the raw record."""
    code = event_code(event)
    return f"{event_channel(event)}{' ' + code if code else ''} @ {event_place(event)}"
