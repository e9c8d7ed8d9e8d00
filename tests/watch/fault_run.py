"""The fault run (issue 20): a generator writes Sysmon JSON lines to a followed name at a steady
rate while `watchpost watch` (with a JSONL sink and a webhook) is SIGKILLed at random moments and
restarted; between kills the file is rotated by rename (once or twice in a row) or by
copytruncate, and a poisoned line is written, some of these while the watch is down; the webhook
receiver on 127.0.0.1 is sometimes down (connections refused) and sometimes answers 500. At the
end one run goes to the end of the input, and the alerts each sink got are compared with one
`hunt` over every file the run left (the rotated ones included): lost, duplicated, extra.

Alerts are compared by **content**: rule id and the times of their events (every line has its own
time). A hunt names events by the file they are in now (``app.jsonl.2``) while the watch names them
by the followed name, so ids differ for lines read after a rotation; within a sink, ids are also
checked (an id twice is a resend, which the webhook's receiver drops by ``Idempotency-Key``).

Used by `tests/watch/test_fault_run.py` (about a minute) and `bench/watch_faults.py` (longer).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.watch.poisoned_watch import POISON
from tests.watch.replay import PROJECT, sysmon_line
from watchpost.alerts import format_time
from watchpost.hunting.engine import hunt
from watchpost.watch.state import STATE_FILE

START = datetime(2021, 3, 15, 8, 0, 0, tzinfo=UTC)
OPERATIONS = ("rename", "double rename", "copytruncate", "poisoned line")
ContentKey = tuple[str, tuple[str, ...]]


def content_key(alert: dict[str, Any]) -> ContentKey:
    return alert["rule"]["id"], tuple(sorted(event["timestamp"] for event in alert["events"]))


class Writer:
    """Appends lines to ``path`` at ``rate`` lines per second (event times 10 ms apart), and
    rotates the file as a logger and logrotate would; every operation holds the lock, so no line
    is written between a copy and its truncation (copytruncate then loses nothing by nature)."""

    def __init__(self, path: Path, rate: int, seed: int) -> None:
        self.path = path
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by stop()
        self.written = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fault-writer", daemon=True)

    def _line(self, note: str | None = None) -> str:
        moment = START + timedelta(milliseconds=10 * self.written)
        self.written += 1
        text = sysmon_line(moment, self.rng)
        if note is not None:
            record = json.loads(text)
            record.update({"Image": "C:\\Windows\\notepad.exe", "CommandLine": "notepad", "Note": note})
            text = json.dumps(record)
        return text + "\n"

    def _write(self, count: int) -> None:
        self.stream.write("".join(self._line() for _ in range(count)))
        self.stream.flush()

    def _run(self) -> None:
        tick = 0.02
        carry = 0.0
        while not self.stopping.wait(tick):
            carry += self.rate * tick
            with self.lock:
                self._write(int(carry))
            carry -= int(carry)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.stream.close()

    def operate(self, operation: str) -> None:
        with self.lock:
            if operation == "rename":
                self._rename()
            elif operation == "double rename":
                self._rename()
                self._write(self.rng.randrange(5, 60))
                self._rename()
            elif operation == "copytruncate":
                self._shift()
                shutil.copyfile(self.path, self._numbered(1))
                os.truncate(self.path, 0)  # the stream appends (O_APPEND): it goes on at the new end
            else:
                self.stream.write(self._line(POISON))
                self.stream.flush()

    def _numbered(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def _shift(self) -> None:
        """app.jsonl.N -> .N+1, ..., .1 -> .2 (every rotated file is kept)."""
        rotated = self.path.parent.glob(self.path.name + ".*")
        numbers = sorted((int(p.name.rsplit(".", 1)[1]) for p in rotated), reverse=True)
        for number in numbers:
            self._numbered(number).rename(self._numbered(number + 1))

    def _rename(self) -> None:
        self.stream.close()
        self._shift()
        self.path.rename(self._numbered(1))
        self.stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - the logger reopens


class Receiver(BaseHTTPRequestHandler):
    """The webhook receiver: ``server.mode`` is ``ok`` (204, recorded) or ``500``."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        if server.mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        alert = json.loads(body)
        with server.record_lock:
            server.received.append((alert["id"], content_key(alert)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


class Webhook:
    """A receiver on 127.0.0.1 that can be down (closed: connections refused), answer 500, or take."""

    def __init__(self) -> None:
        self.received: list[tuple[str, ContentKey]] = []
        self.record_lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.mode = "ok"
        self.up()

    def up(self) -> None:
        if self.server is None:
            server: Any = ThreadingHTTPServer(("127.0.0.1", self.port), Receiver)
            server.received, server.record_lock, server.mode = self.received, self.record_lock, self.mode
            self.port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.server = server

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set(self, mode: str) -> None:
        """``ok``, ``500`` or ``down``."""
        self.mode = mode
        if mode == "down":
            self.down()
            return
        self.up()
        assert self.server is not None
        self.server.mode = mode  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"


@dataclass
class SinkFigures:
    delivered: int = 0
    """Distinct alerts (by content) the sink got."""
    lost: int = 0
    duplicated: int = 0
    """Alerts the sink got more than once under different ids (content twice)."""
    resent: int = 0
    """Deliveries of an id already delivered (a resend after a kill; dropped by a receiver that
    keeps ids)."""
    extra: int = 0
    """Alerts the hunt does not have."""
    lost_detections: list[str] = field(default_factory=list)
    """The first lost detection alerts' event times (a line not read; correlations alone lost
    or extra mean matches correlated out of order)."""


@dataclass
class FaultReport:
    seconds: float = 0.0
    lines: int = 0
    kills: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    """Operation -> count; ``while down`` ones also under ``<op> (down)``."""
    webhook: Counter[str] = field(default_factory=Counter)
    """Receiver states set between kills (``down``, ``500``, ``ok``)."""
    expected: int = 0
    sinks: dict[str, SinkFigures] = field(default_factory=dict)
    losses_reported: list[str] = field(default_factory=list)
    final_status: int = 0
    final_stderr: str = ""

    def summary(self) -> str:
        ops = ", ".join(f"{name} {count}" for name, count in sorted(self.operations.items()))
        lines = [f"{self.seconds:.0f} s, {self.lines} lines, {self.kills} SIGKILLs; {ops}; webhook "
                 f"states {dict(self.webhook)}; hunt alerts {self.expected}"]
        for name, figures in self.sinks.items():
            lines.append(f"{name}: delivered {figures.delivered}, lost {figures.lost}, duplicated "
                         f"{figures.duplicated}, extra {figures.extra}, resent ids {figures.resent}")
            if figures.lost_detections:
                lines.append(f"  lost detections at {figures.lost_detections}")
        lines.append(f"losses reported: {len(self.losses_reported)}")
        return "\n".join(lines)


def watch_command(path: Path, work: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "tests.watch.poisoned_watch", str(path), "--state", str(work / "state"),
            "--jsonl", str(work / "alerts.jsonl"), "--webhook", url, "--no-terminal", "--poll", "0.05",
            "--idle", "0.3"]


def plan(rng: random.Random, kills: int) -> list[tuple[str | None, str | None]]:
    """Per kill: the operation while the watch runs before it and the one while it is down after
    it; every operation happens at least once each way."""
    up = list(OPERATIONS) + [rng.choice((*OPERATIONS, None, None)) for _ in range(kills - len(OPERATIONS))]
    down = list(OPERATIONS) + [rng.choice((*OPERATIONS, None)) for _ in range(kills - len(OPERATIONS))]
    rng.shuffle(up)
    rng.shuffle(down)
    return list(zip(up, down, strict=True))


def run_faults(work: Path, seconds: float = 40.0, kills: int = 12, rate: int = 300,
               seed: int = 20) -> FaultReport:
    """One fault run in ``work`` (see the module docstring)."""
    rng = random.Random(seed)
    logs = work / "logs"
    logs.mkdir(parents=True)
    path = logs / "app.jsonl"
    report = FaultReport()
    began = time.monotonic()
    writer = Writer(path, rate, seed)
    webhook = Webhook()
    command = watch_command(path, work, webhook.url)
    log = work / "watch.log"
    writer.start()
    process = _start(command, log)
    _wait_for_a_position(work / "state", process)  # lines rotated before the first look are not its
    try:
        gap = seconds / (kills + 1)
        for up, down in plan(rng, kills):
            time.sleep(rng.uniform(0.4, 1.0) * gap)
            if up is not None:
                writer.operate(up)
                report.operations[up] += 1
                time.sleep(rng.uniform(0.0, 0.3) * gap)
            _kill(process)
            report.kills += 1
            if down is not None:
                writer.operate(down)
                report.operations[down] += 1
                report.operations[f"{down} (down)"] += 1
            mode = rng.choice(("ok", "ok", "500", "down"))
            webhook.set(mode)
            report.webhook[mode] += 1
            time.sleep(rng.uniform(0.0, 0.25) * gap)  # down while the writer goes on
            process = _start(command, log)
        time.sleep(rng.uniform(0.3, 0.8) * gap)
    finally:
        writer.stop()
        _kill(process)
    webhook.set("ok")
    final = subprocess.run([*command, "--stop-when-idle", "1.0", "--deliver-timeout", "60"], cwd=PROJECT,
                           capture_output=True, text=True, timeout=300, check=False)
    webhook.down()
    report.final_status, report.final_stderr = final.returncode, final.stderr
    report.seconds = time.monotonic() - began
    report.lines = writer.written
    _compare(report, logs, work / "alerts.jsonl", webhook.received)
    stderr = log.read_text(encoding="utf-8", errors="replace") + final.stderr
    report.losses_reported = [line for line in stderr.splitlines() if "watchpost watch: lost:" in line]
    return report


def _compare(report: FaultReport, logs: Path, jsonl: Path, received: list[tuple[str, ContentKey]]) -> None:
    expected = Counter((a.rule.id, tuple(sorted(format_time(e.timestamp) for e in a.events)))
                       for a in hunt([str(logs)]))
    report.expected = sum(expected.values())
    lines = [json.loads(text) for text in jsonl.read_text(encoding="utf-8").splitlines() if text]
    report.sinks["jsonl"] = _figures(expected, [(alert["id"], content_key(alert)) for alert in lines])
    report.sinks["webhook"] = _figures(expected, received)


def _figures(expected: Counter[ContentKey], got: list[tuple[str, ContentKey]]) -> SinkFigures:
    ids = Counter(alert_id for alert_id, _ in got)
    distinct = {alert_id: key for alert_id, key in got}
    contents = Counter(distinct.values())
    figures = SinkFigures()
    figures.resent = sum(count - 1 for count in ids.values())
    figures.delivered = len(contents)
    figures.duplicated = sum(count - 1 for count in contents.values())
    figures.lost = sum(1 for key in expected if key not in contents)
    figures.extra = sum(1 for key in contents if key not in expected)
    figures.lost_detections = sorted(key[1][0] for key in expected
                                     if key not in contents and len(key[1]) == 1)[:10]
    return figures


def _wait_for_a_position(state: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until the first watch has saved a position (it has opened the followed file): a file
    rotated away before a watch ever looked at the name is not one it follows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(f"file:{state / STATE_FILE}?mode=ro", uri=True, timeout=1) as connection:
                if connection.execute("SELECT count(*) FROM positions").fetchone()[0]:
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    raise AssertionError("the first watch saved no position")


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=PROJECT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
