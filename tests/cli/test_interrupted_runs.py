"""A real `watchpost hunt` stopped by SIGINT or SIGTERM mid-run, and alerts that stream.

The hunt reads the seed logs (alerts in 2021) and standard input side by side. The test writes
filler lines dated 2030 to standard input and keeps it open: once the hunt has read them, the
seed alerts are settled and come out, while the last input (standard input) is still being read.
Then the signal, then more filler so that the hunt's reader wakes up and sees it.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from watchpost.exit_codes import EXIT_SIGINT, EXIT_SIGTERM

SEED = PROJECT / "tests" / "fixtures" / "seed"
SEED_LOGS = sorted(str(path) for path in SEED.glob("*.xml"))
SEED_ALERTS = 9  # the bundled pack's alerts over the three seed logs (3 each)
FILLER_LINES = 6_000  # > 1 MiB: the JSON reader reads standard input a megabyte at a time


def filler(start: int) -> bytes:
    """Security logons dated 2030 that no rule matches (they hold a pack literal, so they are read)."""
    lines = []
    for number in range(start, start + FILLER_LINES):
        record = {"EventID": 4624, "Channel": "Security", "Computer": "filler-host",
                  "TimeCreated": f"2030-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z",
                  "Message": "netstat.exe was not run here; padding " + "x" * 80}
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def start_hunt(output_format: str, output: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from watchpost.cli import main; main()", "hunt", *SEED_LOGS, "-",
               "-f", output_format, "-o", str(output)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "WATCHPOST_RULE_CACHE": "0"})


def wait_for(condition: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def interrupt(output_format: str, output: Path, signal_number: int = signal.SIGINT) -> tuple[int, str]:
    """Run the hunt to the point where the seed inputs are done, signal it, let it finish."""
    process = start_hunt(output_format, output)
    assert process.stdin is not None
    process.stdin.write(filler(0))
    process.stdin.flush()
    if output_format == "jsonl":  # streams: the seed alerts arrive while standard input is open
        wait_for(lambda: output.exists() and output.read_text().count("\n") >= SEED_ALERTS)
    else:
        time.sleep(3)  # the filler is read (the write above returned) and matched by now
    process.send_signal(signal_number)
    time.sleep(0.3)
    try:
        process.stdin.write(filler(FILLER_LINES))
        process.stdin.flush()
    except BrokenPipeError:
        pass
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


def test_jsonl_streams_the_first_alerts_before_the_last_input_is_read(tmp_path: Path) -> None:
    output = tmp_path / "alerts.jsonl"
    process = start_hunt("jsonl", output)
    assert process.stdin is not None
    process.stdin.write(filler(0))
    process.stdin.flush()
    wait_for(lambda: output.exists() and output.read_text().count("\n") >= SEED_ALERTS)
    assert process.poll() is None  # standard input is still open: the last input is not read yet
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert {Path(line["events"][0]["origin"]["path"]).name for line in lines} == {
        Path(name).name for name in SEED_LOGS}
    process.stdin.close()
    assert process.wait(timeout=60) == 0


@pytest.mark.parametrize("output_format", ["jsonl", "json", "csv", "html", "timesketch-jsonl"])
def test_sigint_writes_the_alerts_found_so_far_marked_partial(tmp_path: Path, output_format: str) -> None:
    output = tmp_path / f"alerts.{output_format}"
    status, err = interrupt(output_format, output)
    assert status == EXIT_SIGINT
    assert "Traceback" not in err
    assert "INCOMPLETE RUN (stopped by SIGINT)" in err
    text = output.read_text(encoding="utf-8")
    if output_format == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        alerts, run = lines[:-1], lines[-1]["run"]
        assert len(alerts) == SEED_ALERTS and run["complete"] is False and run["stopped_by"] == "SIGINT"
        assert run["sources"] == 4 and run["sources_done"] == 3 and run["unfinished"] == ["<stdin>"]
    elif output_format == "json":
        document = json.loads(text)
        assert len(document["alerts"]) == SEED_ALERTS
        assert document["run"]["complete"] is False and document["run"]["sources_done"] == 3
    elif output_format == "csv":
        rows = list(csv.reader(text.splitlines()))
        assert len(rows) == 1 + SEED_ALERTS + 1
        assert rows[-1][0].startswith("# INCOMPLETE RUN (stopped by SIGINT): 3 of 4 inputs")
    elif output_format == "timesketch-jsonl":
        records = [json.loads(line) for line in text.splitlines()]
        assert len(records) == SEED_ALERTS + 1 and records[-1]["timestamp_desc"] == "watchpost run stopped"
        assert records[-1]["message"].startswith("INCOMPLETE RUN (stopped by SIGINT): 3 of 4 inputs")
    else:
        assert 'id="incomplete-run"' in text and "INCOMPLETE RUN (stopped by SIGINT)" in text
        assert "&lt;stdin&gt;" in text  # the input not read to the end, escaped
        assert text.count('<details class="alert ') == SEED_ALERTS


def test_sigterm_exits_143_and_says_so(tmp_path: Path) -> None:
    output = tmp_path / "alerts.jsonl"
    status, err = interrupt("jsonl", output, signal.SIGTERM)
    assert status == EXIT_SIGTERM
    assert "INCOMPLETE RUN (stopped by SIGTERM)" in err
    assert json.loads(output.read_text().splitlines()[-1])["run"]["stopped_by"] == "SIGTERM"


def test_a_complete_run_has_no_partial_marker(tmp_path: Path) -> None:
    output = tmp_path / "alerts.jsonl"
    process = start_hunt("jsonl", output)
    _, err = process.communicate(filler(0), timeout=120)
    assert process.returncode == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == SEED_ALERTS and all("run" not in line for line in lines)
    assert "INCOMPLETE" not in err.decode()
