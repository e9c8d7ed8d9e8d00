"""The simulated estate: the hosts and cloud accounts every scenario and the background share.

- ``WIN-SRV2016.contoso.local``: the seed note's Windows Server 2016 (Security log only, as the
  note's test case shows), administrator ``CONTOSO\\Administrator``;
- ``WS01.corp.example``: a Windows 10 workstation with Security auditing (command lines on),
  Sysmon and PowerShell module and script block logging; user ``CORP\\alice``;
- ``web01.corp.example``: an Ubuntu 22.04 web server with auditd (execve rule, ENRICHED);
- ``mbp-alice``: a macOS laptop running ``eslogger exec``;
- AWS account 111122223333 (CloudTrail) and Google Cloud project prod-net-4711 (Data Access logs).

Scenario and background generators draw from one seeded `random.Random`, so a seed gives the same
logs byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from watchpost.simulation.cloud_events import CloudLog
from watchpost.simulation.records import Label
from watchpost.simulation.unix_events import LinuxHost, MacHost
from watchpost.simulation.windows_events import WindowsHost
from watchpost.simulation.windows_model import Account


@dataclass
class World:
    rng: random.Random
    server: WindowsHost = field(init=False)
    workstation: WindowsHost = field(init=False)
    linux: LinuxHost = field(init=False)
    mac: MacHost = field(init=False)
    cloud: CloudLog = field(init=False)
    administrator: Account = field(init=False)
    alice: Account = field(init=False)

    def __post_init__(self) -> None:
        self.server = WindowsHost(
            "WIN-SRV2016.contoso.local", "CONTOSO", self.rng, has_sysmon=False, has_powershell=False
        )
        self.workstation = WindowsHost("WS01.corp.example", "CORP", self.rng)
        self.linux = LinuxHost(
            "web01.corp.example",
            self.rng,
            {"root": 0, "alice": 1000, "www-data": 33, "zabbix": 112, "nagios": 113},
        )
        self.mac = MacHost("mbp-alice", self.rng)
        self.cloud = CloudLog(self.rng)
        self.administrator = self.server.account("Administrator", 500, 0x4D9A3)
        self.alice = self.workstation.account("alice", 1104)

    def logs(self) -> list[str]:
        """Every log file the world writes, in a fixed order."""
        return [*self.server.logs, *self.workstation.logs, *self.linux.logs, *self.mac.logs, *self.cloud.logs]


def labeller(scenario: str) -> LabelMaker:
    return LabelMaker(scenario)


@dataclass(frozen=True, slots=True)
class LabelMaker:
    """Short-hand for the labels of one scenario."""

    scenario: str

    def __call__(self, activity: str, label: str, note: str = "") -> Label:
        return Label(self.scenario, activity, label, note)
