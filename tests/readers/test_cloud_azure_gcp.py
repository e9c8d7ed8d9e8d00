"""The Azure Activity log and GCP Cloud Audit log readers, with the field spellings SigmaHQ uses."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from watchpost.events import Event, LogsourceHint
from watchpost.problems import ProblemLog
from watchpost.readers.azure import AzureActivityReader
from watchpost.readers.base import Source
from watchpost.readers.gcp import GcpAuditReader, snake_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cloud"
ACTIVITY = LogsourceHint(product="azure", service="activitylogs")
GCP_AUDIT = LogsourceHint(product="gcp", service="gcp.audit")
NSG = (
    "/subscriptions/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-net/providers/"
    "Microsoft.Network/networkSecurityGroups/web-nsg"
)


def read(
    reader: AzureActivityReader | GcpAuditReader, name: str, data: bytes
) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(reader.read(Source(name, lambda: io.BytesIO(data)), problems)), problems


def test_azure_storage_export() -> None:
    events, problems = read(
        AzureActivityReader(), "nsg.json", (FIXTURES / "azure_activity_nsg.json").read_bytes()
    )
    assert problems.count() == 0
    assert [e.get("operationName") for e in events] == [
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/READ",
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SECURITYRULES/WRITE",
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SECURITYRULES/WRITE",
    ]
    write = events[2]
    assert write.logsource == ACTIVITY
    assert write.timestamp == datetime(2024, 10, 21, 10, 3, 41, 998112, tzinfo=UTC)
    assert write.get("OperationNameValue") == write.get("operationName")
    assert write.get("CategoryValue") == "Administrative"
    assert write.get("ResourceProviderValue") == "MICROSOFT.NETWORK"
    assert write.get("ResourceId") == (NSG + "/securityRules/allow-any-3389").upper()
    assert write.get("identity.authorization.evidence.role") == "Network Contributor"
    assert write.get("properties.message") == "Microsoft.Network/networkSecurityGroups/securityRules/write"
    assert (write.origin.record, write.origin.kind) == (3, "element")
    assert '"destinationPortRange":"3389"' in str(events[1].get("properties.requestbody"))


def test_azure_rest_form_localized_values() -> None:
    events, problems = read(
        AzureActivityReader(), "rest.json", (FIXTURES / "azure_activity_rest.json").read_bytes()
    )
    assert problems.count() == 0
    (delete,) = events
    assert delete.get("operationName") == "Microsoft.Network/networkSecurityGroups/securityRules/delete"
    assert delete.get("operationName.localizedValue") == "Delete Security Rule"
    assert delete.get("OperationNameValue") == "Microsoft.Network/networkSecurityGroups/securityRules/delete"
    assert delete.get("category") == "Administrative"
    assert delete.get("ResourceProviderValue") == "Microsoft.Network"
    assert delete.get("ActivityStatusValue") == "Succeeded"
    assert delete.get("Caller") == "mallory@contoso.example"
    assert delete.timestamp == datetime(2024, 10, 21, 10, 7, 2, 660717, tzinfo=UTC)


def test_azure_log_analytics_rows() -> None:
    row = (
        b'[{"TimeGenerated": "2024-10-21T10:09:00.5Z", "OperationNameValue": '
        b'"MICROSOFT.ADHYBRIDHEALTHSERVICE/SERVICES/DELETE", "CategoryValue": "Administrative", '
        b'"ResourceProviderValue": "MICROSOFT.ADHYBRIDHEALTHSERVICE", "ResourceId": '
        b'"/providers/Microsoft.ADHybridHealthService/services/AdFederationService-contoso.example", '
        b'"CorrelationId": "1", '
        b'"Properties": "{\\"message\\": \\"Delete service\\", \\"entity\\": \\"x\\"}"}]'
    )
    events, problems = read(AzureActivityReader(), "la.json", row)
    assert problems.count() == 0
    (event,) = events
    assert event.get("operationName") == "MICROSOFT.ADHYBRIDHEALTHSERVICE/SERVICES/DELETE"
    assert event.get("resourceId") == event.get("ResourceId")
    assert event.get("Properties.message") == "Delete service"
    assert event.timestamp == datetime(2024, 10, 21, 10, 9, 0, 500000, tzinfo=UTC)
    assert event.logsource == ACTIVITY


def test_azure_entra_categories_get_their_own_service() -> None:
    data = (
        b'{"records": [{"time": "2024-10-21T10:00:00Z",'
        b' "resourceId": "/tenants/t/providers/Microsoft.aadiam",'
        b' "operationName": "Sign-in activity", "category": "SignInLogs", "correlationId": "c"},'
        b' {"time": "2024-10-21T10:00:01Z", "resourceId": "/tenants/t/providers/Microsoft.aadiam",'
        b' "operationName": "Add user", "category": "AuditLogs", "correlationId": "d"}]}'
    )
    events, _ = read(AzureActivityReader(), "entra.json", data)
    assert [e.logsource.service for e in events] == ["signinlogs", "auditlogs"]


def test_gcp_audit_json_lines() -> None:
    events, problems = read(
        GcpAuditReader(), "gcp.jsonl", (FIXTURES / "gcp_audit_firewall.jsonl").read_bytes()
    )
    assert problems.count() == 0
    assert {e.logsource for e in events} == {GCP_AUDIT}
    delete = events[1]
    assert delete.timestamp == datetime(2024, 10, 21, 11, 21, 44, 118230, tzinfo=UTC)
    assert (delete.origin.record, delete.origin.kind) == (2, "line")
    for name in ("protoPayload.methodName", "data.protoPayload.methodName", "gcp.audit.method_name"):
        assert delete.get(name) == "v1.compute.firewalls.delete", name
    assert delete.get("gcp.audit.authentication_info.principal_email") == "mallory@contoso.example"
    assert delete.get("gcp.audit.request_metadata.caller_ip") == "198.51.100.77"
    assert delete.get("gcp.audit.type") == "type.googleapis.com/google.cloud.audit.AuditLog"
    assert delete.get("data.protoPayload.authorizationInfo.permission") == ["compute.firewalls.delete"]
    assert delete.get("data.protoPayload.authorizationInfo.granted") == [True]
    assert delete.get("resource.type") == delete.get("data.protoPayload.resource.type") == "gce_firewall_rule"
    assert delete.get("logName") == "projects/prod-net-4711/logs/cloudaudit.googleapis.com%2Factivity"
    assert delete.get("data.protoPayload.logName") == "cloudaudit.googleapis.com%2Factivity"
    assert events[0].get("data.protoPayload.logName") == "cloudaudit.googleapis.com%2Fdata_access"


def test_gcp_wrapped_entries_and_array_form() -> None:
    data = (
        b'[{"data": {"protoPayload": {"methodName": "storage.buckets.list"},'
        b' "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access",'
        b' "timestamp": "2024-10-21T11:00:00.123456789Z"}}]'
    )
    events, problems = read(GcpAuditReader(), "wrapped.json", data)
    assert problems.count() == 0
    (event,) = events
    assert event.get("gcp.audit.method_name") == "storage.buckets.list"
    assert event.get("data.protoPayload.methodName") == "storage.buckets.list"
    assert event.timestamp == datetime(2024, 10, 21, 11, 0, 0, 123456, tzinfo=UTC)


def test_snake_case() -> None:
    assert (
        snake_case("requestMetadata.callerSuppliedUserAgent") == "request_metadata.caller_supplied_user_agent"
    )
    assert (
        snake_case("authorizationInfo.resourceAttributes.name")
        == "authorization_info.resource_attributes.name"
    )
    assert snake_case("methodName") == "method_name"


def test_sniffing_tells_the_cloud_formats_apart() -> None:
    source = Source("x", lambda: io.BytesIO(b""))
    heads = {
        name: (FIXTURES / name).read_bytes()[:4096]
        for name in (
            "azure_activity_nsg.json",
            "azure_activity_rest.json",
            "gcp_audit_firewall.jsonl",
            "cloudtrail_network_discovery.json",
        )
    }
    azure, gcp = AzureActivityReader(), GcpAuditReader()
    assert [name for name, head in heads.items() if azure.sniff(head, source)] == [
        "azure_activity_nsg.json",
        "azure_activity_rest.json",
    ]
    assert [name for name, head in heads.items() if gcp.sniff(head, source)] == ["gcp_audit_firewall.jsonl"]


def test_the_registry_picks_the_azure_and_gcp_readers() -> None:
    from watchpost.readers.registry import sniff

    expected = {
        "azure_activity_nsg.json": "azure",
        "azure_activity_rest.json": "azure",
        "gcp_audit_firewall.jsonl": "gcp",
    }
    for name, reader_name in expected.items():
        data = (FIXTURES / name).read_bytes()
        reader = sniff(Source(name, lambda data=data: io.BytesIO(data)))
        assert reader is not None and reader.name == reader_name, name
