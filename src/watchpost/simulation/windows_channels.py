"""Sysmon and PowerShell Operational events of a simulated Windows host (a mixin of `WindowsHost`).

Sysmon schema 4.x events 1 (process created), 3 (network connection), 5 (process terminated), 11
(file created), 22 (DNS query); PowerShell 4103 (module logging: one pipeline's
``CommandInvocation``/``ParameterBinding`` lines with its ``ContextInfo``) and 4104 (script block
text, with its part number and total when split).
"""

from __future__ import annotations

import hashlib
import random

from watchpost.simulation.records import Label, Record, sysmon_utc_time
from watchpost.simulation.windows_model import (
    IMAGES,
    POWERSHELL_CHANNEL,
    POWERSHELL_PROVIDER,
    SYSMON_CHANNEL,
    SYSMON_PROVIDER,
    WinProcess,
    data_xml,
)


class ChannelEvents:
    """Sysmon and PowerShell renderers; the host class provides the attributes and `_event`."""

    name: str
    rng: random.Random
    sysmon_log: str
    powershell_log: str
    sysmon_pid: int

    def new_guid(self) -> str:
        raise NotImplementedError

    def _event(self, log: str, system: str, time_us: int, tail: str, label: Label | None) -> Record:
        raise NotImplementedError

    # -- Sysmon -----------------------------------------------------------------------------

    def _sysmon(
        self, event_id: int, version: int, time_us: int, data: list[tuple[str, str]], label: Label | None
    ) -> Record:
        system = (
            f"{SYSMON_PROVIDER}<EventID>{event_id}</EventID><Version>{version}</Version><Level>4</Level>"
            f"<Task>{event_id}</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
        )
        tail = (
            f'</EventRecordID><Correlation /><Execution ProcessID="{self.sysmon_pid}" ThreadID="3868" />'
            f"<Channel>{SYSMON_CHANNEL}</Channel><Computer>{self.name}</Computer>"
            f'<Security UserID="S-1-5-18" /></System><EventData>{data_xml(data)}</EventData></Event>'
        )
        return self._event(self.sysmon_log, system, time_us, tail, label)

    def sysmon_1(self, process: WinProcess, time_us: int, label: Label | None = None) -> Record:
        parent = process.parent
        original, description, product = IMAGES.get(process.name, (process.name, "-", "-"))
        digest = hashlib.sha256(process.image.lower().encode()).hexdigest()
        data = [
            ("RuleName", "-"),
            ("UtcTime", sysmon_utc_time(time_us)),
            ("ProcessGuid", process.guid),
            ("ProcessId", str(process.pid)),
            ("Image", process.image),
            ("FileVersion", "10.0.19041.1 (WinBuild.160101.0800)"),
            ("Description", description),
            ("Product", product),
            ("Company", "Microsoft Corporation"),
            ("OriginalFileName", original),
            ("CommandLine", process.command_line),
            ("CurrentDirectory", process.cwd),
            ("User", process.account.qualified),
            ("LogonGuid", process.account.logon_guid),
            ("LogonId", process.account.logon_hex),
            ("TerminalSessionId", "0" if process.account.logon_id < 0x1000 else "1"),
            ("IntegrityLevel", process.integrity),
            (
                "Hashes",
                f"SHA1={digest[:40].upper()},MD5={digest[:32].upper()},SHA256={digest.upper()},IMPHASH={digest[-32:].upper()}",
            ),
            ("ParentProcessGuid", parent.guid if parent else "-"),
            ("ParentProcessId", str(parent.pid) if parent else "4"),
            ("ParentImage", parent.image if parent else "System"),
            ("ParentCommandLine", parent.command_line if parent else ""),
            ("ParentUser", parent.account.qualified if parent else "NT AUTHORITY\\SYSTEM"),
        ]
        return self._sysmon(1, 5, time_us, data, label)

    def sysmon_5(self, process: WinProcess, time_us: int, label: Label | None = None) -> Record:
        data = [
            ("RuleName", "-"),
            ("UtcTime", sysmon_utc_time(time_us)),
            ("ProcessGuid", process.guid),
            ("ProcessId", str(process.pid)),
            ("Image", process.image),
            ("User", process.account.qualified),
        ]
        return self._sysmon(5, 3, time_us, data, label)

    def sysmon_3(
        self, process: WinProcess, time_us: int, destination: str, port: int, label: Label | None = None
    ) -> Record:
        data = [
            ("RuleName", "-"),
            ("UtcTime", sysmon_utc_time(time_us)),
            ("ProcessGuid", process.guid),
            ("ProcessId", str(process.pid)),
            ("Image", process.image),
            ("User", process.account.qualified),
            ("Protocol", "tcp"),
            ("Initiated", "true"),
            ("SourceIsIpv6", "false"),
            ("SourceIp", "10.20.30.41"),
            ("SourceHostname", self.name),
            ("SourcePort", str(self.rng.randrange(49152, 65535))),
            ("SourcePortName", "-"),
            ("DestinationIsIpv6", "false"),
            ("DestinationIp", destination),
            ("DestinationHostname", "-"),
            ("DestinationPort", str(port)),
            ("DestinationPortName", "-"),
        ]
        return self._sysmon(3, 5, time_us, data, label)

    def sysmon_11(self, process: WinProcess, time_us: int, target: str, label: Label | None = None) -> Record:
        data = [
            ("RuleName", "-"),
            ("UtcTime", sysmon_utc_time(time_us)),
            ("ProcessGuid", process.guid),
            ("ProcessId", str(process.pid)),
            ("Image", process.image),
            ("TargetFilename", target),
            ("CreationUtcTime", sysmon_utc_time(time_us)),
            ("User", process.account.qualified),
        ]
        return self._sysmon(11, 2, time_us, data, label)

    def sysmon_22(self, process: WinProcess, time_us: int, query: str, label: Label | None = None) -> Record:
        data = [
            ("RuleName", "-"),
            ("UtcTime", sysmon_utc_time(time_us)),
            ("ProcessGuid", process.guid),
            ("ProcessId", str(process.pid)),
            ("QueryName", query),
            ("QueryStatus", "0"),
            ("QueryResults", "type:  5 edge.microsoft.com;::ffff:13.107.21.239;"),
            ("Image", process.image),
            ("User", process.account.qualified),
        ]
        return self._sysmon(22, 5, time_us, data, label)

    # -- PowerShell Operational -------------------------------------------------------------

    def _powershell(
        self,
        event_id: int,
        level: int,
        task: int,
        opcode: int,
        time_us: int,
        process: WinProcess,
        data: list[tuple[str, str]],
        label: Label | None,
    ) -> Record:
        system = (
            f"{POWERSHELL_PROVIDER}<EventID>{event_id}</EventID><Version>1</Version><Level>{level}</Level>"
            f"<Task>{task}</Task><Opcode>{opcode}</Opcode><Keywords>0x0</Keywords>"
        )
        tail = (
            f'</EventRecordID><Correlation ActivityID="{self.new_guid()}" />'
            f'<Execution ProcessID="{process.pid}" ThreadID="{self.rng.randrange(100, 9000) * 4}" />'
            f"<Channel>{POWERSHELL_CHANNEL}</Channel><Computer>{self.name}</Computer>"
            f'<Security UserID="{process.account.sid}" /></System>'
            f"<EventData>{data_xml(data)}</EventData></Event>"
        )
        return self._event(self.powershell_log, system, time_us, tail, label)

    def script_block(
        self,
        process: WinProcess,
        time_us: int,
        text: str,
        label: Label | None = None,
        part: tuple[int, int] = (1, 1),
        block_id: str | None = None,
        path: str = "",
    ) -> Record:
        """A 4104 (``part`` = message number and total of a block split in parts)."""
        data = [
            ("MessageNumber", str(part[0])),
            ("MessageTotal", str(part[1])),
            ("ScriptBlockText", text),
            ("ScriptBlockId", (block_id or self.new_guid()).strip("{}")),
            ("Path", path),
        ]
        return self._powershell(4104, 5, 2, 15, time_us, process, data, label)

    def module_event(
        self,
        process: WinProcess,
        time_us: int,
        payload: str,
        command: str,
        label: Label | None = None,
        script: str = "",
    ) -> Record:
        """A 4103 for one pipeline of ``payload`` lines (``CommandInvocation(...)`` etc.)."""
        kind = "Function" if "-Net" in command else "Cmdlet"
        context = "".join(
            f"        {name} = {value}\r\n"
            for name, value in (
                ("Severity", "Informational"),
                ("Host Name", "ConsoleHost"),
                ("Host Version", "5.1.19041.3570"),
                ("Host ID", "27c252e2-44fc-4c9d-9ffd-8275963112cb"),
                ("Host Application", process.command_line),
                ("Engine Version", "5.1.19041.3570"),
                ("Runspace ID", "1b9f3c62-54c5-4bd4-a9e7-3f1d6dd2b1f2"),
                ("Pipeline ID", str(self.rng.randrange(1, 90))),
                ("Command Name", command),
                ("Command Type", kind),
                ("Script Name", script),
                ("Command Path", ""),
                ("Sequence Number", str(self.rng.randrange(15, 400))),
                ("User", process.account.qualified),
                ("Connected User", ""),
                ("Shell ID", "Microsoft.PowerShell"),
            )
        )
        data = [("ContextInfo", context), ("UserData", ""), ("Payload", payload)]
        return self._powershell(4103, 4, 106, 20, time_us, process, data, label)
