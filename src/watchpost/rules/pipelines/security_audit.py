"""Generic Windows categories on the Security audit log, with Sysmon field names renamed.

Only categories whose Security event carries the same facts under other names are mapped:

- ``process_creation`` -> 4688 (Audit Process Creation);
- ``process_termination`` -> 4689 (Audit Process Termination).

Not mapped, on purpose: ``registry_*`` -> 4657 (the key and value name are split over
``ObjectName``/``ObjectValueName`` and keys are spelled ``\\REGISTRY\\MACHINE``, so Sysmon's
``TargetObject`` conditions would silently mean something else), ``file_*`` -> 4663 (an access
attempt, not a file creation) and ``network_connection`` -> 5156 (``Application`` is an NT device
path and the direction/address fields have other semantics). Those categories read Sysmon only.

4688 field decisions (Sysmon name -> 4688 name):

- ``Image`` -> ``NewProcessName``, ``ParentImage`` -> ``ParentProcessName``; ``CommandLine``
  keeps its name (4688 has it when command-line auditing is on).
- ``ProcessId`` -> ``NewProcessId`` and ``ParentProcessId`` -> ``ProcessId`` (the creator); 4688
  writes process ids in hex (``0x1980``), so decimal rule values are rewritten to that form.
- ``User`` -> ``SubjectUserName``: the account that created the process, which is the account
  the new process runs as unless a different token was used. ``TargetUserName`` is ``-`` in most
  4688 events (it is filled only when the new process gets another account), so mapping ``User``
  there would make ``User`` conditions almost never match. Caveat: Sysmon writes
  ``DOMAIN\\name`` and 4688 only ``name``, so ``User|contains: AUTHORI`` style conditions that
  look at the domain part do not match on 4688.
- ``LogonId`` -> ``SubjectLogonId`` (same ``0x3e7`` form).
- ``IntegrityLevel`` -> ``MandatoryLabel``, with Sysmon's level names rewritten to the integrity
  SIDs 4688 writes (``High`` -> ``S-1-16-12288``...). SigmaHQ rules often list both forms.
- Fields 4688 does not have (``OriginalFileName``, ``Hashes``, ``Product``, ``Company``,
  ``Description``, ``ParentCommandLine``, ``CurrentDirectory``...) keep their names and so never
  match on 4688 events.

4689: ``Image`` -> ``ProcessName``, ``ProcessId`` (hex), ``User`` -> ``SubjectUserName``,
``LogonId`` -> ``SubjectLogonId``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from sigma.processing.conditions import IncludeFieldCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, MapStringTransformation
from sigma.processing.transformations.base import ValueTransformation
from sigma.types import SigmaNumber, SigmaString, SigmaType

from watchpost.rules.pipelines.items import (
    WindowsLogsource,
    add_condition_item,
    change_logsource_item,
)

SECURITY_CHANNEL = "Security"

INTEGRITY_LEVEL_SIDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "Untrusted": "S-1-16-0",
        "Low": "S-1-16-4096",
        "Medium": "S-1-16-8192",
        "MediumPlus": "S-1-16-8448",
        "Medium Plus": "S-1-16-8448",
        "High": "S-1-16-12288",
        "System": "S-1-16-16384",
        "Protected": "S-1-16-20480",
    }
)


@dataclass(frozen=True)
class AuditEvent:
    """A Security audit event that records a generic category, and its field renaming."""

    event_id: int
    fields: MappingProxyType[str, str]
    hex_fields: tuple[str, ...]  # Sysmon field names whose values the event writes in hex
    integrity_field: str | None = None  # Sysmon field whose level names become SIDs


SECURITY_AUDIT_EVENTS: MappingProxyType[str, AuditEvent] = MappingProxyType(
    {
        "process_creation": AuditEvent(
            4688,
            MappingProxyType(
                {
                    "Image": "NewProcessName",
                    "ParentImage": "ParentProcessName",
                    "ProcessId": "NewProcessId",
                    "ParentProcessId": "ProcessId",
                    "User": "SubjectUserName",
                    "LogonId": "SubjectLogonId",
                    "IntegrityLevel": "MandatoryLabel",
                }
            ),
            hex_fields=("ProcessId", "ParentProcessId"),
            integrity_field="IntegrityLevel",
        ),
        "process_termination": AuditEvent(
            4689,
            MappingProxyType(
                {
                    "Image": "ProcessName",
                    "User": "SubjectUserName",
                    "LogonId": "SubjectLogonId",
                }
            ),
            hex_fields=("ProcessId",),
        ),
    }
)


@dataclass
class HexNumberTransformation(ValueTransformation):
    """Rewrite decimal numbers (numeric or plain digit strings) to the ``0x...`` form."""

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if isinstance(val, SigmaNumber) and isinstance(val.number, int) and val.number >= 0:
            return SigmaString(hex(val.number))
        if isinstance(val, SigmaString) and not val.contains_special():
            text = val.to_plain()
            if text.isascii() and text.isdigit():
                return SigmaString(hex(int(text)))
        return None


def _value_items(category: str, event: AuditEvent, logsource: WindowsLogsource) -> list[ProcessingItem]:
    items = [
        ProcessingItem(
            identifier=f"security_{category}_hex_ids",
            transformation=HexNumberTransformation(),
            rule_conditions=[logsource.condition()],
            field_name_conditions=[IncludeFieldCondition(fields=list(event.hex_fields))],
        )
    ]
    if event.integrity_field is not None:
        items.append(
            ProcessingItem(
                identifier=f"security_{category}_integrity_sids",
                transformation=MapStringTransformation(dict(INTEGRITY_LEVEL_SIDS)),
                rule_conditions=[logsource.condition()],
                field_name_conditions=[IncludeFieldCondition(fields=[event.integrity_field])],
            )
        )
    return items


@cache
def security_audit_pipeline(category: str) -> ProcessingPipeline:
    """The Security-log pipeline of ``category`` (KeyError when no audit event records it)."""
    event = SECURITY_AUDIT_EVENTS[category]
    logsource = WindowsLogsource(category=category)
    return ProcessingPipeline(
        name=f"Windows {category} -> Security {event.event_id}",
        items=[
            *_value_items(category, event, logsource),
            ProcessingItem(
                identifier=f"security_{category}_fields",
                transformation=FieldMappingTransformation(field_mapping(event)),
                rule_conditions=[logsource.condition()],
            ),
            add_condition_item(
                f"security_{category}_events",
                logsource,
                {"Channel": SECURITY_CHANNEL, "EventID": event.event_id},
            ),
            change_logsource_item(
                f"security_{category}_logsource", logsource, category=category, service="security"
            ),
        ],
    )


def field_mapping(event: AuditEvent) -> dict[str | None, str | list[str]]:
    return {source: target for source, target in event.fields.items()}


def security_audit_label(category: str) -> str:
    """The variant label of ``category`` on the Security log, e.g. ``security-4688``."""
    return f"security-{SECURITY_AUDIT_EVENTS[category].event_id}"
