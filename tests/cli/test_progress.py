"""The progress line: on a terminal's standard error only, never piped, never with --quiet."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import nullcontext
from dataclasses import dataclass

import pytest

from tests.conftest import PROJECT
from watchpost.hunting.engine import Hunt, HuntOptions, HuntStats
from watchpost.progress import HuntProgress, ProgressLine, hunt_progress

SEED = PROJECT / "tests" / "fixtures" / "seed"
LOGS = [str(path) for path in sorted(SEED.glob("*.xml"))]
PROGRESS_MARK = "events/s · alerts"


def hunt_with_terminal_stderr(*args: str) -> tuple[str, str]:
    """Run ``watchpost hunt ARGS`` with standard error on a pseudo-terminal; (stdout, stderr)."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    command = [sys.executable, "-c", "from watchpost.cli import main; main()", "hunt", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    out, _ = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == 0
    return out.decode(), b"".join(chunks).decode()


def test_a_terminal_gets_the_progress_line_and_then_the_summary() -> None:
    out, err = hunt_with_terminal_stderr(*LOGS, "-f", "jsonl")
    assert PROGRESS_MARK in err and "hunting… inputs" in err
    assert "\x1b[2K" in err  # the line is erased before the summary
    assert err.rindex(PROGRESS_MARK) < err.index("read 3 inputs")
    assert PROGRESS_MARK not in out and out.count("\n") >= 1  # alerts on stdout, untouched


def test_quiet_shows_no_progress_on_a_terminal() -> None:
    _, err = hunt_with_terminal_stderr(*LOGS, "-f", "jsonl", "-q")
    assert err == ""


def test_a_piped_standard_error_gets_no_progress_line() -> None:
    command = [sys.executable, "-c", "from watchpost.cli import main; main()", "hunt", *LOGS, "-f", "jsonl"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert PROGRESS_MARK not in result.stderr and "\x1b" not in result.stderr
    assert "read 3 inputs" in result.stderr


@dataclass
class Stats:
    sources: int = 0
    events: int = 0
    alerts: int = 0


def test_the_line_reads_the_engine_counters() -> None:
    stats = Stats()
    line = ProgressLine(stats)
    stats.sources, stats.events, stats.alerts = 7, 123_456, 42
    text = line.describe()
    assert "inputs 7 " in text and "events 123,456" in text and "alerts 42" in text and "events/s" in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_when_quiet_or_when_alerts_stream_to_the_same_terminal() -> None:
    stats = Stats()
    assert isinstance(hunt_progress(stats, Terminal(), quiet=False, alerts_to_err_terminal=True), nullcontext)
    assert isinstance(hunt_progress(stats, Terminal(), quiet=True, alerts_to_err_terminal=False), nullcontext)
    assert isinstance(hunt_progress(stats, io.StringIO(), quiet=False, alerts_to_err_terminal=False),
                      nullcontext)
    shown = hunt_progress(stats, Terminal(), quiet=False, alerts_to_err_terminal=False)
    assert isinstance(shown, HuntProgress)


def test_the_line_shows_alerts_found_but_not_yet_in_time_order() -> None:
    stats = HuntStats(sources=4, sources_done=2, events=1_000, alerts=3)
    stats.found = 10
    assert "alerts 3 (10 found, being put in time order)" in ProgressLine(stats).describe()
    stats.found = 3
    assert "alerts 3 ·" in ProgressLine(stats).describe()


def test_jobs_count_alerts_found_as_sources_finish() -> None:
    engine = Hunt(HuntOptions(jobs=2))
    alerts = list(engine.run(LOGS))
    detections = [alert for alert in alerts if alert.rule.kind == "detection"]
    assert len(detections) == 3 and len(alerts) == 9
    assert engine.stats.found == len(detections)


def test_a_terminal_is_told_while_rules_load_and_the_summary_gives_the_load_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHPOST_RULE_CACHE", "0")  # a cold start: the rules are compiled
    windows = PROJECT.parent / "shared" / "sigma" / "rules" / "windows"
    folders = [arg for name in ("builtin", "powershell", "registry")
               for arg in ("--rules", str(windows / name))]
    _, err = hunt_with_terminal_stderr(*LOGS, "-f", "jsonl", *folders)  # ~780 rules: over a second
    assert "compiling rules" in err or "reading rule files" in err
    assert err.index("rules") < err.index("read 3 inputs")
    summary = err[err.index("rules: "):].splitlines()[0]
    assert summary.startswith("rules: ") and " ran (" in summary and "loaded in " in summary
