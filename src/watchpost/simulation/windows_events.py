"""A simulated Windows host and the event XML it writes (Security, Sysmon, PowerShell).

Events are rendered as ``wevtutil qe <log> /f:xml`` prints them: one ``<Event>`` element per line,
the ``System`` block of the real provider (GUIDs, versions, tasks, keywords), ``TimeCreated`` in
100-ns ticks, ``EventRecordID`` numbered per log in time order. The host keeps what makes a log
consistent: process ids (multiples of four, never two live processes with one id), parents,
accounts with their SIDs and logon ids, Sysmon process GUIDs, and PowerShell script block ids.

Field values follow the documentation of each event: 4688 v2 (``NewProcessId``/``ProcessId`` in
hex, ``TokenElevationType`` ``%%1936``-``%%1938``, ``MandatoryLabel`` SIDs), 4689, 4703, 4624,
Sysmon 1/3/5/11/22 (schema 4.x), PowerShell 4103/4104.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from watchpost.simulation.records import (
    MILLISECOND,
    Label,
    Record,
    windows_system_time,
)
from watchpost.simulation.windows_channels import ChannelEvents
from watchpost.simulation.windows_model import (
    ELEVATION,
    EVENT_NS,
    INTEGRITY_SIDS,
    NETWORK_SERVICE,
    SECURITY_PROVIDER,
    SYSTEM,
    SYSTEM32,
    Account,
    WinProcess,
    data_xml,
)


@dataclass
class WindowsHost(ChannelEvents):
    """One host's processes, accounts and logs; every event method returns `Record`s."""

    name: str
    domain: str
    rng: random.Random
    has_sysmon: bool = True
    has_powershell: bool = True
    machine: str = ""
    live: dict[int, WinProcess] = field(default_factory=dict)
    sysmon_pid: int = 2412
    lsass_pid: int = 676

    def __post_init__(self) -> None:
        short = self.name.split(".")[0].lower()
        self.security_log = f"windows/{short}/Security.xml"
        self.sysmon_log = f"windows/{short}/Sysmon.xml"
        self.powershell_log = f"windows/{short}/PowerShell-Operational.xml"
        self.machine = f"{self.rng.getrandbits(32):08x}".upper()
        self.bases = {
            log: self.rng.randrange(20_000, 900_000)
            for log in (self.security_log, self.sysmon_log, self.powershell_log)
        }
        self.services = self.start_system_processes()

    @property
    def logs(self) -> tuple[str, ...]:
        """The logs this host writes (Security always; Sysmon and PowerShell when installed/enabled)."""
        found = [self.security_log]
        if self.has_sysmon:
            found.append(self.sysmon_log)
        if self.has_powershell:
            found.append(self.powershell_log)
        return tuple(found)

    # -- accounts and processes -------------------------------------------------------------

    def account(self, name: str, rid: int, logon_id: int | None = None) -> Account:
        """A domain account of this host's domain, in a new logon session."""
        sid = f"S-1-5-21-3457937927-2839227994-823803824-{rid}"
        logon = logon_id if logon_id is not None else self.rng.randrange(0x40000, 0xFFFFFF)
        return Account(name, self.domain, sid, logon, self.new_guid())

    def new_guid(self) -> str:
        bits = self.rng.getrandbits(64)
        middle = f"{bits >> 48 & 0xFFFF:04x}-{bits >> 32 & 0xFFFF:04x}"
        return f"{{{self.machine[:8]}-{middle}-0000-0010{bits & 0xFFFFFFFF:08x}}}"

    def new_pid(self) -> int:
        while True:
            pid = self.rng.randrange(100, 16_000) * 4
            if pid not in self.live:
                return pid

    def spawn(
        self,
        parent: WinProcess | None,
        image: str,
        command_line: str,
        account: Account | None = None,
        integrity: str | None = None,
    ) -> WinProcess:
        """A new live process; ``image`` is a full path or a file name under System32."""
        path = image if "\\" in image else SYSTEM32 + image
        owner = account or (parent.account if parent is not None else SYSTEM)
        level = integrity or (parent.integrity if parent is not None else "System")
        cwd = parent.cwd if parent is not None else "C:\\Windows\\system32\\"
        process = WinProcess(self.new_pid(), path, command_line, owner, parent, self.new_guid(), level, cwd)
        self.live[process.pid] = process
        return process

    def end(self, process: WinProcess) -> None:
        self.live.pop(process.pid, None)

    def start_system_processes(self) -> dict[str, WinProcess]:
        services = self.spawn(None, "services.exe", "C:\\Windows\\system32\\services.exe")
        found = {"services": services}
        for key, line, account in (
            ("svchost_netsvcs", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", SYSTEM),
            ("svchost_dcom", "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", SYSTEM),
            ("svchost_network", "C:\\Windows\\System32\\svchost.exe -k NetworkService -p", NETWORK_SERVICE),
        ):
            found[key] = self.spawn(services, "svchost.exe", line, account, "System")
        found["wmiprvse"] = self.spawn(
            found["svchost_dcom"],
            SYSTEM32 + "wbem\\WmiPrvSE.exe",
            "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        )
        return found

    # -- Security log -----------------------------------------------------------------------

    def _event(self, log: str, system: str, time_us: int, tail: str, label: Label | None) -> Record:
        """A record of ``log``: ``system`` is the System block up to TimeCreated, ``tail`` what follows
        the EventRecordID (numbered from the log's base when written)."""
        head = f'<Event xmlns="{EVENT_NS}"><System>{system}<TimeCreated SystemTime="'
        head += windows_system_time(time_us, time_us // 7) + '" /><EventRecordID>'
        base = self.bases[log]
        return Record(time_us, log, lambda n: f"{head}{n + base}{tail}", label)

    def _security(
        self,
        event_id: int,
        version: int,
        task: int,
        time_us: int,
        data: list[tuple[str, str]],
        label: Label | None,
    ) -> Record:
        system = (
            f"{SECURITY_PROVIDER}<EventID>{event_id}</EventID><Version>{version}</Version><Level>0</Level>"
            f"<Task>{task}</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
        )
        tail = (
            f'</EventRecordID><Correlation /><Execution ProcessID="{self.lsass_pid}" '
            f'ThreadID="{self.rng.randrange(100, 9000) * 4}" /><Channel>Security</Channel>'
            f"<Computer>{self.name}</Computer><Security /></System>"
            f"<EventData>{data_xml(data)}</EventData></Event>"
        )
        return self._event(self.security_log, system, time_us, tail, label)

    @staticmethod
    def _subject(account: Account) -> list[tuple[str, str]]:
        return [
            ("SubjectUserSid", account.sid),
            ("SubjectUserName", account.name),
            ("SubjectDomainName", account.domain),
            ("SubjectLogonId", account.logon_hex),
        ]

    @staticmethod
    def _target(account: Account | None) -> list[tuple[str, str]]:
        """4688's "Target Subject": the new process's account when it is not the creator's."""
        if account is None:
            return [
                ("TargetUserSid", "S-1-0-0"),
                ("TargetUserName", "-"),
                ("TargetDomainName", "-"),
                ("TargetLogonId", "0x0"),
            ]
        return [
            ("TargetUserSid", account.sid),
            ("TargetUserName", account.name),
            ("TargetDomainName", account.domain),
            ("TargetLogonId", account.logon_hex),
        ]

    def security_4688(self, process: WinProcess, time_us: int, label: Label | None = None) -> Record:
        parent = process.parent
        creator = parent.account if parent is not None else process.account
        data = [
            *self._subject(creator),
            ("NewProcessId", hex(process.pid)),
            ("NewProcessName", process.image),
            ("TokenElevationType", ELEVATION.get(process.integrity, "%%1936")),
            ("ProcessId", hex(parent.pid) if parent is not None else "0x4"),
            ("CommandLine", process.command_line),
            *self._target(process.account if process.account != creator else None),
            ("ParentProcessName", parent.image if parent is not None else ""),
            ("MandatoryLabel", INTEGRITY_SIDS.get(process.integrity, "S-1-16-8192")),
        ]
        return self._security(4688, 2, 13312, time_us, data, label)

    def security_4689(
        self, process: WinProcess, time_us: int, status: int = 0, label: Label | None = None
    ) -> Record:
        data = [
            *self._subject(process.account),
            ("Status", hex(status)),
            ("ProcessId", hex(process.pid)),
            ("ProcessName", process.image),
        ]
        return self._security(4689, 0, 13313, time_us, data, label)

    def security_4703(
        self,
        process: WinProcess,
        time_us: int,
        privilege: str = "SeDebugPrivilege",
        label: Label | None = None,
    ) -> Record:
        account = process.account
        data = [
            *self._subject(account),
            ("TargetUserSid", account.sid),
            ("TargetUserName", account.name),
            ("TargetDomainName", account.domain),
            ("TargetLogonId", account.logon_hex),
            ("ProcessName", process.image),
            ("ProcessId", hex(process.pid)),
            ("EnabledPrivilegeList", privilege),
            ("DisabledPrivilegeList", "-"),
        ]
        return self._security(4703, 0, 13570, time_us, data, label)

    def security_4624(
        self,
        account: Account,
        time_us: int,
        logon_type: int,
        address: str,
        workstation: str,
        label: Label | None = None,
    ) -> Record:
        data = [
            *self._subject(SYSTEM if logon_type != 3 else Account("-", "-", "S-1-0-0", 0)),
            ("TargetUserSid", account.sid),
            ("TargetUserName", account.name),
            ("TargetDomainName", account.domain),
            ("TargetLogonId", account.logon_hex),
            ("LogonType", str(logon_type)),
            ("LogonProcessName", "NtLmSsp " if logon_type == 3 else "User32 "),
            ("AuthenticationPackageName", "NTLM" if logon_type == 3 else "Negotiate"),
            ("WorkstationName", workstation),
            ("LogonGuid", account.logon_guid),
            ("TransmittedServices", "-"),
            ("LmPackageName", "-"),
            ("KeyLength", "0"),
            ("ProcessId", "0x0" if logon_type == 3 else hex(self.lsass_pid)),
            ("ProcessName", "-" if logon_type == 3 else "C:\\Windows\\System32\\svchost.exe"),
            ("IpAddress", address),
            ("IpPort", str(self.rng.randrange(49152, 65535))),
            ("ImpersonationLevel", "%%1833"),
            ("RestrictedAdminMode", "-"),
            ("TargetOutboundUserName", "-"),
            ("TargetOutboundDomainName", "-"),
            ("VirtualAccount", "%%1843"),
            ("TargetLinkedLogonId", "0x0"),
            ("ElevatedToken", "%%1842"),
        ]
        return self._security(4624, 2, 12544, time_us, data, label)

    # -- a whole process ----------------------------------------------------------------------

    def run(
        self,
        parent: WinProcess | None,
        image: str,
        command_line: str,
        time_us: int,
        duration_us: int,
        start: Label | None = None,
        finish: Label | None = None,
        status: int = 0,
        account: Account | None = None,
        integrity: str | None = None,
    ) -> tuple[WinProcess, list[Record]]:
        """Start a process at ``time_us`` and end it ``duration_us`` later: 4688/4689 and Sysmon
        1/5 (Sysmon a few milliseconds after the Security event, as the drivers report)."""
        process = self.spawn(parent, image, command_line, account, integrity)
        records = self.start_records(process, time_us, start)
        records.extend(self.exit_records(process, time_us + duration_us, finish, status))
        return process, records

    def start_records(self, process: WinProcess, time_us: int, label: Label | None) -> list[Record]:
        """4688, and Sysmon 1 on hosts with Sysmon."""
        records = [self.security_4688(process, time_us, label)]
        if self.has_sysmon:
            records.append(self.sysmon_1(process, time_us + self.rng.randrange(1, 4) * MILLISECOND, label))
        return records

    def exit_records(
        self, process: WinProcess, time_us: int, label: Label | None, status: int = 0
    ) -> list[Record]:
        """4689, and Sysmon 5 on hosts with Sysmon; the process id is free again."""
        records = [self.security_4689(process, time_us, status, label)]
        if self.has_sysmon:
            records.append(self.sysmon_5(process, time_us + self.rng.randrange(0, 2) * MILLISECOND, label))
        self.end(process)
        return records
