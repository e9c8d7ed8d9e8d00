"""The scenarios ``watchpost simulate`` knows: name, where it comes from, which logs it writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watchpost.simulation import scenarios_traps as traps
from watchpost.simulation import scenarios_unix_cloud as unix_cloud
from watchpost.simulation import scenarios_windows as windows
from watchpost.simulation.records import Record
from watchpost.simulation.world import World

Builder = Callable[[World, int], list[Record]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One emulated attack (or test case) and the platform whose logs it writes."""

    name: str
    platform: str  # "windows-server" | "windows-workstation" | "linux" | "macos" | "aws" | "gcp"
    source: str
    summary: str
    build: Builder


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "seed-netstat",
        "windows-server",
        "seed note, test case 1",
        "netstat at an elevated prompt: 4688, 4703 SeDebugPrivilege, 4689",
        windows.seed_netstat,
    ),
    Scenario(
        "seed-net-use",
        "windows-server",
        "seed note, test case 2",
        "net use at an elevated prompt: 4688 'net  use', 4689",
        windows.seed_net_use,
    ),
    Scenario(
        "seed-net-session",
        "windows-server",
        "seed note, test case 3",
        "net session and its net1.exe hop: 2 x 4688, 2 x 4689",
        windows.seed_net_session,
    ),
    Scenario(
        "atomic-t1049-1",
        "windows-workstation",
        "Atomic T1049 #1 0940a971-809a-48f1-9c4d-b1d785e96ee5",
        "cmd: netstat -ano, net use, net sessions",
        windows.atomic_t1049_1,
    ),
    Scenario(
        "atomic-t1049-2",
        "windows-workstation",
        "Atomic T1049 #2 f069f0f1-baad-4831-aa2b-eddac4baac4a",
        "PowerShell Get-NetTCPConnection",
        windows.atomic_t1049_2,
    ),
    Scenario(
        "atomic-t1049-3",
        "windows-workstation",
        "Atomic T1049 #3 b52c8233-8f71-4bd7-9928-49fec8215cf5",
        "PowerShell Get-NetTCPConnection mapped to processes",
        windows.atomic_t1049_3,
    ),
    Scenario(
        "atomic-t1049-4-linux",
        "linux",
        "Atomic T1049 #4 bcf05343-ef1d-4052-8a27-b00c9be42b9f",
        "ss -antp, ss -aunp",
        unix_cloud.atomic_t1049_4_linux,
    ),
    Scenario(
        "atomic-t1049-4-macos",
        "macos",
        "Atomic T1049 #4 bcf05343-ef1d-4052-8a27-b00c9be42b9f",
        "lsof -i -nP (no ss on macOS)",
        unix_cloud.atomic_t1049_4_macos,
    ),
    Scenario(
        "atomic-t1049-5-linux",
        "linux",
        "Atomic T1049 #5 9ae28d3f-190f-4fa0-b023-c7bd3e0eabf2",
        "netstat, who -a",
        unix_cloud.atomic_t1049_5_linux,
    ),
    Scenario(
        "atomic-t1049-5-macos",
        "macos",
        "Atomic T1049 #5 9ae28d3f-190f-4fa0-b023-c7bd3e0eabf2",
        "netstat, who -a",
        unix_cloud.atomic_t1049_5_macos,
    ),
    Scenario(
        "atomic-t1049-6",
        "linux",
        "Atomic T1049 #6 997bb0a6-421e-40c7-b5d2-0f493904ef9b",
        "sockstat -4, -6, -l",
        unix_cloud.atomic_t1049_6,
    ),
    Scenario(
        "atomic-t1049-7",
        "windows-workstation",
        "Atomic T1049 #7 96f974bb-a0da-4d87-a744-ff33e73367e9",
        "SharpView: default methods (not T1049), then Get-NetSession, Get-NetLoggedon, Get-NetRDPSession",
        windows.atomic_t1049_7,
    ),
    Scenario(
        "atomic-t1033-1",
        "windows-workstation",
        "Atomic T1033 #1 4c4959bf-addf-4b4a-be86-8d09cc1857aa",
        "whoami, wmic, quser (T1033), qwinsta (T1049 by policy)",
        windows.atomic_t1033_1,
    ),
    Scenario(
        "burst-windows-c2",
        "windows-workstation",
        "pack: discovery burst",
        "implant runs whoami, ipconfig, systeminfo, net view, netstat, net session via cmd /C",
        windows.burst_windows_c2,
    ),
    Scenario(
        "burst-linux-reverse-shell",
        "linux",
        "pack: discovery burst",
        "reverse shell runs id, uname, ss, w, netstat, cat",
        unix_cloud.burst_linux_reverse_shell,
    ),
    Scenario(
        "cloud-aws-network-mapping",
        "aws",
        "pack: cloud network mapping",
        "stolen role credentials: seven EC2 network Describe calls",
        unix_cloud.cloud_aws_network_mapping,
    ),
    Scenario(
        "cloud-gcp-network-mapping",
        "gcp",
        "pack: cloud network mapping",
        "gcloud: networks, subnets, routes, firewall rules, routers",
        unix_cloud.cloud_gcp_network_mapping,
    ),
    Scenario(
        "trap-azure-guest-agent",
        "windows-workstation",
        "benign trap (issue #15)",
        "Azure guest agent (SYSTEM): ipconfig /all, route print, arp -a, directly and via cmd /c",
        traps.azure_guest_agent,
    ),
    Scenario(
        "trap-netsh-trace-stop",
        "windows-workstation",
        "benign trap (issue #15)",
        "netsh trace stop (by alice, then by NetworkWatcherAgent) running gatherNetworkInfo.vbs",
        traps.netsh_trace_stop,
    ),
    Scenario(
        "trap-linux-diagnostics",
        "linux",
        "benign trap (issue #15)",
        "sosreport --batch (netstat, ss, lsof, who, ip...) and the Azure Linux agent probing the network",
        traps.linux_diagnostics,
    ),
    Scenario(
        "trap-macos-sysdiagnose",
        "macos",
        "benign trap (issue #15)",
        "sysdiagnose collecting netstat, lsof, ifconfig, scutil, who",
        traps.macos_sysdiagnose,
    ),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
GROUPS = {
    "all": [s.name for s in SCENARIOS],
    "seed": [s.name for s in SCENARIOS if s.name.startswith("seed-")],
    "atomic": [s.name for s in SCENARIOS if s.name.startswith("atomic-")],
    "burst": [s.name for s in SCENARIOS if s.name.startswith("burst-")],
    "cloud": [s.name for s in SCENARIOS if s.name.startswith("cloud-")],
    "trap": [s.name for s in SCENARIOS if s.name.startswith("trap-")],
}


class UnknownScenario(ValueError):
    """A scenario name that is neither a scenario nor a group."""


def resolve(names: list[str]) -> list[Scenario]:
    """Scenarios for names and group names (``all``, ``seed``, ``atomic``...), each once, in catalog order."""
    wanted: set[str] = set()
    for name in names:
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in BY_NAME:
            wanted.add(name)
        else:
            known = ", ".join([*GROUPS, *BY_NAME])
            raise UnknownScenario(f"unknown scenario {name!r} (known: {known})")
    return [scenario for scenario in SCENARIOS if scenario.name in wanted]
