"""The geometry of the HTML report's timeline: a stacked histogram of alerts by level over time and
one lane per host with a mark per alert. Only numbers and labels: the template draws the SVG, so
every label is escaped there.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from watchpost.alerts import Alert
from watchpost.rules.model import LEVELS, level_rank
from watchpost.sinks.display_time import (
    epoch_seconds,
    format_day,
    format_display_time,
    format_offset,
    local_time,
    moment_at,
)
from watchpost.sinks.terminal_text import visible_text

LEVEL_COLOURS = {
    "critical": "#8e24aa",
    "high": "#d32f2f",
    "medium": "#f57c00",
    "low": "#1e88e5",
    "informational": "#9e9e9e",
}
BIN_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 604800, 2592000, 7776000, 31536000)
MAX_BINS = 60
MAX_LANES = 12
WIDTH, LEFT, RIGHT, TOP = 1160, 220, 44, 30
BARS_HEIGHT, AXIS_HEIGHT, LANE_HEIGHT = 170, 34, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    colour: str
    label: str
    rank: int  # the level's rank: higher levels are drawn last, on top


@dataclass(frozen=True)
class Lane:
    y: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """Everything the SVG needs, in pixels."""

    width: int
    height: int
    left: int
    plot_width: int
    top: int
    bars_bottom: int
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]  # x holds the y coordinate
    x_ticks: tuple[Tick, ...]
    lanes: tuple[Lane, ...]
    marks: tuple[Mark, ...]
    caption: str
    bin_label: str


def build_timeline(alerts: list[Alert], tz: tzinfo = UTC) -> Timeline | None:
    """The timeline of ``alerts`` (None when there are none)."""
    if not alerts:
        return None
    times = [alert.timestamp for alert in alerts]
    first, last = min(times), max(times)
    step = choose_bin(first, last)
    start = align(first, step, tz)
    bins = max(1, math.ceil((last - start).total_seconds() / step + 1e-9))
    if epoch_seconds(start) + bins * step <= epoch_seconds(last):
        bins += 1
    scale = Scale(start, step * bins, LEFT, WIDTH - LEFT - RIGHT)
    bars, y_ticks = histogram(alerts, start, step, bins, scale, tz)
    lanes, marks = host_lanes(alerts, scale, tz)
    height = TOP + BARS_HEIGHT + AXIS_HEIGHT + LANE_HEIGHT * len(lanes) + (12 if lanes else 0)
    return Timeline(
        width=WIDTH, height=height, left=LEFT, plot_width=WIDTH - LEFT - RIGHT, top=TOP,
        bars_bottom=TOP + BARS_HEIGHT, bars=tuple(bars), y_ticks=tuple(y_ticks),
        x_ticks=tuple(time_ticks(start, step, bins, scale, tz)), lanes=tuple(lanes), marks=tuple(marks),
        caption=f"time (UTC{format_offset(local_time(first, tz))})", bin_label=describe_seconds(step),
    )


@dataclass(frozen=True)
class Scale:
    """Maps times to x pixels."""

    start: datetime
    seconds: float
    left: float
    width: float

    def x(self, moment: datetime) -> float:
        offset = (moment - self.start).total_seconds() / self.seconds
        return round(self.left + offset * self.width, 1)


def choose_bin(first: datetime, last: datetime) -> int:
    """The smallest bin length (seconds) that covers ``first``..``last`` in at most `MAX_BINS` bins."""
    span = max((last - first).total_seconds(), 1.0)
    for seconds in BIN_SECONDS:
        if span / seconds <= MAX_BINS - 1:
            return seconds
    return math.ceil(span / (MAX_BINS - 1))


def align(moment: datetime, step: int, tz: tzinfo) -> datetime:
    """``moment`` rounded down to a multiple of ``step`` seconds in local time of ``tz`` (no
    earlier than the first moment `datetime` holds: the report of an event of year 1 starts there)."""
    offset = (local_time(moment, tz).utcoffset() or timedelta(0)).total_seconds()
    local_seconds = epoch_seconds(moment) + offset
    aligned = math.floor(local_seconds / step) * step - offset
    return moment_at(aligned)


def histogram(alerts: list[Alert], start: datetime, step: int, bins: int, scale: Scale,
              tz: tzinfo) -> tuple[list[Bar], list[Tick]]:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for alert in alerts:
        index = min(bins - 1, int((alert.timestamp - start).total_seconds() // step))
        counts[index][alert.rule.level] += 1
    peak = nice_ceiling(max(sum(c.values()) for c in counts.values()))
    per_pixel = BARS_HEIGHT / peak
    width = scale.width / bins
    bars: list[Bar] = []
    for index, by_level in sorted(counts.items()):
        x = round(scale.left + index * width + 0.5, 1)
        bottom = float(TOP + BARS_HEIGHT)
        moment = format_display_time(moment_at(epoch_seconds(start) + index * step), tz)
        for level in level_order(by_level):
            height = round(by_level[level] * per_pixel, 1)
            bottom -= height
            label = f"{moment}: {by_level[level]} {level} (of {sum(by_level.values())} in this bin)"
            bars.append(Bar(x, round(bottom, 1), round(max(width - 1, 1.0), 1), height,
                            LEVEL_COLOURS.get(level, "#607d8b"), label))
    ticks = [Tick(float(TOP + BARS_HEIGHT - BARS_HEIGHT * part / 2), str(int(peak * part / 2)))
             for part in (0, 1, 2)]
    return bars, ticks


def level_order(counts: Counter[str]) -> list[str]:
    """Levels from lowest to highest (stacked bottom up); unknown levels first."""
    known = [level for level in LEVELS if counts[level]]
    return [level for level in counts if level not in LEVELS] + known


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is >= ``value`` (and even, so half is whole)."""
    magnitude = 1
    while True:
        for factor in (2, 4, 10):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10


def time_ticks(start: datetime, step: int, bins: int, scale: Scale, tz: tzinfo) -> list[Tick]:
    every = max(1, math.ceil(bins / 6))
    ticks: list[Tick] = []
    previous_day = ""
    for index in range(0, bins + 1, every):
        moment = local_time(moment_at(epoch_seconds(start) + index * step), tz)
        day = format_day(moment)
        clock = moment.time().isoformat(timespec="seconds" if step < 60 else "minutes")
        ticks.append(Tick(scale.x(moment), f"{day} {clock}" if day != previous_day else clock))
        previous_day = day
    return ticks


def host_lanes(alerts: list[Alert], scale: Scale, tz: tzinfo) -> tuple[list[Lane], list[Mark]]:
    """One lane per host (the busiest `MAX_LANES`, the rest together), a mark per alert."""
    per_host = Counter(alert.host or "(unknown host)" for alert in alerts)
    shown = [host for host, _ in per_host.most_common(MAX_LANES)]
    others = len(per_host) - len(shown)
    names = shown + ([f"({others} other hosts)"] if others else [])
    top = TOP + BARS_HEIGHT + AXIS_HEIGHT + 6
    lanes = [Lane(float(top + i * LANE_HEIGHT + LANE_HEIGHT / 2), visible_text(name, 28).replace("\n", " "))
             for i, name in enumerate(names)]
    lane_of = {host: i for i, host in enumerate(shown)}
    grouped: dict[tuple[int, float, str], list[Alert]] = defaultdict(list)
    for alert in alerts:
        lane = lane_of.get(alert.host or "(unknown host)", len(shown))
        grouped[(lane, scale.x(alert.timestamp), alert.rule.level)].append(alert)
    marks = []
    for (lane, x, level), members in grouped.items():
        when = format_display_time(members[0].timestamp, tz)
        title = visible_text(members[0].rule.title, 120)
        label = f"{when} {level}: {title}" + (f" (+{len(members) - 1} more)" if len(members) > 1 else "")
        marks.append(Mark(x, lanes[lane].y, LEVEL_COLOURS.get(level, "#607d8b"), label, level_rank(level)))
    marks.sort(key=lambda mark: mark.rank)
    return lanes, marks


def describe_seconds(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} second" + ("s" if seconds != 1 else "")
