"""Simulated Linux and macOS hosts and the logs they write: auditd (raw, ENRICHED) and eslogger.

Linux: one ``execve`` audit event is the group of records the kernel writes for it (SYSCALL,
EXECVE, CWD, PATH x2, PROCTITLE), each line prefixed with ``node=<host>`` (``name_format =
hostname``) and, on SYSCALL and PATH lines, the ENRICHED translations after a ``\\x1d`` (the
default ``log_format`` since audit 3.0). Arguments with spaces, quotes or control characters and
every multi-argument ``proctitle`` are hex-encoded, as auditd does. Pids grow one by one as a Linux
kernel hands them out; the audit serial grows per record written.

macOS: Endpoint Security ``exec`` messages as ``eslogger exec`` prints them, one JSON object per
line: ``process`` is the forked child before the exec (the parent's image), ``event.exec.target``
the same pid after it (``pidversion`` + 1), with audit tokens, parent and responsible tokens,
arguments and working directory.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import orjson

from watchpost.simulation.records import Label, Record, iso_micros, iso_nanos

AUDIT_UNSET = 4294967295
SERIAL = "\x00serial\x00"
"""Where the audit serial goes in a rendered event (filled in when the record is numbered)."""
SAFE_AUDIT_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"'}


def audit_value(text: str) -> str:
    """A value as auditd writes it: quoted when plain printable ASCII, else upper-case hex."""
    if text and all(char in SAFE_AUDIT_CHARS for char in text):
        return f'"{text}"'
    return text.encode().hex().upper()


@dataclass(slots=True)
class UnixProcess:
    """A process of a simulated Linux or macOS host."""

    pid: int
    image: str
    argv: tuple[str, ...]
    user: str
    uid: int
    parent: UnixProcess | None
    auid: int = AUDIT_UNSET
    session: int = AUDIT_UNSET
    tty: str = "(none)"
    cwd: str = "/"
    pidversion: int = 1

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)


@dataclass
class LinuxHost:
    """A Linux host with auditd; `execve` returns the audit event of one exec as a `Record`."""

    name: str
    rng: random.Random
    users: dict[str, int] = field(default_factory=lambda: {"root": 0})
    next_pid: int = 1200

    def __post_init__(self) -> None:
        self.audit_log = f"linux/{self.name.split('.')[0]}/audit.log"
        self.serial_base = self.rng.randrange(10_000, 500_000)
        self.init = UnixProcess(1, "/usr/lib/systemd/systemd", ("/sbin/init", "splash"), "root", 0, None)

    @property
    def logs(self) -> tuple[str]:
        return (self.audit_log,)

    def spawn(
        self,
        parent: UnixProcess | None,
        image: str,
        argv: tuple[str, ...],
        user: str | None = None,
        cwd: str | None = None,
    ) -> UnixProcess:
        """A child of ``parent`` that has exec'd ``image`` (same login session as the parent)."""
        self.next_pid += self.rng.randrange(1, 40)
        owner = user if user is not None else (parent.user if parent is not None else "root")
        uid = self.users.setdefault(owner, 1000 + len(self.users))
        ancestor = parent or self.init
        return UnixProcess(
            self.next_pid,
            image,
            argv,
            owner,
            uid,
            ancestor,
            ancestor.auid,
            ancestor.session,
            ancestor.tty,
            cwd or ancestor.cwd,
        )

    def login_shell(self, user: str, session: int, tty: str, home: str) -> UnixProcess:
        """The shell of an SSH login (its sshd parent is not in the log: it started earlier)."""
        uid = self.users.setdefault(user, 1000 + len(self.users))
        self.next_pid += self.rng.randrange(5, 60)
        sshd = UnixProcess(
            self.next_pid - 2,
            "/usr/sbin/sshd",
            (f"sshd: {user}@{tty}",),
            user,
            uid,
            self.init,
            uid,
            session,
            tty,
            home,
        )
        return UnixProcess(
            self.next_pid, "/usr/bin/bash", ("-bash",), user, uid, sshd, uid, session, tty, home
        )

    def name_of(self, uid: int) -> str:
        if uid == AUDIT_UNSET:
            return "unset"
        for name, value in self.users.items():
            if value == uid:
                return name
        return str(uid)

    def execve(
        self,
        process: UnixProcess,
        time_us: int,
        label: Label | None = None,
        key: str | None = None,
        interpreter: str = "/lib64/ld-linux-x86-64.so.2",
    ) -> Record:
        """The audit event of ``process``'s execve at ``time_us`` (six records, one per line)."""
        parent = process.parent or self.init
        uid, gid = process.uid, process.uid
        user = self.name_of(uid)
        seconds, micros = divmod(time_us, 1_000_000)
        stamp = f"{seconds}.{micros // 1000:03d}"
        node = f"node={self.name} "
        ids = (
            f"ppid={parent.pid} pid={process.pid} auid={process.auid} uid={uid} gid={gid} euid={uid} "
            f"suid={uid} fsuid={uid} egid={gid} sgid={gid} fsgid={gid} "
            f"tty={process.tty} ses={process.session}"
        )
        names = " ".join(
            f'{n}="{user}"' for n in ("UID", "GID", "EUID", "SUID", "FSUID", "EGID", "SGID", "FSGID")
        )
        comm = process.image.rsplit("/", 1)[-1][:15]
        key_text = audit_value(key) if key else "(null)"
        argv = " ".join(f"a{i}={audit_value(arg)}" for i, arg in enumerate(process.argv))
        title = "\0".join(process.argv)
        proctitle = audit_value(title) if "\0" not in title else title.encode().hex().upper()
        inode = self.rng.randrange(1_000_000, 60_000_000)
        head = f"{node}type=%s msg=audit({stamp}:{SERIAL}): "
        lines = (
            f"SYSCALL|arch=c000003e syscall=59 success=yes exit=0 "
            f'a0=55d3c1a2e0f0 a1=55d3c1a2df10 a2=55d3c1a31c80 a3=8 items=2 {ids} comm="{comm}" '
            f'exe="{process.image}" subj=unconfined key={key_text}\x1dARCH=x86_64 SYSCALL=execve '
            f'AUID="{self.name_of(process.auid)}" {names}',
            f"EXECVE|argc={len(process.argv)} {argv}",
            f'CWD|cwd="{process.cwd}"',
            f'PATH|item=0 name="{process.image}" inode={inode} dev=fd:00 '
            "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
            'cap_frootid=0\x1dOUID="root" OGID="root"',
            f'PATH|item=1 name="{interpreter}" inode=33555612 dev=fd:00 '
            "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
            'cap_frootid=0\x1dOUID="root" OGID="root"',
            f"PROCTITLE|proctitle={proctitle}",
        )
        template = "\n".join(head % kind + rest for kind, rest in (line.split("|", 1) for line in lines))
        return self._record(time_us, template, label)

    def _record(self, time_us: int, template: str, label: Label | None) -> Record:
        parts = template.split(SERIAL)
        base = self.serial_base
        return Record(time_us, self.audit_log, lambda n: str(n + base).join(parts), label)

    def user_record(
        self,
        kind: str,
        user: str,
        session: int,
        time_us: int,
        address: str,
        result: str = "success",
        label: Label | None = None,
    ) -> Record:
        """A PAM record written by sshd (USER_AUTH, USER_ACCT, CRED_ACQ, USER_START, USER_END...)."""
        uid = self.users.setdefault(user, 1000 + len(self.users))
        seconds, micros = divmod(time_us, 1_000_000)
        auid = uid if kind in ("USER_START", "USER_END", "CRED_DISP") else AUDIT_UNSET
        ses = session if auid != AUDIT_UNSET else AUDIT_UNSET
        text = (
            f"node={self.name} type={kind} msg=audit({seconds}.{micros // 1000:03d}:{SERIAL}): "
            f"pid={self.next_pid} "
            f'uid=0 auid={auid} ses={ses} subj=unconfined msg=\'op=PAM:session_open acct="{user}" '
            f'exe="/usr/sbin/sshd" hostname={address} addr={address} terminal=ssh res={result}\''
            '\x1dUID="root" '
            f'AUID="{user if auid != AUDIT_UNSET else "unset"}"'
        )
        return self._record(time_us, text, label)


@dataclass
class MacHost:
    """A macOS host whose Endpoint Security exec events eslogger writes."""

    name: str
    rng: random.Random
    next_pid: int = 3800

    def __post_init__(self) -> None:
        self.eslogger_log = f"macos/{self.name.split('.')[0]}/eslogger.jsonl"
        self.sequence_base = self.rng.randrange(10_000, 500_000)
        self.mach_base = self.rng.randrange(10**12, 10**13)
        self.launchd = UnixProcess(1, "/sbin/launchd", ("/sbin/launchd",), "root", 0, None, auid=AUDIT_UNSET)

    @property
    def logs(self) -> tuple[str]:
        return (self.eslogger_log,)

    def spawn(
        self,
        parent: UnixProcess | None,
        image: str,
        argv: tuple[str, ...],
        uid: int | None = None,
        cwd: str | None = None,
    ) -> UnixProcess:
        self.next_pid += self.rng.randrange(1, 30)
        ancestor = parent or self.launchd
        owner = ancestor.uid if uid is None else uid
        return UnixProcess(
            self.next_pid,
            image,
            argv,
            str(owner),
            owner,
            ancestor,
            ancestor.auid,
            ancestor.session,
            ancestor.tty,
            cwd or ancestor.cwd,
            pidversion=self.rng.randrange(1000, 90_000),
        )

    def token(self, process: UnixProcess, version: int | None = None) -> dict[str, int]:
        gid = 20 if process.uid else 0
        return {
            "auid": process.auid,
            "euid": process.uid,
            "egid": gid,
            "ruid": process.uid,
            "rgid": gid,
            "pid": process.pid,
            "asid": process.session,
            "pidversion": version or process.pidversion,
        }

    def describe(self, process: UnixProcess, image: str, version: int, start_us: int) -> dict[str, object]:
        parent = process.parent or self.launchd
        platform = image.startswith(
            ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/libexec/", "/System/")
        )
        name = image.rsplit("/", 1)[-1]
        return {
            "audit_token": self.token(process, version),
            "parent_audit_token": self.token(parent),
            "responsible_audit_token": self.token(parent),
            "ppid": parent.pid,
            "original_ppid": parent.pid,
            "group_id": process.pid,
            "session_id": parent.pid,
            "codesigning_flags": 570522385 if platform else 570425857,
            "is_platform_binary": platform,
            "is_es_client": False,
            "cdhash": hashlib.sha1(image.encode()).hexdigest(),
            "signing_id": f"com.apple.{name}" if platform else name,
            "team_id": None if platform else "EQHXZ8M8AV",
            "executable": {"path": image, "path_truncated": False},
            "tty": {"path": f"/dev/{process.tty}", "path_truncated": False}
            if process.tty != "(none)"
            else None,
            "start_time": iso_micros(start_us),
        }

    def exec_event(self, process: UnixProcess, time_us: int, label: Label | None = None) -> Record:
        """The ``exec`` message of ``process`` (forked from its parent, now exec'ing its image)."""
        parent = process.parent or self.launchd
        fork_us = time_us - self.rng.randrange(200, 3000)
        before = self.describe(process, parent.image, process.pidversion - 1, fork_us)
        after = self.describe(process, process.image, process.pidversion, fork_us)
        event = {
            "exec": {
                "dyld_exec_path": process.image,
                "script": None,
                "image_cputype": 16777228,
                "image_cpusubtype": -2147483646,
                "target": after,
                "args": list(process.argv),
                "cwd": {"path": process.cwd, "path_truncated": False},
                "last_fd": 2,
            }
        }
        mach = self.mach_base + time_us * 24 // 1000
        head = (
            f'{{"schema_version":1,"mach_time":{mach},"event_type":9,'
            f'"thread":{{"thread_id":{self.rng.randrange(10**6, 10**7)}}},"version":7,"seq_num":'
        )
        middle = (
            ',"event":' + orjson.dumps(event).decode() + f',"time":"{iso_nanos(time_us, time_us % 997)}",'
            '"action_type":1,"global_seq_num":'
        )
        tail = ',"process":' + orjson.dumps(before).decode() + "}"
        base = self.sequence_base
        return Record(time_us, self.eslogger_log, lambda n: f"{head}{n}{middle}{n + base}{tail}", label)
