"""Logsource variants: Windows pipelines add Channel/EventID conditions, other products gate."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.conditions import ConditionAND, ConditionOR
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from watchpost.rules.logsources import RuleVariant, UnsupportedLogsource, resolve_variants
from watchpost.rules.model import LogsourceGate
from watchpost.rules.pipelines.items import LOGSOURCE_DETECTION
from watchpost.rules.pipelines.security_audit import SECURITY_AUDIT_EVENTS
from watchpost.rules.pipelines.windows_categories import (
    KERNEL_FILE_CATEGORIES,
    POWERSHELL_EVENTS,
    SYSMON_EVENT_IDS,
)
from watchpost.rules.pipelines.windows_services import WINDOWS_SERVICE_CHANNELS

WINDOWS = LogsourceGate(product="windows")


def make_rule(
    logsource: dict[str, str], selection: dict[str, Any] | None = None, condition: str = "sel"
) -> SigmaRule:
    document = {
        "title": "test rule",
        "logsource": logsource,
        "detection": {"sel": selection or {"CommandLine|contains": "net use"}, "condition": condition},
    }
    return SigmaRule.from_dict(document)


def items_of(detection: SigmaDetection) -> list[SigmaDetectionItem]:
    found: list[SigmaDetectionItem] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found.extend(items_of(item))
        else:
            found.append(item)
    return found


def added_conditions(variant: RuleVariant) -> dict[str | None, list[str]]:
    detection = variant.rule.detection.detections[LOGSOURCE_DETECTION]
    return {item.field: [str(value) for value in item.value] for item in items_of(detection)}


def fields_of(rule: SigmaRule, name: str = "sel") -> dict[str | None, list[str]]:
    return {item.field: [str(v) for v in item.value] for item in items_of(rule.detection.detections[name])}


def by_label(variants: list[RuleVariant]) -> dict[str, RuleVariant]:
    return {variant.label: variant for variant in variants}


def test_service_rule_gets_its_channel_condition() -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "service": "security"}))
    assert variant.label == "service:security"
    assert variant.gate == WINDOWS
    assert added_conditions(variant) == {"Channel": ["Security"]}
    assert "_logsource and (" in variant.rule.detection.parsed_condition[0].condition


def test_service_with_several_channels_lists_them_all() -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "service": "applocker"}))
    channels = added_conditions(variant)["Channel"]
    assert len(channels) == 4
    assert all(channel.startswith("Microsoft-Windows-AppLocker/") for channel in channels)


@pytest.mark.parametrize("service", sorted(WINDOWS_SERVICE_CHANNELS))
def test_every_windows_service_resolves_to_its_channels(service: str) -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "service": service}))
    assert added_conditions(variant) == {"Channel": list(WINDOWS_SERVICE_CHANNELS[service])}


@pytest.mark.parametrize("category", sorted(SYSMON_EVENT_IDS))
def test_every_sysmon_category_reads_the_sysmon_channel(category: str) -> None:
    variants = by_label(resolve_variants(make_rule({"product": "windows", "category": category})))
    conditions = added_conditions(variants["sysmon"])
    assert conditions["Channel"] == ["Microsoft-Windows-Sysmon/Operational"]
    assert conditions["EventID"] == [str(event_id) for event_id in SYSMON_EVENT_IDS[category]]
    assert variants["sysmon"].rule.logsource.service == "sysmon"


def test_process_creation_has_sysmon_and_security_variants() -> None:
    rule = make_rule(
        {"product": "windows", "category": "process_creation"},
        {
            "Image|endswith": "\\net.exe",
            "ParentImage|endswith": "\\cmd.exe",
            "CommandLine|contains": " use",
            "User|contains": "AUTHORI",
            "LogonId": "0x3e7",
            "IntegrityLevel": ["High", "S-1-16-16384"],
            "OriginalFileName": "net.exe",
        },
    )
    variants = by_label(resolve_variants(rule))
    assert sorted(variants) == ["security-4688", "sysmon"]
    assert added_conditions(variants["sysmon"]) == {
        "Channel": ["Microsoft-Windows-Sysmon/Operational"],
        "EventID": ["1"],
    }
    security = variants["security-4688"]
    assert added_conditions(security) == {"Channel": ["Security"], "EventID": ["4688"]}
    assert fields_of(security.rule) == {
        "NewProcessName": ["*\\net.exe"],
        "ParentProcessName": ["*\\cmd.exe"],
        "CommandLine": ["* use*"],
        "SubjectUserName": ["*AUTHORI*"],
        "SubjectLogonId": ["0x3e7"],
        "MandatoryLabel": ["S-1-16-12288", "S-1-16-16384"],
        "OriginalFileName": ["net.exe"],
    }
    assert security.gate == WINDOWS and variants["sysmon"].gate == WINDOWS


def test_security_variant_writes_process_ids_in_hex() -> None:
    rule = make_rule(
        {"product": "windows", "category": "process_creation"},
        {"ProcessId": 6528, "ParentProcessId": "588"},
    )
    security = by_label(resolve_variants(rule))["security-4688"]
    assert fields_of(security.rule) == {"NewProcessId": ["0x1980"], "ProcessId": ["0x24c"]}


def test_pipelines_work_on_copies() -> None:
    rule = make_rule({"product": "windows", "category": "process_creation"}, {"Image|endswith": "\\net.exe"})
    resolve_variants(rule)
    assert list(rule.detection.detections) == ["sel"]
    assert fields_of(rule) == {"Image": ["*\\net.exe"]}
    assert rule.logsource.service is None
    assert rule.detection.parsed_condition[0].condition == "sel"


def test_process_termination_reads_sysmon_5_and_security_4689() -> None:
    variants = by_label(
        resolve_variants(make_rule({"product": "windows", "category": "process_termination"}, {"Image": "x"}))
    )
    assert added_conditions(variants["sysmon"])["EventID"] == ["5"]
    assert added_conditions(variants["security-4689"]) == {"Channel": ["Security"], "EventID": ["4689"]}
    assert fields_of(variants["security-4689"].rule) == {"ProcessName": ["x"]}


def test_ps_script_reads_4104_on_both_powershell_channels() -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "category": "ps_script"}))
    assert variant.label == "powershell"
    assert added_conditions(variant) == {
        "Channel": ["Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"],
        "EventID": ["4104"],
    }


@pytest.mark.parametrize("category", sorted(POWERSHELL_EVENTS))
def test_every_powershell_category_has_its_event_id(category: str) -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "category": category}))
    service, event_id = POWERSHELL_EVENTS[category]
    assert added_conditions(variant) == {
        "Channel": list(WINDOWS_SERVICE_CHANNELS[service]),
        "EventID": [str(event_id)],
    }


@pytest.mark.parametrize("category", sorted(KERNEL_FILE_CATEGORIES))
def test_kernel_file_categories_condition_on_the_etw_provider(category: str) -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows", "category": category}))
    assert added_conditions(variant) == {"Provider_Name": ["Microsoft-Windows-Kernel-File"]}


def test_security_audit_categories_are_also_sysmon_categories() -> None:
    assert set(SECURITY_AUDIT_EVENTS) <= set(SYSMON_EVENT_IDS)


def test_added_condition_is_not_part_of_one_of_them() -> None:
    document = {
        "title": "two selections",
        "logsource": {"product": "windows", "service": "system"},
        "detection": {"sel1": {"EventID": 7045}, "sel2": {"EventID": 7036}, "condition": "1 of them"},
    }
    (variant,) = resolve_variants(SigmaRule.from_dict(document))
    parsed = variant.rule.detection.parsed_condition[0].parsed
    assert isinstance(parsed, ConditionAND)
    logsource_part, original_part = parsed.args
    assert isinstance(original_part, ConditionOR)
    assert len(original_part.args) == 2  # sel1 and sel2, not the added _logsource


def test_windows_product_alone_admits_every_windows_event_unchanged() -> None:
    (variant,) = resolve_variants(make_rule({"product": "windows"}))
    assert variant.label == "windows"
    assert variant.gate == WINDOWS
    assert LOGSOURCE_DETECTION not in variant.rule.detection.detections


def test_category_with_service_keeps_the_matching_variant() -> None:
    rule = make_rule({"product": "windows", "category": "process_creation", "service": "security"})
    assert [variant.label for variant in resolve_variants(rule)] == ["security-4688"]


def test_unknown_category_with_known_service_falls_back_to_the_channel() -> None:
    rule = make_rule({"product": "windows", "category": "custom_thing", "service": "system"})
    (variant,) = resolve_variants(rule)
    assert added_conditions(variant) == {"Channel": ["System"]}


@pytest.mark.parametrize(
    ("logsource", "reason"),
    [
        ({"product": "windows", "service": "no-such-service"}, "no-such-service"),
        ({"product": "windows", "category": "no_such_category"}, "no_such_category"),
        ({"product": "windows", "category": "image_load", "service": "security"}, "image_load"),
    ],
)
def test_unmappable_windows_logsources_raise(logsource: dict[str, str], reason: str) -> None:
    with pytest.raises(UnsupportedLogsource) as raised:
        resolve_variants(make_rule(logsource))
    assert reason in str(raised.value)
    assert raised.value.reason == str(raised.value)


@pytest.mark.parametrize(
    ("logsource", "gate"),
    [
        ({"product": "linux", "service": "auditd"}, LogsourceGate("linux", "auditd", None)),
        (
            {"product": "linux", "category": "process_creation"},
            LogsourceGate("linux", None, "process_creation"),
        ),
        ({"product": "aws", "service": "cloudtrail"}, LogsourceGate("aws", "cloudtrail", None)),
        ({"category": "proxy"}, LogsourceGate(None, None, "proxy")),
        ({"service": "apache"}, LogsourceGate(None, "apache", None)),
        (
            {"product": "kubernetes", "service": "audit", "category": "application"},
            LogsourceGate("kubernetes", "audit", None),
        ),
        ({"product": "Okta", "service": "okta"}, LogsourceGate("okta", "okta", None)),
    ],
)
def test_other_products_map_to_a_gate_only(logsource: dict[str, str], gate: LogsourceGate) -> None:
    rule = make_rule(logsource)
    (variant,) = resolve_variants(rule)
    assert variant.label == "gate"
    assert variant.gate == gate
    assert variant.rule is rule


def test_category_without_product_gets_windows_variants_and_a_gate() -> None:
    variants = by_label(resolve_variants(make_rule({"category": "process_creation"})))
    assert sorted(variants) == ["gate", "security-4688", "sysmon"]
    assert variants["gate"].gate == LogsourceGate(None, None, "process_creation")
    assert added_conditions(variants["sysmon"])["EventID"] == ["1"]


def test_logsource_terms_compare_case_insensitively() -> None:
    (variant,) = resolve_variants(make_rule({"product": "Windows", "service": "Security"}))
    assert added_conditions(variant) == {"Channel": ["Security"]}
