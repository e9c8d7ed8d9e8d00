"""Benign background activity, in time order, at any volume, with the hard near misses labelled.

Each platform has an `ActivitySource`: ``activity(at)`` returns the records of one benign action
starting at ``at`` (a service's child process with its 4688/Sysmon 1/4689/Sysmon 5, an SSH login
with its PAM records and banner scripts, a cron job, a CloudTrail call...). `background_stream`
spaces actions with exponential gaps and releases records through a small heap, so memory stays
flat and a million records take seconds.

Near misses (label ``negative``, written to the labels file) are what a careless T1049 rule fires
on: ``net view``, ``net use X: \\\\host\\share /user:...`` mappings, ``net user``, a file named
``netstat.txt``, the NetTCPIP module auto-load of ``Test-NetConnection``, monitoring agents that run
netstat / ss / who (NSClient++, Zabbix, Nagios, the Ubuntu login banner, macOS periodic, Jamf),
AWS Config describing the network, a console user opening one VPC page, a GKE service agent
listing networks. Everything else is unlabelled benign activity.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator

from watchpost.simulation import background_unix_cloud
from watchpost.simulation.records import MILLISECOND, NEGATIVE, SECOND, Label, Record
from watchpost.simulation.scenarios_windows import EXPORT_PAYLOAD, NETTCPIP_MODULE
from watchpost.simulation.windows_events import WindowsHost
from watchpost.simulation.windows_model import LOCAL_SERVICE, POWERSHELL_EXE, SYSTEM, typed
from watchpost.simulation.world import World

Activity = Callable[[int], list[Record]]

SERVICE_CHILDREN = (
    (
        "svchost_netsvcs",
        "taskhostw.exe",
        "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
    ),
    (
        "svchost_netsvcs",
        "C:\\Program Files\\Windows Defender\\MpCmdRun.exe",
        '"C:\\Program Files\\Windows Defender\\MpCmdRun.exe" -IdleTask -TaskName WdCacheMaintenance',
    ),
    (
        "svchost_dcom",
        "backgroundTaskHost.exe",
        '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider',
    ),
    (
        "services",
        "svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k LocalServiceNetworkRestricted -p -s wscsvc",
    ),
    ("svchost_netsvcs", "gpupdate.exe", "gpupdate.exe /target:computer"),
    ("wmiprvse", "conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("svchost_network", "C:\\Windows\\System32\\sc.exe", "C:\\Windows\\system32\\sc.exe query wuauserv"),
    (
        "svchost_netsvcs",
        "SearchProtocolHost.exe",
        '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe8_ '
        "Global\\UsGthrCtrlFltPipeMssGthrPipe8 1",
    ),
    (
        "svchost_netsvcs",
        "C:\\Windows\\System32\\CompatTelRunner.exe",
        "C:\\Windows\\system32\\compattelrunner.exe -maintenance",
    ),
)
USER_APPS = (
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=utility',
        "www.google.com",
    ),
    (
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        '"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe" --single-argument https://intranet.corp.example/',
        "intranet.corp.example",
    ),
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        '"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE" ',
        "outlook.office365.com",
    ),
    (
        "C:\\Users\\alice\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
        '"C:\\Users\\alice\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe" '
        "--process-start-reason=AutoStart",
        "teams.microsoft.com",
    ),
)
ADMIN_COMMANDS = (
    ("PING.EXE", "ping", "-n 2 fs01.corp.example"),
    ("nslookup.exe", "nslookup", "intranet.corp.example"),
    ("ROBOCOPY.exe", "robocopy", "C:\\Reports \\\\fs01\\reports /MIR /R:1"),
    ("reg.exe", "reg", "query HKCU\\Software\\Policies"),
    ("mstsc.exe", "mstsc", "/v:jump01.corp.example"),
    ("notepad.exe", "notepad", "C:\\Reports\\q3.txt"),
)
NET_NEAR_MISSES = (
    ("view", "net view (T1135 share discovery)"),
    ("view \\\\fs01.corp.example", "net view of a host (T1135)"),
    (
        "use Z: \\\\fs01.corp.example\\share /user:CORP\\alice /persistent:yes",
        "drive mapping with credentials (T1021.002)",
    ),
    ("use \\\\fs01.corp.example\\IPC$ /user:CORP\\svc_backup", "IPC$ authentication (T1021.002)"),
    ("use Z: /delete /y", "removing a drive mapping"),
    ("user alice /domain", "net user (T1087)"),
    ('group "Domain Admins" /domain', "net group (T1069)"),
)
SCRIPTS = (
    "Get-Service -Name Spooler | Select-Object Status",
    "Get-ChildItem C:\\Reports -Filter *.xlsx | Measure-Object",
    "Get-WinEvent -LogName System -MaxEvents 20",
    "Get-Date -Format o",
    "Import-Module ActiveDirectory; Get-ADUser alice -Properties LastLogonDate",
)
NSCP = "C:\\Program Files\\NSClient++\\nscp.exe"
SQL_SERVER = "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe"


def near(activity: str, note: str) -> Label:
    return Label("background", activity, NEGATIVE, note)


class WindowsActivities:
    """Benign activity of one Windows host (Sysmon and PowerShell only where the host has them)."""

    def __init__(self, world: World, host: WindowsHost, rng: random.Random, server: bool) -> None:
        self.host, self.rng = host, rng
        self.user = host.account("alice" if not server else "svc_backup", 1104 if not server else 1210)
        explorer = "C:\\Windows\\explorer.exe"
        self.explorer = host.spawn(None, explorer, "C:\\Windows\\Explorer.EXE", self.user, "Medium")
        self.agent = host.spawn(host.services["services"], NSCP, f'"{NSCP}" service --run', SYSTEM, "System")
        choices: list[tuple[Activity, int]] = [
            (self.service_child, 40),
            (self.logon, 14),
            (self.admin_command, 6),
            (self.net_near_miss, 2),
            (self.agent_netstat, 2),
        ]
        if server:
            choices.append((self.xp_cmdshell, 1))
        else:
            choices += [
                (self.user_app, 22),
                (self.powershell, 6),
                (self.test_netconnection, 1),
                (self.netstat_file, 1),
            ]
        self.activities = [activity for activity, weight in choices for _ in range(weight)]

    def activity(self, at: int) -> list[Record]:
        return self.rng.choice(self.activities)(at)

    def service_child(self, at: int) -> list[Record]:
        parent_key, image, line = self.rng.choice(SERVICE_CHILDREN)
        parent = self.host.services[parent_key]
        owner = LOCAL_SERVICE if image.endswith("svchost.exe") else parent.account
        _, records = self.host.run(
            parent, image, line, at, self.rng.randrange(80, 9000) * MILLISECOND, account=owner
        )
        return records

    def logon(self, at: int) -> list[Record]:
        account = self.host.account(self.rng.choice(("svc_backup", "alice", "bob", "FS01$")), 1300)
        address = self.rng.choice(("10.20.30.11", "10.20.30.12", "10.20.31.40"))
        return [self.host.security_4624(account, at, 3, address, "-")]

    def user_app(self, at: int) -> list[Record]:
        image, line, domain = self.rng.choice(USER_APPS)
        host = self.host
        process = host.spawn(self.explorer, image, line)
        records = host.start_records(process, at, None)
        records.append(host.sysmon_22(process, at + 40 * MILLISECOND, domain))
        records.append(
            host.sysmon_3(
                process,
                at + 90 * MILLISECOND,
                f"52.{self.rng.randrange(96, 120)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
                443,
            )
        )
        records += host.exit_records(process, at + self.rng.randrange(5, 600) * SECOND, None)
        return records

    def admin_command(self, at: int) -> list[Record]:
        image, word, arguments = self.rng.choice(ADMIN_COMMANDS)
        host = self.host
        shell = host.spawn(self.explorer, "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ')
        records = host.start_records(shell, at, None)
        _, more = host.run(shell, image, typed(word, arguments), at + 4 * SECOND, 900 * MILLISECOND)
        return records + more + host.exit_records(shell, at + 30 * SECOND, None)

    def net_near_miss(self, at: int) -> list[Record]:
        arguments, note = self.rng.choice(NET_NEAR_MISSES)
        host = self.host
        shell = host.spawn(self.explorer, "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ')
        label = near(f"net {arguments}", note)
        records = host.start_records(shell, at, None)
        net = host.spawn(shell, "net.exe", typed("net", arguments))
        records += host.start_records(net, at + 3 * SECOND, label)
        net1 = host.spawn(net, "net1.exe", "C:\\Windows\\system32\\" + typed("net1", arguments))
        records += host.start_records(net1, at + 3 * SECOND + 9 * MILLISECOND, label)
        records += host.exit_records(net1, at + 3 * SECOND + 400 * MILLISECOND, label)
        records += host.exit_records(net, at + 3 * SECOND + 410 * MILLISECOND, label)
        return records + host.exit_records(shell, at + 20 * SECOND, None)

    def agent_netstat(self, at: int) -> list[Record]:
        """NSClient++ counting connections: netstat started by the agent, as SYSTEM."""
        label = near("monitoring agent netstat", "NSClient++ runs netstat -an")
        _, records = self.host.run(
            self.agent, "NETSTAT.EXE", "netstat.exe -an", at, 350 * MILLISECOND, label, label
        )
        return records

    def xp_cmdshell(self, at: int) -> list[Record]:
        """SQL Server's xp_cmdshell writing the environment to a file named netstat.txt."""
        host = self.host
        sql = host.spawn(
            host.services["services"],
            SQL_SERVER,
            f'"{SQL_SERVER}" -sMSSQLSERVER',
            SYSTEM,
        )
        label = near("netstat.txt", "cmd /c set > c:\\users\\public\\netstat.txt")
        _, records = host.run(
            sql,
            "cmd.exe",
            '"C:\\Windows\\system32\\cmd.exe" /c set > c:\\users\\public\\netstat.txt',
            at,
            40 * MILLISECOND,
            label,
            label,
        )
        host.end(sql)
        return records

    def netstat_file(self, at: int) -> list[Record]:
        """alice saves notes in a file named netstat.txt (Sysmon 11) and reopens it."""
        host = self.host
        label = near("netstat.txt", "notepad with C:\\Users\\alice\\Documents\\netstat.txt")
        notepad = host.spawn(
            self.explorer,
            "notepad.exe",
            '"C:\\Windows\\system32\\notepad.exe" C:\\Users\\alice\\Documents\\netstat.txt',
        )
        records = host.start_records(notepad, at, label)
        records.append(
            host.sysmon_11(notepad, at + 20 * SECOND, "C:\\Users\\alice\\Documents\\netstat.txt", label)
        )
        return records + host.exit_records(notepad, at + 25 * SECOND, label)

    def powershell(self, at: int) -> list[Record]:
        host = self.host
        script = self.rng.choice(SCRIPTS)
        ps = host.spawn(self.explorer, POWERSHELL_EXE, f'"{POWERSHELL_EXE}" -NoProfile -Command "{script}"')
        records = host.start_records(ps, at, None)
        records.append(host.script_block(ps, at + 700 * MILLISECOND, script))
        command = script.split()[0].rstrip(";")
        records.append(
            host.module_event(
                ps, at + 760 * MILLISECOND, f'CommandInvocation({command}): "{command}"\r\n', command
            )
        )
        return records + host.exit_records(ps, at + 2 * SECOND, None)

    def test_netconnection(self, at: int) -> list[Record]:
        """Test-NetConnection loads the NetTCPIP module: its CDXML text and Export-ModuleMember of
        Get-NetTCPConnection are logged, without any call of Get-NetTCPConnection."""
        host = self.host
        label = near("NetTCPIP auto-load", "Test-NetConnection loads NetTCPIP")
        script = "Test-NetConnection fs01.corp.example -Port 445"
        ps = host.spawn(self.explorer, POWERSHELL_EXE, f'"{POWERSHELL_EXE}" -NoProfile -Command "{script}"')
        records = host.start_records(ps, at, label)
        records.append(host.script_block(ps, at + 600 * MILLISECOND, script, label))
        records.append(host.script_block(ps, at + 690 * MILLISECOND, NETTCPIP_MODULE, label))
        records.append(
            host.module_event(ps, at + 696 * MILLISECOND, EXPORT_PAYLOAD, "Export-ModuleMember", label)
        )
        payload = (
            'CommandInvocation(Test-NetConnection): "Test-NetConnection"\r\n'
            'ParameterBinding(Test-NetConnection): name="ComputerName"; value="fs01.corp.example"\r\n'
        )
        records.append(host.module_event(ps, at + 2 * SECOND, payload, "Test-NetConnection", label))
        return records + host.exit_records(ps, at + 3 * SECOND, label)


PLATFORM_WEIGHTS = {
    "windows-workstation": 0.36,
    "windows-server": 0.14,
    "linux": 0.24,
    "macos": 0.12,
    "aws": 0.10,
    "gcp": 0.04,
}
RECORDS_PER_ACTIVITY = {
    "windows-workstation": 4.0,
    "windows-server": 2.0,
    "linux": 2.6,
    "macos": 1.6,
    "aws": 1.4,
    "gcp": 1.0,
}


def activity_source(world: World, platform: str, rng: random.Random) -> Callable[[int], list[Record]]:
    if platform == "windows-workstation":
        return WindowsActivities(world, world.workstation, rng, server=False).activity
    if platform == "windows-server":
        return WindowsActivities(world, world.server, rng, server=True).activity
    return background_unix_cloud.activity_source(world, platform, rng)


def background_stream(
    world: World, platforms: list[str], count: int, start: int, end: int
) -> Iterator[Record]:
    """About ``count`` benign records over ``[start, end]`` on ``platforms``, in time order."""
    weights = {platform: PLATFORM_WEIGHTS[platform] for platform in platforms}
    total = sum(weights.values()) or 1.0
    streams = []
    remaining = count
    for index, platform in enumerate(platforms):
        share = remaining if index == len(platforms) - 1 else round(count * weights[platform] / total)
        remaining -= share
        if share > 0:
            rng = random.Random(world.rng.getrandbits(64))
            streams.append(
                platform_stream(
                    activity_source(world, platform, rng),
                    rng,
                    share,
                    start,
                    end,
                    RECORDS_PER_ACTIVITY[platform],
                )
            )
    return heapq.merge(*streams, key=lambda record: record.time_us)


def platform_stream(
    activity: Callable[[int], list[Record]],
    rng: random.Random,
    count: int,
    start: int,
    end: int,
    per_activity: float,
) -> Iterator[Record]:
    """``count`` records of ``activity`` started at exponential gaps, released in time order."""
    mean_gap = max(1.0, (end - start) * per_activity / count)
    pending: list[tuple[int, int, Record]] = []
    produced = sequence = 0
    at = start
    while produced < count:
        at += int(rng.expovariate(1.0 / mean_gap)) + 1
        records = sorted(activity(at), key=lambda record: record.time_us)[: count - produced]
        produced += len(records)
        for record in records:
            sequence += 1
            heapq.heappush(pending, (record.time_us, sequence, record))
        while pending and pending[0][0] <= at:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]
