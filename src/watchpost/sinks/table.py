"""A readable terminal table of alerts, grouped by host and ordered by time (rich)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchpost.alerts import SUMMARY_ORDER, Alert
from watchpost.event_context import event_label
from watchpost.sinks.display_time import format_display_time
from watchpost.sinks.run_info import RunInfo
from watchpost.sinks.terminal_text import sanitise_terminal

LEVEL_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
UNKNOWN_HOST = "(unknown host)"
# Width used when the output is not a terminal (a file, a pipe): wide enough that command lines
# are not folded into a column of three characters.
FILE_WIDTH = 160


class TableSink:
    """Collects alerts and prints one table per host, in time order, at close.

    Every cell that comes from a log or a rule is passed through `sanitise_terminal`: log content
    never reaches the terminal as control characters. Markup and emoji codes are off, so text like
    ``[bold]`` or ``:smile:`` in a log is printed as it is.
    """

    def __init__(self, stream: IO[str], tz: tzinfo = UTC, width: int | None = None,
                 run_info: Callable[[], RunInfo] | None = None) -> None:
        if width is None and not _is_terminal(stream):
            width = columns_setting() or FILE_WIDTH
        self._console = Console(file=stream, width=width, highlight=False, markup=False, emoji=False)
        self._console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
        self._tz = tz
        self._alerts: list[Alert] = []
        self._run_info = run_info or RunInfo

    def write(self, alert: Alert) -> None:
        self._alerts.append(alert)

    def close(self) -> None:
        by_host: dict[str, list[Alert]] = defaultdict(list)
        for alert in self._alerts:
            by_host[alert.host or UNKNOWN_HOST].append(alert)
        for host in sorted(by_host):
            alerts = sorted(by_host[host], key=lambda a: a.timestamp)
            self._console.print(self._host_table(host, alerts))
        partial = self._run_info().partial_note()
        if not self._alerts:
            self._console.print("No alerts found before the run stopped." if partial else "No alerts.")
        if partial:
            self._console.print(Text(partial, style="bold red"))

    def _host_table(self, host: str, alerts: list[Alert]) -> Table:
        count = f"{len(alerts)} alert" + ("s" if len(alerts) != 1 else "")
        title = Text(sanitise_terminal(host, 200), style="bold") + Text(f"  {count}")
        table = Table(title=title, title_justify="left", expand=False, show_lines=True)
        table.add_column("time", no_wrap=True)
        table.add_column("level", no_wrap=True)
        table.add_column("rule", max_width=48, overflow="fold")
        table.add_column("details", overflow="fold")
        for alert in alerts:
            level = alert.rule.level
            table.add_row(
                Text(format_display_time(alert.timestamp, self._tz)),
                Text(level, style=LEVEL_STYLES.get(level, "")),
                Text(sanitise_terminal(alert.rule.title, 200)),
                Text("\n".join(describe_alert(alert))),
            )
        return table


SHOWN = tuple(key for key in SUMMARY_ORDER if key not in ("host", "account", "region", "domain",
                                                              "parent_command_line"))
"""The summary facts the table shows, in the summary's own order (the host heads the table)."""
EVENTS_SHOWN = 5


def _broken_pipe() -> None:
    """rich exits with status 1 when its reader goes away; the CLI's contract is 141, as Unix tools."""
    raise BrokenPipeError("standard output was closed")


def describe_alert(alert: Alert) -> list[str]:
    """The summary facts of an alert, one safe ``key: value`` line each, then where its events are.

    A value_count correlation lists the distinct values that made it fire; every alert ends with
    the log, event id and record (or file:line) of its events, to get back to the raw records.
    """
    summary = alert.to_dict()["summary"]
    lines = [f"{key}: {fact_text(summary[key])}" for key in SHOWN if key in summary]
    if alert.correlation is not None and alert.correlation.values:
        lines.append("values: " + fact_text(list(alert.correlation.values)))
    if alert.group:
        lines.append("group: " + ", ".join(
            f"{sanitise_terminal(k, 100)}={sanitise_terminal(v, 100)}" for k, v in alert.group))
    if len(alert.events) > 1:
        lines.append(f"events: {len(alert.events)}")
    for event in alert.events[:EVENTS_SHOWN]:
        lines.append("at: " + sanitise_terminal(event_label(event), 300))
    if len(alert.events) > EVENTS_SHOWN:
        lines.append(f"at: ... and {len(alert.events) - EVENTS_SHOWN} more events")
    return lines


def fact_text(value: object) -> str:
    """A summary value on one safe line; lists (``commands``, values) joined with `` ; ``."""
    if isinstance(value, list | tuple):
        return " ; ".join(sanitise_terminal(str(item), 200) for item in value)
    return sanitise_terminal(str(value), 300)


def columns_setting() -> int | None:
    """The ``COLUMNS`` environment variable, when it holds a sensible width."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and 40 <= int(value) <= 1000 else None


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
