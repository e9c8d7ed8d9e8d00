"""Windows ``category`` -> the event log and EventIDs that record it (SigmaHQ taxonomy).

Three families, each a table and a pipeline builder:

- Sysmon (``Microsoft-Windows-Sysmon/Operational``): the generic categories, by Sysmon EventID.
  ``registry_add`` and ``registry_delete`` both read EventID 12 (Sysmon's "object added or
  deleted"), as the taxonomy says; rules tell the two apart with their own ``EventType``.
  ``file_delete`` reads 23 (archived) and 26 (logged only), ``file_delete_detected`` only 26.
- PowerShell: ``ps_module`` 4103 and ``ps_script`` 4104 on the PowerShell Operational channels
  (Windows PowerShell 5 and PowerShell 7), the ``ps_classic_*`` categories on the classic
  ``Windows PowerShell`` log (400, 600, 800).
- Kernel-File ETW (``file_access``, ``file_rename``): the taxonomy names only the ETW provider
  ``Microsoft-Windows-Kernel-File``, no channel, so the condition is on ``Provider_Name``.
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType

from sigma.processing.pipeline import ProcessingPipeline

from watchpost.rules.pipelines.items import (
    ConditionValue,
    WindowsLogsource,
    add_condition_item,
    change_logsource_item,
)
from watchpost.rules.pipelines.windows_services import WINDOWS_SERVICE_CHANNELS, channel_condition

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

SYSMON_EVENT_IDS: MappingProxyType[str, tuple[int, ...]] = MappingProxyType(
    {
        "process_creation": (1,),
        "file_change": (2,),
        "network_connection": (3,),
        "sysmon_status": (4, 16),
        "process_termination": (5,),
        "driver_load": (6,),
        "image_load": (7,),
        "create_remote_thread": (8,),
        "raw_access_thread": (9,),
        "process_access": (10,),
        "file_event": (11,),
        "registry_add": (12,),
        "registry_delete": (12,),
        "registry_set": (13,),
        "registry_rename": (14,),
        "registry_event": (12, 13, 14),
        "create_stream_hash": (15,),
        "pipe_created": (17, 18),
        "wmi_event": (19, 20, 21),
        "dns_query": (22,),
        "file_delete": (23, 26),
        "clipboard_capture": (24,),
        "process_tampering": (25,),
        "file_delete_detected": (26,),
        "file_block_executable": (27,),
        "file_block_shredding": (28,),
        "file_executable_detected": (29,),
        "sysmon_error": (255,),
    }
)

POWERSHELL_EVENTS: MappingProxyType[str, tuple[str, int]] = MappingProxyType(
    {  # category -> (Sigma service of the log, EventID)
        "ps_module": ("powershell", 4103),
        "ps_script": ("powershell", 4104),
        "ps_classic_start": ("powershell-classic", 400),
        "ps_classic_provider_start": ("powershell-classic", 600),
        "ps_classic_script": ("powershell-classic", 800),
    }
)

KERNEL_FILE_PROVIDER = "Microsoft-Windows-Kernel-File"
KERNEL_FILE_CATEGORIES = frozenset({"file_access", "file_rename"})


def _category_pipeline(
    family: str,
    category: str,
    conditions: dict[str, ConditionValue],
    service: str | None,
) -> ProcessingPipeline:
    logsource = WindowsLogsource(category=category)
    return ProcessingPipeline(
        name=f"Windows {category} -> {family}",
        items=[
            add_condition_item(f"{family}_{category}_events", logsource, conditions),
            change_logsource_item(
                f"{family}_{category}_logsource", logsource, category=category, service=service
            ),
        ],
    )


@cache
def sysmon_pipeline(category: str) -> ProcessingPipeline:
    """Sysmon channel and EventIDs of ``category`` (KeyError when Sysmon does not log it)."""
    event_ids = SYSMON_EVENT_IDS[category]
    conditions: dict[str, ConditionValue] = {
        "Channel": SYSMON_CHANNEL,
        "EventID": event_ids[0] if len(event_ids) == 1 else list(event_ids),
    }
    return _category_pipeline("sysmon", category, conditions, "sysmon")


@cache
def powershell_pipeline(category: str) -> ProcessingPipeline:
    """PowerShell channel(s) and EventID of a ``ps_*`` category (KeyError for others)."""
    service, event_id = POWERSHELL_EVENTS[category]
    conditions: dict[str, ConditionValue] = {
        "Channel": channel_condition(WINDOWS_SERVICE_CHANNELS[service]),
        "EventID": event_id,
    }
    return _category_pipeline(service, category, conditions, service)


@cache
def kernel_file_pipeline(category: str) -> ProcessingPipeline:
    """The Kernel-File ETW provider condition of ``file_access``/``file_rename``."""
    if category not in KERNEL_FILE_CATEGORIES:
        raise KeyError(category)
    conditions: dict[str, ConditionValue] = {"Provider_Name": KERNEL_FILE_PROVIDER}
    return _category_pipeline("kernel_file", category, conditions, None)
