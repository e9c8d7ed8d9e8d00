"""CSV: one row an alert, flattened, with stable columns (documented in docs/cli.md).

Log content is hostile, and CSV files are opened in spreadsheets, which run a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (and, in some, tab or carriage return) as a formula
("CSV injection"). Every cell that starts with one of those characters, or with a line feed, is
prefixed with a single quote ``'``, which spreadsheets show as text. Control characters other
than tab, CR and LF and the Unicode bidirectional overrides are written visibly as ``\\xNN`` /
``\\uNNNN``, and a cell is cut at 32,000 characters (spreadsheets hold at most 32,767).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import IO, Any

from watchpost.alerts import SUMMARY_ORDER, Alert
from watchpost.event_context import event_channel, event_code
from watchpost.sinks.display_time import format_iso_time
from watchpost.sinks.run_info import RunInfo
from watchpost.sinks.terminal_text import visible_text

# The columns, in order. New columns may be added at the end; none is renamed or removed.
CSV_COLUMNS = (
    "timestamp", "level", "rule_title", "rule_id", "rule_kind", "host",
    "user", "domain", "process", "process_id", "command_line",
    "parent", "parent_id", "parent_command_line", "event_name", "source_ip",
    "techniques", "tags", "group", "event_count", "first_event", "last_event",
    "origins", "alert_id", "rule_path",
    "account", "region", "commands", "values", "channels",
)
SUMMARY_COLUMNS = tuple(key for key in SUMMARY_ORDER if key != "host")
"""The summary's facts, in `SUMMARY_ORDER` (the same order as every other output)."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
CELL_LIMIT = 32_000
ORIGINS_SHOWN = 20


def neutralise_cell(value: object) -> str:
    """A cell's text: visible control characters, cut at `CELL_LIMIT`, formula starts quoted."""
    text = "" if value is None else str(value)
    text = visible_text(text, CELL_LIMIT)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text


def alert_row(alert: Alert, tz: tzinfo = UTC) -> dict[str, Any]:
    """The flattened row of an alert (raw values; `neutralise_cell` is applied on writing)."""
    data = alert.to_dict()
    summary = data["summary"]
    events = alert.events
    origins = [event.origin.describe() for event in events[:ORIGINS_SHOWN]]
    if len(events) > ORIGINS_SHOWN:
        origins.append(f"... +{len(events) - ORIGINS_SHOWN} more")
    row: dict[str, Any] = {
        "timestamp": format_iso_time(alert.timestamp, tz),
        "level": alert.rule.level,
        "rule_title": alert.rule.title,
        "rule_id": alert.rule.id,
        "rule_kind": alert.rule.kind,
        "host": alert.host or "",
        "techniques": ";".join(data["techniques"]),
        "tags": ";".join(alert.rule.tags),
        "group": ";".join(f"{key}={value}" for key, value in alert.group),
        "event_count": len(events),
        "first_event": format_iso_time(events[0].timestamp, tz) if events else "",
        "last_event": format_iso_time(events[-1].timestamp, tz) if events else "",
        "origins": "; ".join(origins),
        "alert_id": data["id"],
        "rule_path": alert.rule.path,
        "values": ";".join(alert.correlation.values) if alert.correlation is not None else "",
        "channels": "; ".join(dict.fromkeys(
            f"{event_channel(e)} {event_code(e)}".strip() for e in events[:ORIGINS_SHOWN])),
    }
    for column in SUMMARY_COLUMNS:
        value = summary.get(column, "")
        row[column] = "; ".join(map(str, value)) if isinstance(value, list) else value
    return row


class CsvSink:
    """Writes the header at once and one row per alert as alerts come (streaming)."""

    def __init__(self, stream: IO[str], tz: tzinfo = UTC,
                 run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo
        self._tz = tz
        self._writer = csv.writer(stream, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._writer.writerow(CSV_COLUMNS)

    def write(self, alert: Alert) -> None:
        row = alert_row(alert, self._tz)
        self._writer.writerow([neutralise_cell(row[column]) for column in CSV_COLUMNS])

    def close(self) -> None:
        """A run that stopped early ends with a row saying so (``# INCOMPLETE RUN …``)."""
        partial = self._run_info().partial_note()
        if partial:
            self._writer.writerow([neutralise_cell("# " + partial)] + [""] * (len(CSV_COLUMNS) - 1))
        self._stream.flush()

