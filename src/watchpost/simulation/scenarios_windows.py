"""Windows scenarios: the seed note's test cases and the Windows Atomic Red Team tests.

Each builder takes the `World` and a start time and returns the records of the attack, labelled.
Commands typed at a ``cmd.exe`` prompt get the command line cmd.exe really passes (``net  use``,
see `typed`); programs started from PowerShell get the full quoted path.
"""

from __future__ import annotations

from watchpost.simulation.records import COMPANION, CONTEXT, MILLISECOND, POSITIVE, SECOND, Record
from watchpost.simulation.windows_events import WindowsHost
from watchpost.simulation.windows_model import POWERSHELL_EXE, WinProcess, typed
from watchpost.simulation.world import LabelMaker, World

ATOMIC_PS_PARENT = "powershell.exe -ExecutionPolicy Bypass -NoExit -Command Invoke-AtomicTest T1049"
NETTCPIP_MODULE = (
    "\n#requires -version 3.0\n\ntry { Microsoft.PowerShell.Core\\Set-StrictMode -Off } catch { }\n\n"
    "$script:MyModule = $MyInvocation.MyCommand.ScriptBlock.Module\n\n"
    "$script:ClassName = 'ROOT/StandardCimv2/MSFT_NetTCPConnection'\n$script:ClassVersion = '1.0.0'\n"
    "$script:ModuleVersion = '1.0.0'\n"
    "$script:ObjectModelWrapper = [Microsoft.PowerShell.Cmdletization.Cim.CimCmdletAdapter]\n\n"
    "$script:PrivateData = [System.Collections.Generic.Dictionary[string,string]]::new()\n\n"
    "function Get-NetTCPConnection\n{\n    [CmdletBinding(DefaultParameterSetName='ByName')]\n"
    "    [OutputType([Microsoft.Management.Infrastructure.CimInstance])]\n    param(\n"
    "    [Parameter(ParameterSetName='ByName', Position=0)]\n    [System.String[]]\n    ${LocalAddress})\n"
    "    Begin {\n        $__cmdletization_objectModelWrapper = $script:ObjectModelWrapper::new()\n"
    "    }\n}\n\n"
    "Microsoft.PowerShell.Core\\Export-ModuleMember -Function 'Get-NetTCPConnection' -Alias '*'\n"
)
EXPORT_PAYLOAD = (
    'CommandInvocation(Export-ModuleMember): "Export-ModuleMember"\r\n'
    'ParameterBinding(Export-ModuleMember): name="Function"; value="Get-NetTCPConnection"\r\n'
    'ParameterBinding(Export-ModuleMember): name="Alias"; value="*"\r\n'
)


def admin_prompt(
    world: World, start: int, label: LabelMaker, activity: str
) -> tuple[WinProcess, list[Record]]:
    """The seed note's elevated prompt ``C:\\Users\\Administrator>`` on the server (its start is
    logged: context), left running."""
    host = world.server
    explorer = host.spawn(
        None, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", world.administrator, "High"
    )
    explorer.cwd = "C:\\Users\\Administrator\\"
    shell = host.spawn(explorer, "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ')
    return shell, host.start_records(shell, start, label(activity, CONTEXT, "the prompt of the test case"))


def typed_command(
    host: WindowsHost,
    shell: WinProcess,
    word: str,
    arguments: str,
    start: int,
    duration: int,
    label: LabelMaker,
    activity: str,
    kind: str = POSITIVE,
    image: str | None = None,
    status: int = 0,
) -> tuple[WinProcess, list[Record]]:
    """A program typed at ``shell``'s prompt: its start labelled ``kind``, its exit a companion."""
    program = image or f"{word}.exe"
    finish = label(activity, COMPANION if kind == POSITIVE else kind, "process exit")
    return host.run(
        shell,
        program,
        typed(word, arguments),
        start,
        duration,
        label(activity, kind, typed(word, arguments)),
        finish,
        status=status,
    )


def seed_netstat(world: World, start: int) -> list[Record]:
    """The seed note's "C:\\Users\\Administrator>netstat": 4688, 4703 SeDebugPrivilege, 4689."""
    host, label = world.server, LabelMaker("seed-netstat")
    shell, records = admin_prompt(world, start, label, "netstat")
    netstat = host.spawn(shell, "NETSTAT.EXE", "netstat")
    at = start + 41 * SECOND + 318 * MILLISECOND
    records.append(host.security_4688(netstat, at, label("netstat", POSITIVE, "netstat")))
    records.append(
        host.security_4703(
            netstat, at + 18 * MILLISECOND, label=label("netstat", COMPANION, "4703 SeDebugPrivilege")
        )
    )
    records.extend(
        host.exit_records(netstat, at + 94 * MILLISECOND, label("netstat", COMPANION, "process exit"))
    )
    return records


def seed_net_use(world: World, start: int) -> list[Record]:
    """The seed note's "net use" (the list is empty): 4688 of net.exe with "net  use", 4689."""
    host, label = world.server, LabelMaker("seed-net-use")
    shell, records = admin_prompt(world, start, label, "net use")
    _, more = typed_command(
        host, shell, "net", "use", start + 77 * SECOND, 76 * MILLISECOND, label, "net use"
    )
    return records + more


def seed_net_session(world: World, start: int) -> list[Record]:
    """The seed note's "net session": net.exe hands over to net1.exe; both start and exit."""
    host, label = world.server, LabelMaker("seed-net-session")
    shell, records = admin_prompt(world, start, label, "net session")
    records += net_with_hop(host, shell, "session", start + 12 * SECOND, label, "net session")
    return records


def net_with_hop(
    host: WindowsHost,
    shell: WinProcess,
    verb: str,
    at: int,
    label: LabelMaker,
    activity: str,
    kind: str = POSITIVE,
) -> list[Record]:
    """``net <verb>`` typed in ``shell``: net.exe starts net1.exe with the same arguments."""
    net = host.spawn(shell, "net.exe", typed("net", verb), integrity=shell.integrity)
    records = host.start_records(net, at, label(activity, kind, typed("net", verb)))
    net1 = host.spawn(net, "net1.exe", "C:\\Windows\\system32\\" + typed("net1", verb))
    follow = COMPANION if kind == POSITIVE else kind
    records += host.start_records(net1, at + 11 * MILLISECOND, label(activity, follow, "net1.exe hop"))
    records += host.exit_records(net1, at + 52 * MILLISECOND, label(activity, follow, "net1.exe exit"))
    records += host.exit_records(net, at + 58 * MILLISECOND, label(activity, follow, "net.exe exit"))
    return records


def invoke_atomic_parent(world: World, start: int, label: LabelMaker) -> tuple[WinProcess, list[Record]]:
    """The elevated PowerShell that runs Invoke-AtomicTest on the workstation."""
    host = world.workstation
    ps = host.spawn(host.services["svchost_netsvcs"], POWERSHELL_EXE, ATOMIC_PS_PARENT, world.alice, "High")
    return ps, host.start_records(ps, start, label("invoke-atomictest", CONTEXT, "Invoke-AtomicTest"))


def atomic_t1049_1(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 1 (0940a971): cmd runs "netstat -ano", "net use", "net sessions 2>nul"."""
    host, label = world.workstation, LabelMaker("atomic-t1049-1")
    runner, records = invoke_atomic_parent(world, start, label)
    shell = host.spawn(runner, "cmd.exe", '"cmd.exe" /c netstat -ano & net use & net sessions 2>nul')
    records += host.start_records(shell, start + 2 * SECOND, label("atomic cmd", CONTEXT, "cmd /c"))
    at = start + 2 * SECOND + 40 * MILLISECOND
    _, more = typed_command(
        host, shell, "netstat", "-ano", at, 1_830 * MILLISECOND, label, "netstat -ano", image="NETSTAT.EXE"
    )
    records += more
    _, more = typed_command(
        host, shell, "net", "use", at + 1_900 * MILLISECOND, 70 * MILLISECOND, label, "net use"
    )
    records += more
    records += net_with_hop(host, shell, "sessions ", at + 2_010 * MILLISECOND, label, "net sessions")
    records += host.exit_records(shell, at + 2_100 * MILLISECOND, label("atomic cmd", CONTEXT, "cmd exit"))
    return records


def powershell_test(
    world: World,
    start: int,
    label: LabelMaker,
    activity: str,
    script: str,
    invocations: list[tuple[str, str, str]],
) -> list[Record]:
    """An Atomic powershell-executor test: ``powershell.exe & {<script>}`` and what it logs.

    ``invocations``: (command, payload, label) of each 4103 pipeline. The NetTCPIP module auto-load
    (4104 module text, 4103 Export-ModuleMember) comes
    first when Get-NetTCPConnection is used: context, not a call.
    """
    host = world.workstation
    runner, records = invoke_atomic_parent(world, start, label)
    flat = " ".join(line.strip() for line in script.splitlines() if line.strip())
    ps = host.spawn(runner, POWERSHELL_EXE, f'"powershell.exe" & {{{flat}}}', integrity="High")
    at = start + 2 * SECOND
    records += host.start_records(ps, at, label(activity, POSITIVE, "powershell.exe & {...}"))
    records.append(
        host.script_block(ps, at + 640 * MILLISECOND, f"& {{{script}}}", label(activity, POSITIVE, "4104"))
    )
    records.append(
        host.script_block(ps, at + 655 * MILLISECOND, script, label(activity, POSITIVE, "4104 inner"))
    )
    moment = at + 700 * MILLISECOND
    if "Get-NetTCPConnection" in script:
        auto = label(activity, CONTEXT, "NetTCPIP module auto-load")
        records.append(host.script_block(ps, moment, NETTCPIP_MODULE, auto))
        records.append(
            host.module_event(ps, moment + 6 * MILLISECOND, EXPORT_PAYLOAD, "Export-ModuleMember", auto)
        )
        moment += 30 * MILLISECOND
    for command, payload, kind in invocations:
        records.append(
            host.module_event(ps, moment, payload, command, label(activity, kind, f"4103 {command}"))
        )
        moment += 9 * MILLISECOND
    records += host.exit_records(
        ps, moment + 300 * MILLISECOND, label(activity, COMPANION, "powershell exit")
    )
    return records


def atomic_t1049_2(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 2 (f069f0f1): Get-NetTCPConnection."""
    payload = 'CommandInvocation(Get-NetTCPConnection): "Get-NetTCPConnection"\r\n'
    return powershell_test(
        world,
        start,
        LabelMaker("atomic-t1049-2"),
        "Get-NetTCPConnection",
        "Get-NetTCPConnection",
        [("Get-NetTCPConnection", payload, POSITIVE)],
    )


ATOMIC_3_SCRIPT = """Get-NetTCPConnection | ForEach-Object {
  $p = Get-Process -Id $_.OwningProcess -ErrorAction SilentlyContinue
  [pscustomobject]@{
    Local   = "$($_.LocalAddress):$($_.LocalPort)"
    Remote  = "$($_.RemoteAddress):$($_.RemotePort)"
    State   = $_.State
    PID     = $_.OwningProcess
    Process = if ($p) { $p.ProcessName } else { $null }
  }
} | Sort-Object State,Process | Format-Table -AutoSize"""


def atomic_t1049_3(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 3 (b52c8233): Get-NetTCPConnection mapped to owning processes."""
    pipeline = (
        'CommandInvocation(Get-NetTCPConnection): "Get-NetTCPConnection"\r\n'
        'CommandInvocation(ForEach-Object): "ForEach-Object"\r\n'
        'ParameterBinding(ForEach-Object): name="Process"; value="$p = Get-Process -Id $_.OwningProcess"\r\n'
        'CommandInvocation(Sort-Object): "Sort-Object"\r\n'
        'ParameterBinding(Sort-Object): name="Property"; value="State, Process"\r\n'
        'CommandInvocation(Format-Table): "Format-Table"\r\n'
    )
    getprocess = (
        'CommandInvocation(Get-Process): "Get-Process"\r\n'
        'ParameterBinding(Get-Process): name="Id"; value="1204"\r\n'
    )
    return powershell_test(
        world,
        start,
        LabelMaker("atomic-t1049-3"),
        "Get-NetTCPConnection process mapping",
        ATOMIC_3_SCRIPT,
        [("Get-NetTCPConnection", pipeline, POSITIVE), ("Get-Process", getprocess, CONTEXT)],
    )


SHARPVIEW = "C:\\AtomicRedTeam\\atomics\\..\\ExternalPayloads\\SharpView.exe"


def sharpview_run(
    world: World, at: int, label: LabelMaker, activity: str, methods: list[str], kind: str
) -> list[Record]:
    host = world.workstation
    syntax = ", ".join(f'"{method}"' for method in methods)
    script = f"$syntaxList = {syntax}\nforeach ($syntax in $syntaxList) {{\n{SHARPVIEW} $syntax -}}"
    runner, records = invoke_atomic_parent(world, at, label)
    flat = script.replace("\n", " ")
    ps = host.spawn(runner, POWERSHELL_EXE, f'"powershell.exe" & {{{flat}}}', integrity="High")
    records += host.start_records(ps, at + SECOND, label(activity, kind, "powershell.exe & {...}"))
    follow = COMPANION if kind == POSITIVE else kind
    records.append(
        host.script_block(ps, at + 1_600 * MILLISECOND, f"& {{{script}}}", label(activity, follow, "4104"))
    )
    moment = at + 2 * SECOND
    for method in methods:
        _, more = host.run(
            ps,
            SHARPVIEW,
            f"{SHARPVIEW} {method} -",
            moment,
            2_400 * MILLISECOND,
            label(activity, kind, f"SharpView {method}"),
            label(activity, follow, "exit"),
        )
        records += more
        moment += 2_600 * MILLISECOND
    records += host.exit_records(ps, moment, label(activity, follow, "powershell exit"))
    return records


def atomic_t1049_7(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 7 (96f974bb): SharpView, first with the test's default methods (none of
    them T1049: ACL scanning, Kerberoasting, share discovery), then with the ``syntax`` input set
    to SharpView's T1049 methods."""
    label = LabelMaker("atomic-t1049-7")
    records = sharpview_run(
        world,
        start,
        label,
        "SharpView default methods",
        ["Invoke-ACLScanner", "Invoke-Kerberoast", "Find-DomainShare"],
        CONTEXT,
    )
    records += sharpview_run(
        world,
        start + 40 * SECOND,
        label,
        "SharpView T1049 methods",
        ["Get-NetSession", "Get-NetLoggedon", "Get-NetRDPSession"],
        POSITIVE,
    )
    return records


def qwinsta_loop(host: WindowsHost, shell: WinProcess, at: int, label: LabelMaker) -> list[Record]:
    """The test's ``for /F ... in ('qwinsta /server:localhost ^| findstr "Active Disc"')``."""
    loop = host.spawn(
        shell,
        "cmd.exe",
        'C:\\Windows\\system32\\cmd.exe /c qwinsta /server:localhost | findstr "Active Disc"',
    )
    records = host.start_records(loop, at, label("for loop", CONTEXT, "for /F ... qwinsta"))
    _, more = host.run(
        loop,
        "qwinsta.exe",
        "qwinsta  /server:localhost",
        at + 20 * MILLISECOND,
        280 * MILLISECOND,
        label("for loop qwinsta", POSITIVE, "qwinsta in a for loop"),
        label("for loop qwinsta", COMPANION),
    )
    return records + more + host.exit_records(loop, at + 400 * MILLISECOND, label("for loop", CONTEXT))


def atomic_t1033_1(world: World, start: int) -> list[Record]:
    """Atomic T1033 test 1 (4c4959bf): whoami, wmic, quser, qwinsta. By the pack's policy qwinsta
    (session listing) is T1049 and quser (user listing) T1033 only."""
    host, label = world.workstation, LabelMaker("atomic-t1033-1")
    runner, records = invoke_atomic_parent(world, start, label)
    shell = host.spawn(runner, "cmd.exe", '"cmd.exe" /c cmd.exe /C whoami & wmic useraccount get /ALL & ...')
    records += host.start_records(shell, start + SECOND, label("atomic cmd", CONTEXT, "cmd /c"))
    at = start + SECOND + 30 * MILLISECOND
    whoami_shell = host.spawn(shell, "cmd.exe", typed("cmd.exe", "/C whoami"))
    records += host.start_records(whoami_shell, at, label("whoami", CONTEXT, "cmd.exe /C whoami"))
    _, more = host.run(
        whoami_shell,
        "whoami.exe",
        "whoami",
        at + 20 * MILLISECOND,
        70 * MILLISECOND,
        label("whoami", CONTEXT),
        label("whoami", CONTEXT),
    )
    records += more + host.exit_records(whoami_shell, at + 100 * MILLISECOND, label("whoami", CONTEXT))
    at += 130 * MILLISECOND
    steps = [
        ("wmic", "useraccount get /ALL", CONTEXT, "WMIC.exe", 2400),
        ("quser", '/SERVER:"localhost"', CONTEXT, "quser.exe", 300),
        ("quser", "", CONTEXT, "quser.exe", 120),
        ("qwinsta.exe", "/server:localhost", POSITIVE, "qwinsta.exe", 310),
        ("qwinsta.exe", "", POSITIVE, "qwinsta.exe", 110),
    ]
    for word, arguments, kind, image, millis in steps:
        _, more = typed_command(
            host,
            shell,
            word,
            arguments,
            at,
            millis * MILLISECOND,
            label,
            f"{word} {arguments}".strip(),
            kind,
            image=image,
        )
        records += more
        at += (millis + 40) * MILLISECOND
    records += qwinsta_loop(host, shell, at, label)
    records += host.exit_records(shell, at + 500 * MILLISECOND, label("atomic cmd", CONTEXT))
    return records


def burst_windows_c2(world: World, start: int) -> list[Record]:
    """A C2 implant surveying the workstation: each command through its own ``cmd.exe /C``, over
    three minutes, as alice: whoami, ipconfig, systeminfo, net view (context), netstat -ano and
    net session (T1049)."""
    host, label = world.workstation, LabelMaker("burst-windows-c2")
    explorer = host.spawn(
        None, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", world.alice, "Medium"
    )
    implant = host.spawn(
        explorer,
        "C:\\Users\\alice\\AppData\\Local\\Temp\\OneDriveUpdater.exe",
        '"C:\\Users\\alice\\AppData\\Local\\Temp\\OneDriveUpdater.exe" /silent',
    )
    records = host.start_records(implant, start, label("implant", CONTEXT, "implant start"))
    plan = [
        ("whoami", "/all", CONTEXT, "whoami.exe", 14),
        ("ipconfig", "/all", CONTEXT, "ipconfig.exe", 41),
        ("systeminfo", "", CONTEXT, "systeminfo.exe", 63),
        ("net", "view", CONTEXT, "net.exe", 97),
        ("netstat", "-ano", POSITIVE, "NETSTAT.EXE", 128),
        ("net", "session", POSITIVE, "net.exe", 171),
    ]
    for word, arguments, kind, image, offset in plan:
        at = start + offset * SECOND
        activity = f"{word} {arguments}".strip()
        shell = host.spawn(
            implant, "cmd.exe", f"C:\\Windows\\system32\\cmd.exe /C {word} {arguments}".rstrip()
        )
        records += host.start_records(shell, at, label(activity, CONTEXT, "cmd /C"))
        if word == "net":
            records += net_with_hop(host, shell, arguments, at + 30 * MILLISECOND, label, activity, kind)
        else:
            _, more = typed_command(
                host,
                shell,
                word,
                arguments,
                at + 30 * MILLISECOND,
                900 * MILLISECOND,
                label,
                activity,
                kind,
                image=image,
            )
            records += more
        records += host.exit_records(shell, at + SECOND, label(activity, CONTEXT, "cmd exit"))
    return records
