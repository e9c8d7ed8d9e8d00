"""What the simulated Windows hosts are made of: accounts, processes, image metadata, XML text.

Shared by `watchpost.simulation.windows_events` (the host and its event renderers) and the
scenario and background builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SECURITY_PROVIDER = (
    '<Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-A5BA-3E3B0328C30D}" />'
)
SYSMON_PROVIDER = '<Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}" />'
POWERSHELL_PROVIDER = (
    '<Provider Name="Microsoft-Windows-PowerShell" Guid="{a0c1853b-5c40-4b15-8766-3cf1c58f985a}" />'
)
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL_CHANNEL = "Microsoft-Windows-PowerShell/Operational"
SYSTEM32 = "C:\\Windows\\System32\\"
POWERSHELL_EXE = SYSTEM32 + "WindowsPowerShell\\v1.0\\powershell.exe"

INTEGRITY_SIDS = {
    "Low": "S-1-16-4096",
    "Medium": "S-1-16-8192",
    "High": "S-1-16-12288",
    "System": "S-1-16-16384",
}
ELEVATION = {"High": "%%1936", "Medium": "%%1938", "System": "%%1936", "Low": "%%1938"}

IMAGES: dict[str, tuple[str, str, str]] = {
    # file name (as on disk) -> (OriginalFileName, Description, Product)
    "NETSTAT.EXE": ("netstat.exe", "TCP/IP Netstat Command", "Microsoft® Windows® Operating System"),
    "net.exe": ("net.exe", "Net Command", "Microsoft® Windows® Operating System"),
    "net1.exe": ("net1.exe", "Net Command", "Microsoft® Windows® Operating System"),
    "cmd.exe": ("Cmd.Exe", "Windows Command Processor", "Microsoft® Windows® Operating System"),
    "powershell.exe": ("PowerShell.EXE", "Windows PowerShell", "Microsoft® Windows® Operating System"),
    "whoami.exe": (
        "whoami.exe",
        "whoami - displays logged on user information",
        "Microsoft® Windows® Operating System",
    ),
    "ipconfig.exe": ("ipconfig.exe", "IP Configuration Utility", "Microsoft® Windows® Operating System"),
    "systeminfo.exe": ("sysinfo.exe", "Displays system information", "Microsoft® Windows® Operating System"),
    "qwinsta.exe": ("qwinsta.exe", "Query Session Utility", "Microsoft® Windows® Operating System"),
    "quser.exe": ("quser.exe", "Query User Utility", "Microsoft® Windows® Operating System"),
    "HOSTNAME.EXE": ("hostname.exe", "Hostname APP", "Microsoft® Windows® Operating System"),
    "tasklist.exe": (
        "tasklist.exe",
        "Lists the current running tasks",
        "Microsoft® Windows® Operating System",
    ),
    "WMIC.exe": ("wmic.exe", "WMI Commandline Utility", "Microsoft® Windows® Operating System"),
    "conhost.exe": ("CONHOST.EXE", "Console Window Host", "Microsoft® Windows® Operating System"),
}


def x(text: str) -> str:
    """``text`` escaped for XML element content."""
    if "&" in text or "<" in text or ">" in text:
        return escape(text)
    return text


def data_xml(pairs: list[tuple[str, str]]) -> str:
    return "".join(f'<Data Name="{name}">{x(value)}</Data>' for name, value in pairs)


@dataclass(frozen=True, slots=True)
class Account:
    """A Windows account in one logon session."""

    name: str
    domain: str
    sid: str
    logon_id: int
    logon_guid: str = "{00000000-0000-0000-0000-000000000000}"

    @property
    def logon_hex(self) -> str:
        return hex(self.logon_id)

    @property
    def qualified(self) -> str:
        """``DOMAIN\\name`` as Sysmon writes ``User``."""
        return f"{self.domain}\\{self.name}"


SYSTEM = Account("SYSTEM", "NT AUTHORITY", "S-1-5-18", 0x3E7)
NETWORK_SERVICE = Account("NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20", 0x3E4)
LOCAL_SERVICE = Account("LOCAL SERVICE", "NT AUTHORITY", "S-1-5-19", 0x3E5)


@dataclass(slots=True)
class WinProcess:
    """A process of a simulated host (``pid`` in decimal; the Security log prints it in hex)."""

    pid: int
    image: str
    command_line: str
    account: Account
    parent: WinProcess | None
    guid: str
    integrity: str = "Medium"
    cwd: str = "C:\\Windows\\system32\\"

    @property
    def name(self) -> str:
        return self.image.rsplit("\\", 1)[-1]


def typed(word: str, arguments: str = "") -> str:
    """The command line cmd.exe gives a program typed at its prompt: ``net  use`` (cmd keeps the
    separator after the program name and adds its own, as real 4688 events show)."""
    return f"{word}  {arguments}" if arguments else word
