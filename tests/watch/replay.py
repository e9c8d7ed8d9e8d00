"""A labelled stream for the watch tests: bulk Sysmon JSONL events with discovery bursts, and the
seed's Security XML events, in time order; and helpers to run `watchpost watch` as a process."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SEED_EVENTS = PROJECT / "tests" / "fixtures" / "seed"
START = datetime(2021, 3, 15, 8, 10, 0, tzinfo=UTC)
NOISE = ["chrome.exe", "svchost.exe", "explorer.exe", "notepad.exe", "conhost.exe", "msedge.exe"]
DISCOVERY = ["NETSTAT.EXE", "whoami.exe", "ipconfig.exe", "HOSTNAME.EXE", "net.exe", "tasklist.exe"]


@dataclass(frozen=True)
class Line:
    moment: datetime
    file: str
    text: str


def sysmon_line(moment: datetime, rng: random.Random) -> str:
    host = f"WKS-{rng.randrange(4):02d}"
    logon = f"0x{0x3e7 + rng.randrange(3):x}"
    discovery = rng.random() < 0.04
    image = rng.choice(DISCOVERY if discovery else NOISE)
    command = f"{image.split('.')[0].lower()} {'-ano' if image == 'NETSTAT.EXE' else ''}".strip()
    record = {
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": host,
        "Image": f"C:\\Windows\\System32\\{image}", "CommandLine": command,
        "ParentImage": "C:\\Windows\\System32\\cmd.exe", "LogonId": logon,
        "User": f"CONTOSO\\user{rng.randrange(3)}", "ProcessId": rng.randrange(100, 60000),
        "TimeCreated": moment.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(record)


def labelled_stream(bulk: int, seed: int = 7, spacing_ms: int = 37) -> list[Line]:
    """``bulk`` Sysmon lines from 08:10 on, and the seed XML lines at their own times."""
    rng = random.Random(seed)
    lines = []
    for number in range(bulk):
        moment = START + timedelta(milliseconds=number * spacing_ms, microseconds=rng.randrange(1, 999) * 7)
        lines.append(Line(moment, "bulk.jsonl", sysmon_line(moment, rng)))
    for path in sorted(SEED_EVENTS.glob("*.xml")):
        for text in path.read_text(encoding="utf-8").splitlines():
            stamp = text.split('SystemTime="', 1)[1].split('"', 1)[0]
            moment = datetime.fromisoformat(stamp[:26] + "+00:00")
            lines.append(Line(moment, "seed.xml", text))
    lines.sort(key=lambda line: line.moment)
    return lines


def append(directory: Path, lines: list[Line]) -> None:
    """Append ``lines`` to their files (each file written once, flushed)."""
    by_file: dict[str, list[str]] = {}
    for line in lines:
        by_file.setdefault(line.file, []).append(line.text)
    for name, texts in by_file.items():
        with open(directory / name, "a", encoding="utf-8") as stream:
            stream.write("\n".join(texts) + "\n")


def watch_command(inputs: list[Path], state: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "watchpost.commands.watch", *map(str, inputs), "--state", str(state),
            "--poll", "0.05", "--idle", "0.3", *options]


def start_watch(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=PROJECT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def run_to_end(command: list[str], log: Path, timeout: float = 60.0) -> None:
    """One uninterrupted run that ends once idle (``--stop-when-idle``)."""
    with open(log, "ab") as err:
        finished = subprocess.run([*command, "--stop-when-idle", "1.0"], stdout=subprocess.DEVNULL,
                                  stderr=err, cwd=PROJECT, timeout=timeout, check=False)
    assert finished.returncode == 0, log.read_text(errors="replace")[-3000:]


def jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line]


def wait_until(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False
