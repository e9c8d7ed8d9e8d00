"""Windows ``service`` -> event log ``Channel``, as the SigmaHQ taxonomy appendix defines it.

Sources: the taxonomy appendix of the Sigma specification (Windows folder, services) and the
services SigmaHQ rules use. Where the appendix names something that is not a channel, the table
also holds the channel Windows writes:

- ``kernel-shimengine``: the appendix writes ``WinEventLog:...ShimEngine/Diagnostic`` (a Splunk
  source prefix); the channel is ``Microsoft-Windows-Kernel-ShimEngine/Diagnostic``.
- ``hyper-v-worker`` and ``kernel-event-tracing``: the appendix gives the provider name; the
  channels are ``...-Hyper-V-Worker-Admin`` and ``...-Kernel-EventTracing/Admin``. Both spellings
  are kept.
- ``smbclient-connectivity`` and ``smbserver-connectivity`` are used by SigmaHQ rules but not (yet)
  listed in the appendix; they read the SMB client/server ``Connectivity`` channels.
- ``powershell`` also covers PowerShell 7 (``PowerShellCore/Operational``), which writes the same
  events; ``ldap_debug`` and ``microsoft-servicebus-client`` are legacy names still in rules.

Channel values compare case-insensitively (Sigma string equality), so ``security`` matches too.

**Which ``Channel`` a detection reads (docs/rule-pack.md, "UserData and the System 104 Channel").**
The pipeline's own condition reads the System ``Channel`` (the log the event is in). In the
detection of a ``service: system`` rule, ``Channel`` is the channel the event is *about*: the log
an Eventlog 104 says was cleared, ``UserData/LogFileCleared/Channel`` (the reader keeps it as
``UserData.Channel``). The only SigmaHQ rules that name ``Channel`` in a detection are the two 104
rules, and both list cleared logs; with the System value their lists could never hold.
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

from watchpost.rules.pipelines.items import WindowsLogsource, add_condition_item

_APPLOCKER = (
    "Microsoft-Windows-AppLocker/MSI and Script",
    "Microsoft-Windows-AppLocker/EXE and DLL",
    "Microsoft-Windows-AppLocker/Packaged app-Deployment",
    "Microsoft-Windows-AppLocker/Packaged app-Execution",
)
_SERVICEBUS = ("Microsoft-ServiceBus-Client/Operational", "Microsoft-ServiceBus-Client/Admin")
_LDAP = ("Microsoft-Windows-LDAP-Client/Debug",)

WINDOWS_SERVICE_CHANNELS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "application": ("Application",),
        "application-experience": (
            "Microsoft-Windows-Application-Experience/Program-Telemetry",
            "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
        ),
        "applocker": _APPLOCKER,
        "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
        "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
        "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
        "bitlocker": ("Microsoft-Windows-BitLocker/BitLocker Management",),
        "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
        "capi2": ("Microsoft-Windows-CAPI2/Operational",),
        "certificateservicesclient-lifecycle-system": (
            "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
        ),
        "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
        "dhcp": ("Microsoft-Windows-DHCP-Server/Operational",),
        "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
        "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
        "dns-server": ("DNS Server",),
        "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
        "dns-server-audit": ("Microsoft-Windows-DNS-Server/Audit",),
        "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
        "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
        "hyper-v-worker": (
            "Microsoft-Windows-Hyper-V-Worker",
            "Microsoft-Windows-Hyper-V-Worker-Admin",
        ),
        "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
        "kernel-event-tracing": (
            "Microsoft-Windows-Kernel-EventTracing",
            "Microsoft-Windows-Kernel-EventTracing/Admin",
        ),
        "kernel-shimengine": (
            "Microsoft-Windows-Kernel-ShimEngine/Operational",
            "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        ),
        "ldap": _LDAP,
        "ldap_debug": _LDAP,
        "lsa-server": ("Microsoft-Windows-LSA/Operational",),
        "microsoft-servicebus-client": _SERVICEBUS,
        "msexchange-management": ("MSExchange Management",),
        "ntfs": ("Microsoft-Windows-Ntfs/Operational",),
        "ntlm": ("Microsoft-Windows-NTLM/Operational",),
        "openssh": ("OpenSSH/Operational",),
        "powershell": ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"),
        "powershell-classic": ("Windows PowerShell",),
        "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
        "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
        "security": ("Security",),
        "security-mitigations": (
            "Microsoft-Windows-Security-Mitigations/Kernel Mode",
            "Microsoft-Windows-Security-Mitigations/User Mode",
        ),
        "sense": ("Microsoft-Windows-SENSE/Operational",),
        "servicebus-client": _SERVICEBUS,
        "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
        "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
        "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
        "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
        "sysmon": ("Microsoft-Windows-Sysmon/Operational",),
        "system": ("System",),
        "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
        "terminalservices-localsessionmanager": (
            "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        ),
        "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
        "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
        "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    }
)


CHANNEL_SUBJECT_SERVICES = frozenset({"system"})
"""Services whose rules' detections read ``Channel`` as the channel the event is about."""
USER_DATA_CHANNEL = "UserData.Channel"


def channel_condition(channels: tuple[str, ...]) -> str | list[str]:
    """A Channel value for `add_condition_item`: the name, or the list of alternatives."""
    return channels[0] if len(channels) == 1 else list(channels)


@cache
def service_pipeline(service: str) -> ProcessingPipeline:
    """The pipeline that restricts a ``product: windows, service: <service>`` rule to its channel.

    Raises KeyError for a service the table does not know.
    """
    channels = WINDOWS_SERVICE_CHANNELS[service]
    logsource = WindowsLogsource(service=service)
    subject: list[ProcessingItem] = []
    if service in CHANNEL_SUBJECT_SERVICES:
        subject.append(ProcessingItem(  # before the condition below, which must keep reading Channel
            identifier=f"windows_service_{service}_channel_subject",
            transformation=FieldMappingTransformation({"Channel": USER_DATA_CHANNEL}),
            rule_conditions=[logsource.condition()],
        ))
    return ProcessingPipeline(
        name=f"Windows service {service} -> Channel",
        items=[
            *subject,
            add_condition_item(
                f"windows_service_{service}_channel",
                logsource,
                {"Channel": channel_condition(channels)},
            )
        ],
    )
