"""Benign traps: collectors that run several discovery programs in a few seconds, as an intruder's
survey would, and must raise no alert (issue #15: the false positives seen on real data).

- ``trap-azure-guest-agent``: the Azure VM guest agent (WaAppAgent.exe -> WindowsAzureGuestAgent.exe,
  SYSTEM) running ``ipconfig /all``, ``route print``, ``arp -a`` directly and through ``cmd /c``;
- ``trap-netsh-trace-stop``: ``netsh trace stop`` typed by alice, then run by NetworkWatcherAgent.exe
  as SYSTEM; each starts ``cscript gatherNetworkInfo.vbs``, whose ``cmd /c X >> config\\...``
  children run ipconfig, systeminfo, tasklist, arp, nbtstat, route (as in OTRF lsass_campaign_01);
- ``trap-linux-diagnostics``: ``sosreport --batch`` run by root (netstat, ss, lsof, who, ip... straight
  from the sos process) and the Azure Linux agent (waagent, its extension handler restarted by its
  daemon) probing the network;
- ``trap-macos-sysdiagnose``: ``sysdiagnose`` collecting netstat, lsof, ifconfig, scutil, who.

Every record is labelled ``negative``: an alert covering any of them is a false positive.
"""

from __future__ import annotations

from watchpost.simulation.records import MILLISECOND, NEGATIVE, SECOND, Record
from watchpost.simulation.unix_events import UnixProcess
from watchpost.simulation.windows_events import WindowsHost
from watchpost.simulation.windows_model import SYSTEM, SYSTEM32, WinProcess, typed
from watchpost.simulation.world import LabelMaker, World

AZURE_AGENT_DIR = "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-01-10_000000\\"
NETWORK_WATCHER = (
    "C:\\Packages\\Plugins\\Microsoft.Azure.NetworkWatcher.NetworkWatcherAgentWindows\\1.4.2573.1\\"
    "NetworkWatcherAgent\\NetworkWatcherAgent.exe"
)
GATHER_STEPS = (
    # (command run through cmd /c, its output redirection, program image, typed arguments)
    ("systeminfo", " >> config\\osinfo.txt", "systeminfo.exe", ""),
    ("tasklist /svc", " > processes.txt", "tasklist.exe", "/svc"),
    ("ipconfig /all", " >> config\\envinfo.txt", "ipconfig.exe", "/all"),
    ("route print", " >> config\\envinfo.txt", "ROUTE.EXE", "print"),
    ("arp -a", " >> config\\envinfo.txt", "ARP.EXE", "-a"),
    ("nbtstat -n", " >> config\\envinfo.txt", "nbtstat.exe", "-n"),
)


def cmd_child(
    host: WindowsHost, parent: WinProcess, line: str, image: str, arguments: str, at: int, label: LabelMaker,
    activity: str,
) -> list[Record]:
    """``cmd.exe /c <line>`` started by ``parent``, running ``image`` once: 4688/Sysmon 1 and exits."""
    shell = host.spawn(parent, "cmd.exe", f'"C:\\Windows\\System32\\cmd.exe" /c {line}')
    tag = label(activity, NEGATIVE, line)
    records = host.start_records(shell, at, tag)
    word = image.rsplit(".", 1)[0].lower()
    _, more = host.run(shell, image, typed(word, arguments) + " ", at + 120 * MILLISECOND,
                       400 * MILLISECOND, tag, tag)
    return records + more + host.exit_records(shell, at + 600 * MILLISECOND, tag)


def azure_guest_agent(world: World, start: int) -> list[Record]:
    host, label = world.workstation, LabelMaker("trap-azure-guest-agent")
    activity = "azure guest agent"
    waapp = host.spawn(host.services["services"], "C:\\WindowsAzure\\Packages\\WaAppAgent.exe",
                       "C:\\WindowsAzure\\Packages\\WaAppAgent.exe", SYSTEM, "System")
    agent = host.spawn(waapp, AZURE_AGENT_DIR + "WindowsAzureGuestAgent.exe",
                       AZURE_AGENT_DIR + "WindowsAzureGuestAgent.exe", SYSTEM, "System")
    records: list[Record] = []
    at = start
    for image, arguments in (("ipconfig.exe", "/all"), ("ROUTE.EXE", "print"), ("ARP.EXE", "-a")):
        tag = label(activity, NEGATIVE, f"{image} {arguments}")
        _, more = host.run(agent, image, f"{image.rsplit('.', 1)[0].lower()} {arguments}", at,
                           300 * MILLISECOND, tag, tag)
        records += more
        at += 2 * SECOND
    through_cmd = (("ipconfig /all", "ipconfig.exe", "/all"), ("route print", "ROUTE.EXE", "print"),
                   ("arp -a", "ARP.EXE", "-a"))
    for line, image, arguments in through_cmd:
        records += cmd_child(host, agent, line, image, arguments, at, label, activity)
        at += 2 * SECOND
    _, more = host.run(waapp, "HOSTNAME.EXE", "hostname", at, 100 * MILLISECOND,
                       label(activity, NEGATIVE, "hostname"), label(activity, NEGATIVE, "hostname"))
    return records + more


def gather_network_info(
    host: WindowsHost, netsh: WinProcess, at: int, label: LabelMaker, activity: str
) -> list[Record]:
    """``netsh trace stop`` (already started) running gatherNetworkInfo.vbs and its cmd /c children."""
    script = host.spawn(netsh, "cscript.exe",
                        "C:\\Windows\\system32\\cscript.exe C:\\Windows\\system32\\gatherNetworkInfo.vbs")
    records = host.start_records(script, at, label(activity, NEGATIVE, "cscript gatherNetworkInfo.vbs"))
    at += 1500 * MILLISECOND
    for command, redirect, image, arguments in GATHER_STEPS:
        records += cmd_child(host, script, command + redirect, image, arguments, at, label, activity)
        at += 3 * SECOND
    return records + host.exit_records(script, at, label(activity, NEGATIVE, "cscript exit"))


def netsh_trace_stop(world: World, start: int) -> list[Record]:
    host, label = world.workstation, LabelMaker("trap-netsh-trace-stop")
    explorer = host.spawn(None, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", world.alice, "High")
    prompt = host.spawn(explorer, "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ')
    user = "netsh trace stop by a user"
    records = host.start_records(prompt, start, label(user, NEGATIVE, "elevated prompt"))
    netsh = host.spawn(prompt, "netsh.exe", "netsh  trace stop")
    records += host.start_records(netsh, start + 5 * SECOND, label(user, NEGATIVE, "netsh trace stop"))
    records += gather_network_info(host, netsh, start + 9 * SECOND, label, user)
    records += host.exit_records(netsh, start + 40 * SECOND, label(user, NEGATIVE, "netsh exit"))
    agent_activity = "netsh trace stop by NetworkWatcherAgent"
    agent = host.spawn(host.services["services"], NETWORK_WATCHER, f'"{NETWORK_WATCHER}"', SYSTEM, "System")
    at = start + 10 * 60 * SECOND
    netsh = host.spawn(agent, SYSTEM32 + "netsh.exe", "netsh.exe trace stop")
    records += host.start_records(netsh, at, label(agent_activity, NEGATIVE, "netsh trace stop"))
    records += gather_network_info(host, netsh, at + 4 * SECOND, label, agent_activity)
    return records + host.exit_records(netsh, at + 35 * SECOND, label(agent_activity, NEGATIVE, "netsh exit"))


Argv = tuple[str, ...]
SOS_COMMANDS: tuple[tuple[str, Argv], ...] = (
    ("/usr/sbin/ip", ("ip", "-o", "addr")),
    ("/usr/bin/netstat", ("netstat", "-W", "-neopa")),
    ("/usr/bin/ss", ("ss", "-peaonmi")),
    ("/usr/bin/lsof", ("lsof", "-b", "+M", "-n", "-l", "-i")),
    ("/usr/bin/who", ("who",)),
    ("/usr/bin/hostname", ("hostname",)),
    ("/usr/bin/uname", ("uname", "-a")),
    ("/usr/sbin/route", ("route", "-n")),
)
WAAGENT_COMMANDS: tuple[tuple[str, Argv], ...] = (
    ("/usr/sbin/ip", ("ip", "route", "show")),
    ("/usr/bin/hostname", ("hostname",)),
    ("/usr/sbin/ip", ("ip", "-a", "-o", "link")),
    ("/usr/bin/uname", ("uname", "-r")),
    ("/usr/bin/id", ("id", "-u")),
)


def linux_diagnostics(world: World, start: int) -> list[Record]:
    host, label = world.linux, LabelMaker("trap-linux-diagnostics")
    shell = host.login_shell("root", 9, "pts2", "/root")
    sos = host.spawn(shell, "/usr/bin/python3.10", ("/usr/bin/python3", "/usr/sbin/sosreport", "--batch"))
    records = [host.execve(sos, start, label("sosreport", NEGATIVE, "sosreport --batch"))]
    at = start + 2 * SECOND
    for image, argv in SOS_COMMANDS:
        child = host.spawn(sos, image, argv)
        records.append(host.execve(child, at, label("sosreport", NEGATIVE, " ".join(argv))))
        at += 700 * MILLISECOND
    daemon = UnixProcess(host.next_pid + 3, "/usr/bin/python3.10",
                         ("python3", "-u", "/usr/sbin/waagent", "-daemon"), "root", 0, host.init)
    host.next_pid += 10
    at = start + 5 * 60 * SECOND
    # the daemon (started at boot, before the log) restarts its extension handler after an update
    handler = ("python3", "-u", "/usr/sbin/waagent", "-run-exthandlers")
    waagent = host.spawn(daemon, "/usr/bin/python3.10", handler)
    records.append(host.execve(waagent, at, label("waagent", NEGATIVE, "waagent -run-exthandlers")))
    at += 3 * SECOND
    for image, argv in WAAGENT_COMMANDS:
        child = host.spawn(waagent, image, argv)
        records.append(host.execve(child, at, label("waagent", NEGATIVE, " ".join(argv))))
        at += 900 * MILLISECOND
    return records


SYSDIAGNOSE_COMMANDS: tuple[tuple[str, Argv], ...] = (
    ("/usr/sbin/netstat", ("netstat", "-n", "-a", "-A")),
    ("/usr/sbin/lsof", ("lsof", "-n", "-P", "-i")),
    ("/sbin/ifconfig", ("ifconfig", "-a")),
    ("/usr/sbin/scutil", ("scutil", "--dns")),
    ("/usr/bin/who", ("who", "-a")),
    ("/usr/sbin/system_profiler", ("system_profiler", "SPNetworkDataType")),
)


def macos_sysdiagnose(world: World, start: int) -> list[Record]:
    host, label = world.mac, LabelMaker("trap-macos-sysdiagnose")
    sysdiagnose = host.spawn(None, "/usr/bin/sysdiagnose", ("/usr/bin/sysdiagnose", "-u"), uid=0)
    records = [host.exec_event(sysdiagnose, start, label("sysdiagnose", NEGATIVE, "sysdiagnose -u"))]
    at = start + SECOND
    for image, argv in SYSDIAGNOSE_COMMANDS:
        child = host.spawn(sysdiagnose, image, argv)
        records.append(host.exec_event(child, at, label("sysdiagnose", NEGATIVE, " ".join(argv))))
        at += 400 * MILLISECOND
    return records
