"""The report's timeline: bins that fit, every alert counted once, a lane per busy host."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from watchpost.alerts import Alert
from watchpost.events import Event, Origin
from watchpost.rules.model import RuleMeta
from watchpost.sinks.timeline import MAX_BINS, MAX_LANES, align, build_timeline, choose_bin, nice_ceiling

START = datetime(2024, 3, 10, 23, 58, 30, tzinfo=UTC)


def alert(seconds: float, host: str = "h1", level: str = "medium") -> Alert:
    moment = START + timedelta(seconds=seconds)
    event = Event(moment, {"Computer": host}, Origin("log.json", 1, "line"))
    return Alert(RuleMeta("r1", "rule", level, "r.yml"), moment, (event,))


def counted(alerts: list[Alert]) -> int:
    timeline = build_timeline(alerts)
    assert timeline is not None
    total = 0
    for bar in timeline.bars:
        found = re.search(r": (\d+) ", bar.label)
        assert found is not None, bar.label
        total += int(found.group(1))
    return total


@pytest.mark.parametrize("span", [0, 1, 59, 3600, 86400 * 3, 86400 * 400, 86400 * 365 * 30])
def test_bins_cover_the_span_in_at_most_max_bins(span: int) -> None:
    step = choose_bin(START, START + timedelta(seconds=span))
    assert max(span, 1) / step <= MAX_BINS - 1
    assert counted([alert(0), alert(span / 2), alert(span)]) == 3


def test_every_alert_is_counted_once_whatever_the_levels() -> None:
    alerts = [alert(i * 37.5, level=level) for i, level in
              enumerate(["low", "high", "critical", "medium", "informational", "high"] * 20)]
    assert counted(alerts) == len(alerts)
    timeline = build_timeline(alerts)
    assert timeline is not None
    assert all(timeline.left <= bar.x <= timeline.left + timeline.plot_width for bar in timeline.bars)
    assert all(bar.y >= timeline.top - 0.5 and bar.y + bar.height <= timeline.bars_bottom + 0.5
               for bar in timeline.bars)


def test_bins_start_on_a_round_local_time() -> None:
    plus_0530 = timezone(timedelta(hours=5, minutes=30))
    aligned = align(START + timedelta(minutes=7), 3600, plus_0530)
    assert aligned.astimezone(plus_0530).minute == 0 and aligned <= START + timedelta(minutes=7)


def test_hosts_beyond_the_lane_limit_share_one_lane() -> None:
    alerts = [alert(i, host=f"host{i:02d}") for i in range(MAX_LANES + 5)]
    timeline = build_timeline(alerts)
    assert timeline is not None
    assert len(timeline.lanes) == MAX_LANES + 1
    assert timeline.lanes[-1].label == "(5 other hosts)"
    assert len(timeline.marks) == len(alerts)


def test_nice_ceiling_and_no_alerts() -> None:
    assert [nice_ceiling(n) for n in (1, 2, 3, 5, 11, 40, 41)] == [2, 2, 4, 10, 20, 40, 100]
    assert build_timeline([]) is None
