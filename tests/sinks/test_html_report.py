"""The HTML report without a browser: escaping, CSP, self-containment, counts and limits."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, timedelta, timezone

import pytest

from tests.sinks.browser import audit_dom
from tests.sinks.hostile import LONG, MARKUP, fetching_payloads, payloads
from watchpost.alerts import Alert
from watchpost.sinks.html import CSP, VALUE_LIMIT, render_report
from watchpost.sinks.run_info import RunInfo


def report(alerts: list[Alert], tz: timezone = UTC) -> str:
    return render_report(alerts, tz, RunInfo(inputs=("hostile.jsonl",), version="test"))


def test_markup_from_logs_and_rules_is_text(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    for payload in (*MARKUP, *fetching_payloads("http://127.0.0.1:9/probe")):
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    audit = audit_dom(html)
    assert audit.scripts == 0 and audit.handlers == [] and audit.outside == []
    shown = "".join(audit.text)
    assert "<script>alert(1)</script>" in shown  # what the reader sees
    assert "<script>alert('rule')</script>" in shown


def test_the_page_carries_a_strict_content_security_policy(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert meta is not None
    policy = meta.group(1).replace("&#39;", "'")
    assert policy == CSP
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert html.index("Content-Security-Policy") < html.index("<title>")


def test_nothing_outside_the_file_is_referenced(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    for attribute in re.findall(r'\s(?:src|href)="([^"]*)"', html):
        assert attribute.startswith(("#", "data:")), attribute
    assert "<script" not in html.lower()
    assert "@import" not in html.split("</style>")[0]


def test_control_characters_and_bidi_overrides_are_shown_escaped(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    assert "\x1b" not in html and "\u202e" not in html and "\x00" not in html
    assert "\\x1b[31mRED" in html and "invoice\\u202etxt.exe" in html


def test_long_values_are_cut_and_the_report_stays_small(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    assert LONG[: VALUE_LIMIT + 1] not in html
    assert f"(+{len(LONG) - VALUE_LIMIT} chars)" in html
    assert len(html) < 40 * len(payloads()) * 2000


def test_summary_counts_by_level_host_and_technique(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    total = len(hostile_alerts)
    assert f'<div class="n">{total}</div><div class="l">alerts</div>' in html
    assert f'<div class="n">{total}</div><div class="l">high</div>' in html
    assert f'<td>T1049</td><td class="n">{total}</td>' in html
    hosts = {a.host for a in hostile_alerts}
    assert f'<div class="n">{len(hosts)}</div><div class="l">hosts</div>' in html


def test_every_alert_is_detailed_with_its_events(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts, timezone(timedelta(hours=-4)))
    assert html.count('<details class="alert ') == len(hostile_alerts)
    assert html.count("Event 1 of 1") == len(hostile_alerts)
    assert "2024-05-01 05:00:00.000-04:00" in html  # 09:00Z at -04:00
    assert "hostile.jsonl:line 1" in html


def test_the_timeline_counts_every_alert(hostile_alerts: list[Alert]) -> None:
    html = report(hostile_alerts)
    svg = html[html.index("<svg"): html.index("</svg>")]
    bars = re.findall(r"<title>[^<]*: (\d+) high \(of (\d+) in this bin\)</title>", svg)
    assert sum(int(count) for count, _ in bars) == len(hostile_alerts)
    assert svg.count("<circle") >= 1


def test_an_empty_run_gives_a_report_that_says_so() -> None:
    html = report([])
    assert "No alerts." in html and "<svg" not in html


def test_beyond_the_detail_limits_the_report_says_what_it_left_out(
        hostile_alerts: list[Alert], monkeypatch: pytest.MonkeyPatch) -> None:
    import watchpost.sinks.html as html_sink

    monkeypatch.setattr(html_sink, "MAX_ALERTS_DETAILED", 5)
    monkeypatch.setattr(html_sink, "MAX_EVENTS_PER_ALERT", 1)
    first = hostile_alerts[0]
    correlation = replace(first, events=tuple(a.events[0] for a in hostile_alerts[:3]))
    html = report([correlation, *hostile_alerts])
    assert html.count('<details class="alert ') == 5
    assert f"{len(hostile_alerts) + 1 - 5} more are in the" in html
    assert f'<div class="n">{len(hostile_alerts) + 1}</div><div class="l">alerts</div>' in html
    assert "Event 1 of 3" in html and "2 more events are in the JSON output." in html
