"""Hostile log content for the sink tests: a JSON Lines log whose fields attack every output.

Each event puts one payload in every text field (user, domain, parent, ids, host, a field whose
*name* is markup, and the command line after ``net use``), so that every column and cell of every
format sees every payload. Payloads that would fetch something point at ``probe_base`` (a local
recording server in the browser tests).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

LONG = "A" * 100_000
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;retitled\x07\x08back\x00nul\x1b[2J"
RTLO = "invoice\u202etxt.exe"
FORMULAS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1+1", "\r=1+1")
MARKUP = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
CONTROL_CHARACTERS = {chr(c) for c in range(0x20) if chr(c) not in "\n"} | {"\x7f", "\u202e"}


def fetching_payloads(probe_base: str) -> tuple[str, ...]:
    """Markup that, if it ever became live, would make a browser request ``probe_base/...``."""
    return (
        f'<script>fetch("{probe_base}/script-inline")</script>',
        f'<script src="{probe_base}/script-src.js"></script>',
        f'"><img src="{probe_base}/img-src">',
        f"<img src=x onerror=\"fetch('{probe_base}/img-onerror')\">",
        f'<link rel="stylesheet" href="{probe_base}/link-css">',
        f'<style>@import url("{probe_base}/css-import");</style>',
        f'<iframe src="{probe_base}/iframe"></iframe>',
        f'<meta http-equiv="refresh" content="0;url={probe_base}/meta-refresh">',
        f'<svg><image href="{probe_base}/svg-image"/></svg>',
        f'</title></style></svg></details><script>fetch("{probe_base}/breakout")</script>',
        f'<object data="{probe_base}/object"></object><embed src="{probe_base}/embed">',
        f'<a href="javascript:fetch(\'{probe_base}/js-link\')">x</a>',
    )


def payloads(probe_base: str = "http://127.0.0.1:9/probe") -> tuple[str, ...]:
    return (*MARKUP, *FORMULAS, ANSI, RTLO, LONG, *fetching_payloads(probe_base))


RULE = """\
title: "<script>alert('rule')</script> =1+1 net use seen"
id: 5b0e3a52-4f63-4d8e-9d33-0c7b2a0e7e11
status: test
description: '"><img src=x onerror=alert(2)> a rule whose texts are hostile too'
author: "@SUM(1) <b>author</b>"
references:
  - "javascript:alert(3)"
  - "{probe_base}/reference"
tags:
  - attack.discovery
  - attack.t1049
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    CommandLine|contains: 'net use'
  condition: selection
falsepositives:
  - "=HYPERLINK(\\"http://x\\",\\"y\\")"
level: high
"""


def write_hostile_case(folder: Path, probe_base: str = "http://127.0.0.1:9/probe") -> tuple[Path, Path]:
    """A log and a rule in ``folder``; every event of the log raises one alert."""
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    lines = []
    for number, payload in enumerate(payloads(probe_base)):
        event = {
            "EventID": 4688, "Channel": "Security",
            "TimeCreated": (start + timedelta(minutes=7 * number)).isoformat().replace("+00:00", "Z"),
            "Computer": payload if len(payload) < 1000 else "long-host-" + payload[:5000],
            "SubjectUserName": payload, "SubjectDomainName": payload,
            "NewProcessName": "C:\\Windows\\System32\\net.exe", "NewProcessId": payload,
            "ProcessId": payload, "ParentProcessName": payload,
            "CommandLine": "net use " + payload,
            "<b onmouseover=alert(1)>field": payload,
        }
        lines.append(json.dumps(event))
    log = folder / "hostile.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rule = folder / "hostile_rule.yml"
    rule.write_text(RULE.format(probe_base=probe_base), encoding="utf-8")
    return log, rule
