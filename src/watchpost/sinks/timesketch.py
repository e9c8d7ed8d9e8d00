"""Timesketch-ready alerts (``--format timesketch-csv`` / ``timesketch-jsonl``): one row per alert
with the three columns Timesketch requires, ``datetime`` (ISO 8601, UTC), ``timestamp_desc`` and
``message``, then ``timestamp`` (microseconds since the epoch) and the alert's facts as further
attributes, in the summary's order (`watchpost.alerts.SUMMARY_ORDER`).

CSV cells are neutralised as in `watchpost.sinks.csv` (log content is hostile).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import IO, Any

import orjson

from watchpost.alerts import SUMMARY_ORDER, Alert, format_time
from watchpost.sinks.csv import neutralise_cell
from watchpost.sinks.run_info import RunInfo

TIMESTAMP_DESC = "Detection Time"
TIMESKETCH_COLUMNS = (
    "datetime", "timestamp_desc", "message", "timestamp",
    "level", "rule_title", "rule_id", "rule_kind",
    *SUMMARY_ORDER,
    "techniques", "tags", "values", "event_count", "origins", "alert_id", "rule_path",
)
ORIGINS_SHOWN = 20


def timesketch_row(alert: Alert) -> dict[str, Any]:
    """The Timesketch record of an alert."""
    data = alert.to_dict()
    summary = data["summary"]
    what = summary.get("command_line") or summary.get("event_name") or summary.get("process") or ""
    host = alert.host or "(unknown host)"
    message = f"[{alert.rule.level}] {alert.rule.title} on {host}" + (f": {what}" if what else "")
    detail = alert.correlation
    row: dict[str, Any] = {
        "datetime": format_time(alert.timestamp),
        "timestamp_desc": TIMESTAMP_DESC,
        "message": message,
        "timestamp": int(alert.timestamp.timestamp() * 1_000_000),
        "level": alert.rule.level,
        "rule_title": alert.rule.title,
        "rule_id": alert.rule.id,
        "rule_kind": alert.rule.kind,
        "techniques": ";".join(data["techniques"]),
        "tags": ";".join(alert.rule.tags),
        "values": ";".join(detail.values) if detail is not None else "",
        "event_count": len(alert.events),
        "origins": "; ".join(e.origin.describe() for e in alert.events[:ORIGINS_SHOWN]),
        "alert_id": data["id"],
        "rule_path": alert.rule.path,
    }
    for key in SUMMARY_ORDER:
        value = summary.get(key, "")
        row[key] = "; ".join(map(str, value)) if isinstance(value, list) else value
    return row


def partial_run_row(info: RunInfo) -> dict[str, Any] | None:
    """The record that closes a run that stopped early (so the timeline shows it); None when the
    run completed."""
    note = info.partial_note()
    if note is None:
        return None
    return {"datetime": format_time(info.generated), "timestamp_desc": "watchpost run stopped",
            "message": note, "timestamp": int(info.generated.timestamp() * 1_000_000)}


class TimesketchCsvSink:
    def __init__(self, stream: IO[str], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo
        self._writer = csv.writer(stream, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._writer.writerow(TIMESKETCH_COLUMNS)

    def write(self, alert: Alert) -> None:
        row = timesketch_row(alert)
        self._writer.writerow([neutralise_cell(row[column]) for column in TIMESKETCH_COLUMNS])

    def close(self) -> None:
        partial = partial_run_row(self._run_info())
        if partial is not None:
            self._writer.writerow([neutralise_cell(partial.get(column, "")) for column in TIMESKETCH_COLUMNS])
        self._stream.flush()


class TimesketchJsonlSink:
    def __init__(self, stream: IO[bytes], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo

    def write(self, alert: Alert) -> None:
        row = timesketch_row(alert)
        record = {column: row[column] for column in TIMESKETCH_COLUMNS if row[column] not in ("", None)}
        self._stream.write(orjson.dumps(record, default=str) + b"\n")
        self._stream.flush()

    def close(self) -> None:
        partial = partial_run_row(self._run_info())
        if partial is not None:
            self._stream.write(orjson.dumps(partial) + b"\n")
        self._stream.flush()
