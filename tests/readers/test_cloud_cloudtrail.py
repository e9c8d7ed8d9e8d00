"""The CloudTrail reader on the project's fixtures, Stratus Red Team detonations and OTRF's export."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchpost.events import EPOCH, Event, LogsourceHint
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.cloudtrail import CloudTrailReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cloud"
SHARED = Path(__file__).resolve().parents[3] / "shared"
AWS_SAMPLES = SHARED / "samples" / "cloud" / "aws"
STRATUS = AWS_SAMPLES / "stratus-red-team"
CLOUDTRAIL = LogsourceHint(product="aws", service="cloudtrail")
DISCOVERY_CALLS = [
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "DescribeVpcPeeringConnections",
]


def read_bytes(name: str, data: bytes) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    events = list(CloudTrailReader().read(Source(name, lambda: io.BytesIO(data)), problems))
    return events, problems


def read_file(path: Path) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    events = list(CloudTrailReader().read(Source(str(path), lambda: path.open("rb"), path), problems))
    return events, problems


@pytest.mark.parametrize("name", ["cloudtrail_network_discovery.json", "cloudtrail_network_discovery.jsonl"])
def test_records_document_and_json_lines_read_alike(name: str) -> None:
    events, problems = read_file(FIXTURES / name)
    assert problems.count() == 0
    assert [e.get("eventName") for e in events] == DISCOVERY_CALLS
    assert {e.logsource for e in events} == {CLOUDTRAIL}
    subnets = events[1]
    assert subnets.timestamp == datetime(2024, 10, 21, 9, 12, 5, tzinfo=UTC)
    assert subnets.get("eventSource") == "ec2.amazonaws.com"
    assert subnets.get("userIdentity.arn") == (
        "arn:aws:sts::111122223333:assumed-role/web-instance-role/i-0a1b2c3d4e5f67890"
    )
    assert subnets.get("userIdentity.sessionContext.sessionIssuer.type") == "Role"
    assert subnets.get("requestParameters.filterSet.items.name") == ["vpc-id"]
    assert subnets.get("requestParameters.filterSet.items.valueSet.items.value") == ["vpc-0c7e5a1d2b3f40011"]
    assert subnets.get("responseElements") is None
    groups = events[2]
    assert groups.get("requestParameters.filterSet.items.valueSet.items.value") == [
        "vpc-0c7e5a1d2b3f40011",
        "22",
        "3389",
    ]
    assert events[4].get("errorCode") == "Client.UnauthorizedOperation"
    kinds = {e.origin.kind for e in events}
    assert kinds == ({"element"} if name.endswith(".json") else {"line"})
    assert [e.origin.record for e in events] == [1, 2, 3, 4, 5]


def test_gzip_delivery_after_unwrapping() -> None:
    """What the archive layer hands over for an S3 ``.json.gz``: the decompressed document."""
    data = gzip.decompress(gzip.compress((FIXTURES / "cloudtrail_network_discovery.json").read_bytes()))
    events, problems = read_bytes("111122223333_CloudTrail_eu-west-1.json.gz", data)
    assert problems.count() == 0
    assert len(events) == 5


def test_stop_logging_detonation() -> None:
    events, problems = read_file(STRATUS / "aws.defense-evasion.cloudtrail-stop.json")
    assert problems.count() == 0
    assert len(events) == 1
    stop = events[0]
    assert stop.get("eventName") == "StopLogging"
    assert stop.get("eventSource") == "cloudtrail.amazonaws.com"
    assert stop.get("requestParameters.name") == "stratus-red-team-ct-stop-trail-buykxbqejv"
    assert stop.get("userIdentity.type") == "IAMUser"
    assert stop.timestamp == datetime(2024, 7, 31, 13, 6, 24, tzinfo=UTC)
    assert (stop.origin.record, stop.origin.kind) == (1, "element")


@pytest.mark.parametrize("path", sorted(STRATUS.glob("*.json")), ids=lambda p: p.name)
def test_every_stratus_detonation_is_read(path: Path) -> None:
    events, problems = read_file(path)
    expected = json.loads(path.read_text())
    assert problems.count() == 0
    assert [e.get("eventName") for e in events] == [record["eventName"] for record in expected]
    assert all(e.timestamp != EPOCH for e in events)
    assert CloudTrailReader().sniff(path.read_bytes()[:4096], Source(path.name, lambda: io.BytesIO(b"")))


def test_otrf_export_one_record_per_line() -> None:
    with zipfile.ZipFile(AWS_SAMPLES / "otrf_ec2_proxy_s3_exfiltration.zip") as archive:
        name = archive.namelist()[0]
        data = archive.read(name)
    events, problems = read_bytes(f"otrf_ec2_proxy_s3_exfiltration.zip!{name}", data)
    assert problems.count() == 0
    assert len(events) == 103
    assert [e.origin.record for e in events] == list(range(1, 104))
    # OTRF's records have no eventTime: the Logstash @timestamp is used.
    assert events[1].timestamp == datetime(2020, 9, 14, 0, 44, 24, tzinfo=UTC)
    describe = [e for e in events if str(e.get("eventName")).startswith("Describe")]
    assert describe and all(e.get("eventSource") == "ec2.amazonaws.com" for e in describe[:3])


def test_record_without_time_is_kept_and_reported() -> None:
    data = b'{"Records": [{"eventName": "DescribeVpcs", "eventSource": "ec2.amazonaws.com"}]}'
    events, problems = read_bytes("no-time.json", data)
    assert len(events) == 1 and events[0].timestamp == EPOCH
    assert [p.place for p in problems.problems] == ["element 1"]
    assert "no readable time" in problems.problems[0].reason


def test_sniff() -> None:
    reader = CloudTrailReader()
    source = Source("x", lambda: io.BytesIO(b""))
    assert reader.sniff(b'{"Records":[{"eventVersion":"1.09"', source)
    assert reader.sniff((FIXTURES / "cloudtrail_network_discovery.jsonl").read_bytes()[:4096], source)
    assert not reader.sniff((FIXTURES / "gcp_audit_firewall.jsonl").read_bytes()[:4096], source)
    assert not reader.sniff((FIXTURES / "azure_activity_nsg.json").read_bytes()[:4096], source)
    assert not reader.sniff(b'{"records": [{"time": "2024-10-21T10:02:11Z"}]}', source)


def test_the_registry_prefers_cloudtrail_over_the_generic_json_reader() -> None:
    from watchpost.readers.registry import sniff

    for path in (
        STRATUS / "aws.defense-evasion.cloudtrail-stop.json",
        FIXTURES / "cloudtrail_network_discovery.json",
    ):
        data = path.read_bytes()
        reader = sniff(Source(path.name, lambda data=data: io.BytesIO(data)))
        assert reader is not None and reader.name == "cloudtrail", path.name
