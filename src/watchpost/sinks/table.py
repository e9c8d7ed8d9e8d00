"""A readable terminal table of alerts, grouped by host and ordered by time (rich)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, timedelta, tzinfo
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchpost.alerts import Alert
from watchpost.sinks.terminal_text import sanitise_terminal

LEVEL_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}


class TableSink:
    """Collects alerts and prints one table per host at close.

    Every cell that comes from a log is passed through `sanitise_terminal`: log content never
    reaches the terminal as control characters.
    """

    def __init__(self, stream: IO[str], tz: tzinfo = UTC, width: int | None = None) -> None:
        self._console = Console(file=stream, width=width, highlight=False, markup=False, emoji=False)
        self._tz = tz
        self._alerts: list[Alert] = []

    def write(self, alert: Alert) -> None:
        self._alerts.append(alert)

    def close(self) -> None:
        by_host: dict[str, list[Alert]] = defaultdict(list)
        for alert in self._alerts:
            by_host[alert.host or "(unknown host)"].append(alert)
        for host in sorted(by_host):
            self._console.print(self._host_table(host, sorted(by_host[host], key=lambda a: a.timestamp)))
        if not self._alerts:
            self._console.print("No alerts.")

    def _host_table(self, host: str, alerts: list[Alert]) -> Table:
        table = Table(title=Text(sanitise_terminal(host, 200)), title_justify="left", expand=False)
        table.add_column("time", no_wrap=True)
        table.add_column("level")
        table.add_column("rule")
        table.add_column("details", overflow="fold")
        for alert in alerts:
            level = alert.rule.level
            table.add_row(
                Text(self._format_time(alert)),
                Text(level, style=LEVEL_STYLES.get(level, "")),
                Text(sanitise_terminal(alert.rule.title, 200)),
                Text(describe_alert(alert)),
            )
        return table

    def _format_time(self, alert: Alert) -> str:
        moment = alert.timestamp.astimezone(self._tz)
        offset = moment.utcoffset() or timedelta(0)
        text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        sign = "+" if offset >= timedelta(0) else "-"
        minutes = int(abs(offset).total_seconds() // 60)
        return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


SHOWN = ("user", "process", "process_id", "command_line", "parent", "parent_id", "event_name", "source_ip")


def describe_alert(alert: Alert) -> str:
    """The summary facts of an alert as one safe line of ``key=value`` pairs."""
    summary = alert.to_dict()["summary"]
    parts = [f"{key}={sanitise_terminal(str(summary[key]), 300)}" for key in SHOWN if key in summary]
    if alert.group:
        parts.append("group=" + ",".join(f"{k}={sanitise_terminal(v, 100)}" for k, v in alert.group))
    if len(alert.events) > 1:
        parts.append(f"events={len(alert.events)}")
    return "  ".join(parts)
