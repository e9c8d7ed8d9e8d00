"""SigmaHQ cloud rules through the whole engine: Stratus Red Team detonations and own fixtures."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import pytest

import watchpost.hunting.engine as engine

SHARED = Path(__file__).resolve().parents[3] / "shared"
STRATUS = SHARED / "samples" / "cloud" / "aws" / "stratus-red-team"
CLOUD_RULES = SHARED / "sigma" / "rules" / "cloud"
AWS = CLOUD_RULES / "aws" / "cloudtrail"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cloud"


def alerts(paths: list[Path], rules: list[Path]) -> list[tuple[str, str]]:
    """(rule id, origin of the first event) of every alert."""
    return [(a.rule.id, a.events[0].origin.describe()) for a in engine.hunt(paths, rules=rules)]


@pytest.mark.parametrize(
    ("detonation", "rule", "rule_id"),
    [
        (
            "aws.defense-evasion.cloudtrail-stop.json",
            "aws_cloudtrail_disable_logging.yml",
            "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        ),
        (
            "aws.defense-evasion.cloudtrail-delete.json",
            "aws_cloudtrail_disable_logging.yml",
            "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        ),
        (
            "aws.defense-evasion.vpc-remove-flow-logs.json",
            "aws_cloudtrail_vpc_flow_logs_deleted.yml",
            "e386b9b5-af12-450e-afff-761730fb8a98",
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "aws_snapshot_backup_exfiltration.yml",
            "abae8fec-57bd-4f87-aff6-6e3db989843d",
        ),
        (
            "aws.initial-access.console-login-without-mfa.json",
            "aws_cloudtrail_console_login_success_without_mfa.yml",
            "77caf516-34e5-4df9-b4db-20744fea0a60",
        ),
    ],
)
def test_aws_rule_fires_on_the_detonation_it_was_written_for(
    detonation: str, rule: str, rule_id: str
) -> None:
    path = STRATUS / detonation
    assert alerts([path], [AWS / rule]) == [(rule_id, f"{path}:element 1")]


def test_cloudtrail_logging_stopped_fires_only_on_its_detonations() -> None:
    found = alerts([STRATUS], [AWS / "aws_cloudtrail_disable_logging.yml"])
    assert sorted(origin.rsplit("/", 1)[1] for _, origin in found) == [
        "aws.defense-evasion.cloudtrail-delete.json:element 1",
        "aws.defense-evasion.cloudtrail-stop.json:element 1",
    ]


def test_gzip_and_zip_deliveries_go_through_the_archive_layer(tmp_path: Path) -> None:
    stop = STRATUS / "aws.defense-evasion.cloudtrail-stop.json"
    delivered = tmp_path / "143434273843_CloudTrail_us-east-1_20240731T1305Z_x.json.gz"
    delivered.write_bytes(gzip.compress(b'{"Records":' + stop.read_bytes() + b"}"))
    bundle = tmp_path / "trails.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(stop, "AWSLogs/stop.json")
    shutil.copy(stop, tmp_path / "plain.json")
    found = alerts([tmp_path], [AWS / "aws_cloudtrail_disable_logging.yml"])
    assert sorted(origin.removeprefix(f"{tmp_path}/") for _, origin in found) == [
        "143434273843_CloudTrail_us-east-1_20240731T1305Z_x.json.gz:element 1",
        "plain.json:element 1",
        "trails.zip!AWSLogs/stop.json:element 1",
    ]


def test_azure_network_security_rule_fires_on_both_export_forms() -> None:
    rule = CLOUD_RULES / "azure" / "activity_logs" / "azure_network_security_modified_or_deleted.yml"
    found = alerts([FIXTURES / "azure_activity_nsg.json", FIXTURES / "azure_activity_rest.json"], [rule])
    assert sorted(origin.rsplit("/", 1)[1] for _, origin in found) == [
        "azure_activity_nsg.json:element 2",  # the securityRules/write start and success records
        "azure_activity_nsg.json:element 3",
        "azure_activity_rest.json:element 1",  # the delete, operationName from {"value": ...}
    ]
    assert {rule_id for rule_id, _ in found} == {"d22b4df4-5a67-4859-a578-8c9a0b5af9df"}


def test_gcp_rules_fire_with_either_field_spelling() -> None:
    firewall = CLOUD_RULES / "gcp" / "audit" / "gcp_firewall_rule_modified_or_deleted.yml"  # gcp.audit.*
    policy = CLOUD_RULES / "gcp" / "audit" / "gcp_access_policy_deleted.yml"  # data.protoPayload.*
    found = alerts([FIXTURES / "gcp_audit_firewall.jsonl"], [firewall, policy])
    assert sorted((rule_id, origin.rsplit("/", 1)[1]) for rule_id, origin in found) == [
        ("32438676-1dba-4ac7-bf69-b86cba995e05", "gcp_audit_firewall.jsonl:line 3"),
        ("fe513c69-734c-4d4a-8548-ac5f609be82b", "gcp_audit_firewall.jsonl:line 2"),
    ]
