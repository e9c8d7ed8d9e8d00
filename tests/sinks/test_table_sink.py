"""The terminal table: grouped by host, in time order, and no control character from a log."""

from __future__ import annotations

import io
import re
from datetime import UTC, timedelta, timezone, tzinfo

from rich.console import Console

from tests.sinks.hostile import CONTROL_CHARACTERS
from watchpost.alerts import Alert
from watchpost.sinks.table import TableSink

# What rich itself writes on a colour terminal: SGR colour/style sequences, nothing else.
RICH_STYLES = re.compile("\x1b\\[[0-9;]*m")


def render(alerts: list[Alert], colour: bool, tz: tzinfo = UTC) -> str:
    stream = io.StringIO()
    sink = TableSink(stream, tz=tz, width=140)
    if colour:
        sink._console = Console(file=stream, width=140, force_terminal=True, color_system="truecolor",
                                highlight=False, markup=False, emoji=False)
    for alert in alerts:
        sink.write(alert)
    sink.close()
    return stream.getvalue()


def test_no_control_character_from_a_log_reaches_the_terminal(hostile_alerts: list[Alert]) -> None:
    for colour in (False, True):
        text = RICH_STYLES.sub("", render(hostile_alerts, colour))
        leaked = {ch for ch in text if ch in CONTROL_CHARACTERS}
        assert not leaked, f"control characters in the table (colour={colour}): {leaked!r}"
        assert "\\x1b[31mRED" in text and "\\u202e" in text  # shown, escaped
    assert "\x1b[" in render(hostile_alerts, True)  # the colour run did use escapes of its own


def test_long_values_are_cut(hostile_alerts: list[Alert]) -> None:
    text = render(hostile_alerts, False)
    assert "AAAA" in text and "A" * 1000 not in text
    assert len(text) < 200_000


def test_one_table_per_host_in_time_order_with_the_offset_shown(hostile_alerts: list[Alert]) -> None:
    plus_two = timezone(timedelta(hours=2))
    text = render(hostile_alerts, False, plus_two)
    assert text.count(" 1 alert") == len({a.host for a in hostile_alerts})
    times = re.findall(r"2024-05-01 \d\d:\d\d:\d\d\.\d{3}\+02:00", text)
    assert len(times) == len(hostile_alerts)
    assert "2024-05-01 11:00:00.000+02:00" in times  # 09:00Z shown at +02:00


def test_no_alerts_says_so() -> None:
    assert render([], False).strip() == "No alerts."
