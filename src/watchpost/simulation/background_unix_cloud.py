"""Benign background of the Linux, macOS and cloud platforms (see `watchpost.simulation.background`)."""

from __future__ import annotations

import random
from collections.abc import Callable

from watchpost.simulation.cloud_events import CLI_AGENT, CONSOLE_AGENT, AwsPrincipal
from watchpost.simulation.records import MILLISECOND, NEGATIVE, SECOND, Label, Record
from watchpost.simulation.unix_events import UnixProcess
from watchpost.simulation.world import World

Activity = Callable[[int], list[Record]]

CRON_JOBS = (
    ("/usr/sbin/logrotate", ("/usr/sbin/logrotate", "/etc/logrotate.conf")),
    ("/usr/lib/php/sessionclean", ("/usr/lib/php/sessionclean",)),
    ("/usr/bin/run-parts", ("run-parts", "--report", "/etc/cron.hourly")),
    ("/usr/bin/certbot", ("/usr/bin/certbot", "-q", "renew")),
    ("/usr/lib/sysstat/debian-sa1", ("/usr/lib/sysstat/debian-sa1", "1", "1")),
)
USER_COMMANDS = (
    ("/usr/bin/ls", ("ls", "-la")),
    ("/usr/bin/git", ("git", "pull", "--ff-only")),
    ("/usr/bin/vim.basic", ("vim", "/etc/nginx/sites-available/default")),
    ("/usr/bin/systemctl", ("systemctl", "status", "nginx")),
    ("/usr/bin/tail", ("tail", "-n", "100", "/var/log/nginx/access.log")),
    ("/usr/bin/df", ("df", "-h")),
    ("/usr/bin/free", ("free", "-m")),
    ("/usr/bin/grep", ("grep", "-c", "500", "/var/log/nginx/access.log")),
)
MAC_COMMANDS = (
    ("/usr/bin/git", ("git", "status")),
    ("/bin/ls", ("ls", "-G")),
    ("/opt/homebrew/bin/brew", ("brew", "update")),
    ("/usr/bin/python3", ("python3", "manage.py", "runserver")),
    ("/usr/bin/ssh", ("ssh", "jump01.corp.example")),
)
MAC_DAEMONS = (
    (
        "/System/Library/Frameworks/CoreServices.framework/Versions/A/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared",
        ("mdworker_shared", "-s", "mdworker", "-c", "MDSImporterWorker", "-m", "com.apple.mdworker.shared"),
    ),
    ("/usr/libexec/xpcproxy", ("xpcproxy", "com.apple.quicklook.ThumbnailsAgent")),
    (
        "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
        ("softwareupdated",),
    ),
    ("/usr/libexec/trustd", ("trustd", "--agent")),
)


def near(activity: str, note: str) -> Label:
    return Label("background", activity, NEGATIVE, note)


class LinuxActivities:
    """web01: cron jobs, SSH logins with the Ubuntu login banner, Zabbix and Nagios checks."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.host, self.rng = world.linux, rng
        host = self.host
        self.cron = UnixProcess(612, "/usr/sbin/cron", ("/usr/sbin/cron", "-f", "-P"), "root", 0, host.init)
        self.zabbix = UnixProcess(
            901,
            "/usr/sbin/zabbix_agentd",
            ("/usr/sbin/zabbix_agentd", "-c", "/etc/zabbix/zabbix_agentd.conf"),
            "zabbix",
            112,
            host.init,
        )
        self.nrpe = UnixProcess(
            944,
            "/usr/sbin/nrpe",
            ("/usr/sbin/nrpe", "-c", "/etc/nagios/nrpe.cfg", "-f"),
            "nagios",
            113,
            host.init,
        )
        self.session = 40
        choices = [(self.cron_job, 30), (self.login, 4), (self.zabbix_check, 10), (self.nagios_check, 5)]
        self.activities = [activity for activity, weight in choices for _ in range(weight)]

    def activity(self, at: int) -> list[Record]:
        return self.rng.choice(self.activities)(at)

    def cron_job(self, at: int) -> list[Record]:
        host = self.host
        image, argv = self.rng.choice(CRON_JOBS)
        sh = host.spawn(self.cron, "/usr/bin/dash", ("/bin/sh", "-c", " ".join(argv)))
        sh.auid, sh.session = 0, self.rng.randrange(100, 900)
        job = host.spawn(sh, image, argv)
        return [host.execve(sh, at), host.execve(job, at + 4 * MILLISECOND)]

    def zabbix_check(self, at: int) -> list[Record]:
        """Zabbix UserParameter: ``netstat -ant | grep -c ESTABLISHED`` as the zabbix account."""
        host = self.host
        label = near("zabbix netstat", "Zabbix agent counts connections")
        sh = host.spawn(self.zabbix, "/usr/bin/dash", ("sh", "-c", "netstat -ant | grep -c ESTABLISHED"))
        netstat = host.spawn(sh, "/usr/bin/netstat", ("netstat", "-ant"))
        grep = host.spawn(sh, "/usr/bin/grep", ("grep", "-c", "ESTABLISHED"))
        return [
            host.execve(sh, at),
            host.execve(netstat, at + 2 * MILLISECOND, label),
            host.execve(grep, at + 2 * MILLISECOND + 300),
        ]

    def nagios_check(self, at: int) -> list[Record]:
        """An NRPE plugin that summarises sockets with ``ss -s`` as the nagios account."""
        host = self.host
        label = near("nagios ss", "Nagios plugin runs ss -s")
        script = host.spawn(
            self.nrpe, "/usr/bin/bash", ("/bin/bash", "/usr/lib/nagios/plugins/check_sockets.sh", "-w", "800")
        )
        ss = host.spawn(script, "/usr/bin/ss", ("ss", "-s"))
        return [host.execve(script, at), host.execve(ss, at + 5 * MILLISECOND, label)]

    def login(self, at: int) -> list[Record]:
        """alice logs in over SSH: PAM records, the login banner (uname, landscape-sysinfo -> who -q),
        then a few commands of her own."""
        host = self.host
        self.session += 1
        address = "10.20.30.77"
        records = [
            host.user_record(kind, "alice", self.session, at + i * 3 * MILLISECOND, address)
            for i, kind in enumerate(("USER_AUTH", "USER_ACCT", "CRED_ACQ", "LOGIN", "USER_START"))
        ]
        shell = host.login_shell("alice", self.session, f"pts{self.rng.randrange(0, 4)}", "/home/alice")
        sshd = shell.parent
        banner = host.spawn(
            sshd, "/usr/bin/run-parts", ("run-parts", "--lsbsysinit", "/etc/update-motd.d"), "root"
        )
        header = host.spawn(banner, "/usr/bin/dash", ("/bin/sh", "/etc/update-motd.d/00-header"))
        moment = at + 20 * MILLISECOND
        records += [host.execve(banner, moment), host.execve(header, moment + 2 * MILLISECOND)]
        for flag in ("-o", "-r", "-m"):
            moment += 3 * MILLISECOND
            records.append(host.execve(host.spawn(header, "/usr/bin/uname", ("uname", flag)), moment))
        landscape_sh = host.spawn(
            banner, "/usr/bin/dash", ("/bin/sh", "/etc/update-motd.d/50-landscape-sysinfo")
        )
        python = host.spawn(
            landscape_sh, "/usr/bin/python3.10", ("/usr/bin/python3", "/usr/bin/landscape-sysinfo")
        )
        who = host.spawn(python, "/usr/bin/who", ("who", "-q"))
        records += [
            host.execve(landscape_sh, moment + 10 * MILLISECOND),
            host.execve(python, moment + 12 * MILLISECOND),
            host.execve(
                who, moment + 480 * MILLISECOND, near("landscape-sysinfo who", "Ubuntu login banner")
            ),
        ]
        moment = at + 2 * SECOND
        records.append(host.execve(shell, moment))
        for _ in range(self.rng.randrange(1, 4)):
            moment += self.rng.randrange(5, 90) * SECOND
            image, argv = self.rng.choice(USER_COMMANDS)
            records.append(host.execve(host.spawn(shell, image, argv), moment))
        return records


class MacActivities:
    """mbp-alice: daemons, alice's Terminal, the daily periodic run, Jamf inventory."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.host, self.rng = world.mac, rng
        host = self.host
        self.zsh = host.spawn(None, "/bin/zsh", ("-zsh",), uid=501, cwd="/Users/alice")
        self.zsh.auid, self.zsh.session, self.zsh.tty = 501, 100012, "ttys002"
        self.jamf = host.spawn(None, "/usr/local/jamf/bin/jamf", ("/usr/local/jamf/bin/jamf", "recon"), uid=0)
        choices = [(self.daemon, 30), (self.user_command, 25), (self.periodic, 1), (self.jamf_recon, 2)]
        self.activities = [activity for activity, weight in choices for _ in range(weight)]

    def activity(self, at: int) -> list[Record]:
        return self.rng.choice(self.activities)(at)

    def daemon(self, at: int) -> list[Record]:
        image, argv = self.rng.choice(MAC_DAEMONS)
        return [self.host.exec_event(self.host.spawn(None, image, argv, uid=self.rng.choice((0, 501))), at)]

    def user_command(self, at: int) -> list[Record]:
        image, argv = self.rng.choice(MAC_COMMANDS)
        return [self.host.exec_event(self.host.spawn(self.zsh, image, argv), at)]

    def periodic(self, at: int) -> list[Record]:
        """``periodic daily``: 420.status-network prints the interface table with netstat -i."""
        host = self.host
        label = near("periodic netstat", "periodic daily 420.status-network")
        sh = host.spawn(None, "/bin/sh", ("/bin/sh", "/etc/periodic/daily/420.status-network"), uid=0)
        return [
            host.exec_event(sh, at),
            host.exec_event(
                host.spawn(sh, "/usr/sbin/netstat", ("netstat", "-i")), at + 8 * MILLISECOND, label
            ),
        ]

    def jamf_recon(self, at: int) -> list[Record]:
        label = near("jamf who", "Jamf inventory reads the logged-on users")
        return [self.host.exec_event(self.host.spawn(self.jamf, "/usr/bin/who", ("who",)), at, label)]


INSTANCE_ROLE = AwsPrincipal("AssumedRole", "web-instance-role", session="i-0a1b2c3d4e5f67890")
DEPLOY_ROLE = AwsPrincipal("AssumedRole", "github-actions-deploy", session="GitHubActions")
CONFIG = AwsPrincipal(
    "AssumedRole", "AWSServiceRoleForConfig", session="AWSConfig-Describe", invoked_by="config.amazonaws.com"
)
BOB = AwsPrincipal("IAMUser", "bob")
CONFIG_CALLS = (
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeSecurityGroups",
    "DescribeRouteTables",
    "DescribeNetworkInterfaces",
    "DescribeInternetGateways",
    "DescribeNetworkAcls",
)


class AwsActivities:
    """Account 111122223333: the web instance's own calls, deployments, AWS Config, a console user."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.log, self.rng = world.cloud, rng
        choices = [(self.instance, 30), (self.deploy, 8), (self.config, 2), (self.console, 2)]
        self.activities = [activity for activity, weight in choices for _ in range(weight)]

    def activity(self, at: int) -> list[Record]:
        return self.rng.choice(self.activities)(at)

    def instance(self, at: int) -> list[Record]:
        source, name = self.rng.choice(
            (
                ("ssm.amazonaws.com", "GetParameters"),
                ("kms.amazonaws.com", "Decrypt"),
                ("secretsmanager.amazonaws.com", "GetSecretValue"),
                ("ec2.amazonaws.com", "DescribeTags"),
            )
        )
        agent = (
            "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/" + name.lower()
        )
        return [self.log.cloudtrail(INSTANCE_ROLE, at, source, name, address="10.20.1.15", agent=agent)]

    def deploy(self, at: int) -> list[Record]:
        calls = (
            ("ecr.amazonaws.com", "GetAuthorizationToken", True),
            ("ecs.amazonaws.com", "DescribeServices", True),
            ("ecs.amazonaws.com", "RegisterTaskDefinition", False),
            ("ecs.amazonaws.com", "UpdateService", False),
        )
        return [
            self.log.cloudtrail(
                DEPLOY_ROLE,
                at + i * 2 * SECOND,
                source,
                name,
                address="140.82.112.4",
                agent=CLI_AGENT.format(command=name.lower()),
                read_only=ro,
            )
            for i, (source, name, ro) in enumerate(calls)
        ]

    def config(self, at: int) -> list[Record]:
        """AWS Config recording the network resources (a service acting for the account)."""
        label = near("aws config", "AWS Config describes the network")
        return [
            self.log.cloudtrail(
                CONFIG,
                at + i * 400 * MILLISECOND,
                "ec2.amazonaws.com",
                name,
                address="config.amazonaws.com",
                agent="config.amazonaws.com",
                label=label,
            )
            for i, name in enumerate(CONFIG_CALLS)
        ]

    def console(self, at: int) -> list[Record]:
        """bob opens the EC2 instances page of the console (two network calls among them)."""
        label = near("console ec2 page", "console page: two network Describe calls")
        names = ("DescribeInstances", "DescribeInstanceStatus", "DescribeVpcs", "DescribeSubnets")
        return [
            self.log.cloudtrail(
                BOB,
                at + i * 150 * MILLISECOND,
                "ec2.amazonaws.com",
                name,
                address="198.18.0.44",
                agent=CONSOLE_AGENT,
                region="eu-west-1",
                label=label if "Vpc" in name or "Subnet" in name else None,
            )
            for i, name in enumerate(names)
        ]


class GcpActivities:
    """Project prod-net-4711: monitoring reads, the GKE service agent, a Terraform plan."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.log, self.rng = world.cloud, rng
        choices = [(self.monitoring, 20), (self.gke_agent, 2), (self.terraform, 2)]
        self.activities = [activity for activity, weight in choices for _ in range(weight)]

    def activity(self, at: int) -> list[Record]:
        return self.rng.choice(self.activities)(at)

    def monitoring(self, at: int) -> list[Record]:
        method = self.rng.choice(
            ("v1.compute.instances.list", "v1.compute.disks.list", "v1.compute.zones.list")
        )
        return [
            self.log.gcp_audit(
                "monitoring@prod-net-4711.iam.gserviceaccount.com",
                at,
                method,
                "zones/europe-west1-b/instances",
                address="10.128.0.9",
                agent="google-api-go-client/0.5 Stackdriver-Agent",
            )
        ]

    def gke_agent(self, at: int) -> list[Record]:
        label = near("gke service agent", "GKE service agent lists networks")
        agent_email = "service-123456789012@container-engine-robot.iam.gserviceaccount.com"
        methods = ("v1.compute.networks.get", "v1.compute.subnetworks.list", "v1.compute.firewalls.list")
        return [
            self.log.gcp_audit(
                agent_email,
                at + i * SECOND,
                method,
                "global/networks/default",
                address="private",
                agent="GCE Service Agent",
                label=label,
            )
            for i, method in enumerate(methods)
        ]

    def terraform(self, at: int) -> list[Record]:
        label = near("terraform plan", "one network read by the deployment account")
        return [
            self.log.gcp_audit(
                "terraform@prod-net-4711.iam.gserviceaccount.com",
                at,
                "v1.compute.networks.get",
                "global/networks/prod-vpc",
                address="35.199.1.20",
                agent="Terraform/1.9.5 (+https://www.terraform.io) google-provider/5.40.0",
                label=label,
            )
        ]


def activity_source(world: World, platform: str, rng: random.Random) -> Activity:
    sources: dict[
        str, Callable[[World, random.Random], LinuxActivities | MacActivities | AwsActivities | GcpActivities]
    ] = {
        "linux": LinuxActivities,
        "macos": MacActivities,
        "aws": AwsActivities,
        "gcp": GcpActivities,
    }
    return sources[platform](world, rng).activity
