"""Logsource resolution: which events a rule may see, as one or more rule variants.

A Sigma rule names its log abstractly (``product``/``category``/``service``). Windows events all
carry the same reader hint (``product: windows``), so for Windows rules the log is pinned down by
conditions added to the rule itself: pySigma pipelines (`watchpost.rules.pipelines`) add the
``Channel``/``EventID`` (or ``Provider_Name``) condition and, for the Security log, rename the
Sysmon field names. A category that two logs record gives two variants:

============================  ===============================================================
Windows logsource             variants (label: what is added)
============================  ===============================================================
``service: <s>``              ``service:<s>``: Channel of ``<s>`` (see `windows_services`)
``category: process_creation``  ``sysmon``: Sysmon EventID 1; ``security-4688``: Security 4688,
                              fields renamed (see `security_audit`)
``category: process_termination``  ``sysmon`` (5) and ``security-4689``
other Sysmon categories       ``sysmon``: Sysmon channel + EventIDs (see `windows_categories`)
``ps_module``/``ps_script``   ``powershell``: PowerShell Operational channels + 4103/4104
``ps_classic_*``              ``powershell-classic``: ``Windows PowerShell`` + 400/600/800
``file_access``/``file_rename``  ``kernel-file``: ``Provider_Name`` Kernel-File ETW
``product: windows`` only     ``windows``: every Windows event, nothing added
============================  ===============================================================

A rule with both a category and a service keeps the category variants that read that service
(``process_creation`` + ``security`` -> only ``security-4688``); an unknown category with a known
service falls back to the service's channel. A category without a product that Windows records
(``category: process_creation``) gets the Windows variants plus a gate-only variant for other
readers. Unknown Windows services or categories raise `UnsupportedLogsource`.

Every other product (linux, aws, azure, okta...) and category-only logsources (proxy,
webserver, dns...) become one ``gate`` variant: the rule unchanged, matched against the readers'
hints by `LogsourceGate`. ``category: application`` next to a product is a folder label of the
taxonomy (for product-agnostic conversion), not a restriction, and is left out of the gate.

The added detection is named ``_logsource``; pySigma rewrites the rule's parsed conditions
(``rule.detection.parsed_condition[i].condition`` becomes ``_logsource and (<original>)``) but not
the raw ``rule.detection.condition`` strings, so compile from ``parsed_condition``.

Pipelines run on a deep copy of the rule (pySigma's ``ProcessingPipeline.apply`` changes the rule
in place); the loaded rule is never modified. Not thread-safe: pipelines keep per-call state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaLogSource, SigmaRule

from watchpost.rules.model import LogsourceGate
from watchpost.rules.pipelines.items import LOGSOURCE_DETECTION
from watchpost.rules.pipelines.security_audit import (
    SECURITY_AUDIT_EVENTS,
    security_audit_label,
    security_audit_pipeline,
)
from watchpost.rules.pipelines.windows_categories import (
    KERNEL_FILE_CATEGORIES,
    POWERSHELL_EVENTS,
    SYSMON_EVENT_IDS,
    kernel_file_pipeline,
    powershell_pipeline,
    sysmon_pipeline,
)
from watchpost.rules.pipelines.windows_services import WINDOWS_SERVICE_CHANNELS, service_pipeline

WINDOWS_GATE = LogsourceGate(product="windows")
FOLDER_CATEGORIES = frozenset({"application"})


class UnsupportedLogsource(ValueError):
    """A logsource no event log is known for; ``str(error)`` (and ``reason``) says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RuleVariant:
    """One way a rule can match: the events it may see (gate) and the rule to compile for them."""

    label: str
    gate: LogsourceGate
    rule: SigmaRule


@dataclass(frozen=True, slots=True)
class WindowsTarget:
    """A Windows log that records a category or service, and the pipeline that targets it."""

    label: str
    service: str | None  # the Sigma service of that log (None: an ETW provider, no channel)
    pipeline: Callable[[], ProcessingPipeline]


def windows_category_targets(category: str) -> list[WindowsTarget]:
    """The Windows logs that record ``category`` (empty when none is known)."""
    targets: list[WindowsTarget] = []
    if category in SYSMON_EVENT_IDS:
        targets.append(WindowsTarget("sysmon", "sysmon", lambda: sysmon_pipeline(category)))
    if category in SECURITY_AUDIT_EVENTS:
        label = security_audit_label(category)
        targets.append(WindowsTarget(label, "security", lambda: security_audit_pipeline(category)))
    if category in POWERSHELL_EVENTS:
        service = POWERSHELL_EVENTS[category][0]
        targets.append(WindowsTarget(service, service, lambda: powershell_pipeline(category)))
    if category in KERNEL_FILE_CATEGORIES:
        targets.append(WindowsTarget("kernel-file", None, lambda: kernel_file_pipeline(category)))
    return targets


def windows_service_target(service: str) -> WindowsTarget | None:
    if service not in WINDOWS_SERVICE_CHANNELS:
        return None
    return WindowsTarget(f"service:{service}", service, lambda: service_pipeline(service))


def resolve_variants(rule: SigmaRule) -> list[RuleVariant]:
    """The logsource variants of ``rule``; raises `UnsupportedLogsource` when none can be made."""
    logsource = rule.logsource
    product = _term(logsource.product)
    category = _term(logsource.category)
    service = _term(logsource.service)
    if product == "windows":
        return windows_variants(rule, category, service)
    if product is None and category is not None and windows_category_targets(category):
        gate = LogsourceGate(category=category, service=service)
        return [*windows_variants(rule, category, service), RuleVariant("gate", gate, rule)]
    if product is not None and category in FOLDER_CATEGORIES:
        category = None
    return [RuleVariant("gate", LogsourceGate(product, service, category), rule)]


def windows_variants(rule: SigmaRule, category: str | None, service: str | None) -> list[RuleVariant]:
    """Variants of a rule read as a Windows rule with the given (lower-case) terms."""
    targets = select_windows_targets(category, service)
    normalized = SigmaLogSource(category=category, product="windows", service=service)
    if not targets:  # product: windows alone: every Windows event
        variant = copy_rule(rule)
        variant.logsource = normalized
        return [RuleVariant("windows", WINDOWS_GATE, variant)]
    return [
        RuleVariant(target.label, WINDOWS_GATE, apply_pipeline(rule, normalized, target))
        for target in targets
    ]


def select_windows_targets(category: str | None, service: str | None) -> list[WindowsTarget]:
    service_target = windows_service_target(service) if service is not None else None
    if category is not None:
        targets = windows_category_targets(category)
        if service is not None and targets:
            targets = [target for target in targets if target.service == service]
            if not targets:
                raise UnsupportedLogsource(
                    f"Windows category '{category}' is not recorded by service '{service}'"
                )
        if targets:
            return targets
        if service_target is None:
            raise UnsupportedLogsource(f"Windows category '{category}' has no known event log")
        return [service_target]
    if service is not None:
        if service_target is None:
            raise UnsupportedLogsource(f"Windows service '{service}' has no known event log channel")
        return [service_target]
    return []


def apply_pipeline(rule: SigmaRule, logsource: SigmaLogSource, target: WindowsTarget) -> SigmaRule:
    """A copy of ``rule`` with ``target``'s pipeline applied."""
    variant = copy_rule(rule)
    variant.logsource = logsource
    try:
        target.pipeline().apply(variant)
    except SigmaError as error:
        raise UnsupportedLogsource(f"{target.label}: {error}") from error
    if LOGSOURCE_DETECTION not in variant.detection.detections:
        raise UnsupportedLogsource(f"{target.label}: the logsource pipeline did not apply")
    return variant


def copy_rule(rule: SigmaRule) -> SigmaRule:
    """A deep copy of ``rule`` for a pipeline to change.

    Left out of the copy: the correlations referring to the rule (``_backreferences`` would drag
    them and every rule they refer to along; a variant is never referred to) and the value objects
    (``SigmaString``, ``SigmaNumber``...), which are shared. pySigma's transformations replace
    values instead of changing them, so sharing them is safe and halves the copying time; code
    that compiles variants must not change values in place either.
    """
    memo: dict[int, object] = {id(rule._backreferences): []}
    if rule.source is not None:
        memo[id(rule.source)] = rule.source
    pending = list(rule.detection.detections.values())
    while pending:
        detection = pending.pop()
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                pending.append(item)
                continue
            for value in (*item.value, *(item.original_value or ())):
                memo[id(value)] = value
    return copy.deepcopy(rule, memo)


def _term(value: str | None) -> str | None:
    return value.strip().lower() if value else None
