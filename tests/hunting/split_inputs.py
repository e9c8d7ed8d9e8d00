"""Inputs for the split and Spark tests: a time-ordered JSON Lines file of Sysmon process
creations (some `netstat`, some malformed lines), and rules that match it, one a correlation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

DETECTION_ID = "5d3c1b0e-3f1a-4c8e-9a11-0000000000a1"
CORRELATION_ID = "5d3c1b0e-3f1a-4c8e-9a11-0000000000a2"
START = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)

DETECTION = f"""title: Netstat run (split tests)
id: {DETECTION_ID}
status: test
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|endswith: '\\netstat.exe'
  condition: selection
level: medium
"""

CORRELATION = f"""title: Netstat burst (split tests)
id: {CORRELATION_ID}
status: test
correlation:
  type: event_count
  generate: true
  rules:
    - {DETECTION_ID}
  group-by:
    - Computer
  timespan: 2m
  condition:
    gte: 3
level: high
"""


def write_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "netstat.yml").write_text(DETECTION, encoding="utf-8")
    (folder / "burst.yml").write_text(CORRELATION, encoding="utf-8")
    return folder


def event_line(number: int, late: bool = False) -> str:
    moment = START + timedelta(seconds=number * 2)
    if late:
        moment -= timedelta(minutes=20)
    image = "C:\\Windows\\System32\\netstat.exe" if number % 7 == 0 else "C:\\Windows\\System32\\cmd.exe"
    record = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": f"host{number % 2}",
        "TimeCreated": moment.isoformat().replace("+00:00", "Z"),
        "Image": image,
        "CommandLine": f"{image} -ano {'x' * (number % 40)}",
        "ProcessId": 1000 + number,
    }
    return json.dumps(record)


def write_jsonl(path: Path, count: int, newline: str = "\n", malformed_every: int = 997,
                late_every: int = 0) -> Path:
    """``count`` lines in time order (but every ``late_every``-th 20 minutes early), every
    ``malformed_every``-th one broken."""
    lines = []
    for number in range(count):
        if malformed_every and number % malformed_every == malformed_every - 1:
            lines.append('{"EventID": 1, "Channel": "broken')
        else:
            lines.append(event_line(number, late=bool(late_every) and number % late_every == late_every - 1))
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path
