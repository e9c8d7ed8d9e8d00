"""``watchpost metrics``: how many events the logs hold, per channel and event id, per host and per
time bucket (what Hayabusa's ``eid-metrics`` and ``computer-metrics`` give), over every format
`hunt` reads, with the same ``--from/--to`` and outputs.

Channel and event id are the Windows ``Channel``/``EventID``, or for other formats the reader's
logsource and the event's kind (``aws/cloudtrail`` + ``DescribeVpcs``, ``linux/auditd`` +
``EXECVE``); a host is the machine, or the cloud account and region (`watchpost.event_context`).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import click

from watchpost.commands.event_scan import (
    ScanStats,
    exit_scan,
    open_text_output,
    print_scan_summary,
    scan_events,
    scan_options,
    scan_settings,
)
from watchpost.commands.row_output import ROW_FORMATS, RowWriter
from watchpost.event_context import event_channel, event_code, event_host
from watchpost.sinks.display_time import format_display_time, format_iso_time

HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DIMENSIONS = ("channel", "host", "time")
METRIC_COLUMNS = ("metric", "channel", "event_id", "host", "bucket", "count", "percent", "first", "last")
TABLE_COLUMNS = {
    "channel": ("channel", "event_id", "count", "percent", "first", "last"),
    "host": ("host", "count", "percent", "first", "last"),
    "time": ("bucket", "count", "percent"),
}
TITLES = {"channel": "Events per channel and event id", "host": "Events per host",
          "time": "Events per {bucket}"}
UNKNOWN_HOST = "(unknown host)"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Tally:
    """Counts with the first and last time seen, per key."""

    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    first: dict[tuple[str, ...], datetime] = field(default_factory=dict)
    last: dict[tuple[str, ...], datetime] = field(default_factory=dict)

    def add(self, key: tuple[str, ...], moment: datetime) -> None:
        self.counts[key] += 1
        if key not in self.first or moment < self.first[key]:
            self.first[key] = moment
        if key not in self.last or moment > self.last[key]:
            self.last[key] = moment


def parse_bucket(value: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``1d`` as a time span (click.BadParameter otherwise)."""
    number, unit = value[:-1], value[-1:].lower()
    if unit not in UNITS or not number.isdigit() or int(number) == 0:
        raise click.BadParameter(f"expected a span like 30s, 15m, 1h or 1d: {value!r}", param_hint="--bucket")
    return timedelta(seconds=int(number) * UNITS[unit])


def bucket_start(moment: datetime, span: timedelta, tz: tzinfo) -> datetime:
    """The start of the bucket holding ``moment``; buckets are aligned on midnight in ``tz``."""
    local = moment.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    seconds = int((local.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    size = int(span.total_seconds())
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds - seconds % size)
    return (start - offset).astimezone(tz)


def percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}" if total else "0.0"


def metric_rows(dimension: str, tally: Tally, total: int, tz: tzinfo,
                table: bool = False) -> list[dict[str, Any]]:
    """Rows of one dimension: most events first (time buckets in time order); times in ISO 8601,
    or as `hunt`'s table shows them for the table."""
    shown = format_display_time if table else format_iso_time
    keys = sorted(tally.counts) if dimension == "time" else [k for k, _ in tally.counts.most_common()]
    rows = []
    for key in keys:
        count = tally.counts[key]
        row: dict[str, Any] = {"metric": dimension, "count": count, "percent": percent(count, total)}
        if dimension == "channel":
            row["channel"], row["event_id"] = key
        elif dimension == "host":
            row["host"] = key[0]
        else:
            row["bucket"] = key[0]
        if dimension != "time":
            row["first"] = shown(tally.first[key], tz)
            row["last"] = shown(tally.last[key], tz)
        rows.append(row)
    return rows


@click.command("metrics", context_settings=HELP_SETTINGS)
@scan_options
@click.option("--by", "dimensions", multiple=True, type=click.Choice(DIMENSIONS),
              help="Count per channel and event id, per host, per time bucket (repeatable; default all).")
@click.option("--bucket", default="1h", show_default=True, metavar="SPAN",
              help="Time bucket for --by time: 30s, 15m, 1h, 1d...")
@click.option("--format", "-f", "output_format", type=click.Choice(ROW_FORMATS), default="table",
              show_default=True, help="Output format.")
def metrics(inputs: tuple[str, ...], input_format: str | None, since: str | None, until: str | None,
            display_tz: str, output: Path | None, quiet: bool, dimensions: tuple[str, ...],
            bucket: str, output_format: str) -> None:
    """Count events per channel/event id, per host and per time bucket.

    Reads the same inputs and formats as `hunt`. Percentages are of the events in range.
    """
    span = parse_bucket(bucket)
    settings = scan_settings(inputs, input_format, since, until, display_tz)
    tz = settings.tz or UTC
    chosen = tuple(d for d in DIMENSIONS if d in dimensions) or DIMENSIONS
    tallies = {dimension: Tally() for dimension in chosen}
    stats = ScanStats()
    for event in scan_events(settings, stats):
        moment = event.timestamp
        if "channel" in tallies:
            tallies["channel"].add((event_channel(event), event_code(event)), moment)
        if "host" in tallies:
            tallies["host"].add((event_host(event) or UNKNOWN_HOST,), moment)
        if "time" in tallies:
            tallies["time"].add((format_iso_time(bucket_start(moment, span, tz), tz),), moment)
    write_metrics(output_format, output, tallies, stats.in_range, tz, bucket)
    if not quiet:
        print_scan_summary(stats, sys.stderr, f"{len(chosen)} metrics")
    exit_scan(stats)


def write_metrics(output_format: str, output: Path | None, tallies: dict[str, Tally], total: int,
                  tz: tzinfo, bucket: str) -> None:
    stream = open_text_output(output)
    try:
        if output_format == "table":
            for dimension, tally in tallies.items():
                title = TITLES[dimension].format(bucket=bucket) + f"  ({total} events)"
                writer = RowWriter("table", stream, TABLE_COLUMNS[dimension], title)
                for row in metric_rows(dimension, tally, total, tz, table=True):
                    writer.write(row)
                writer.close(empty=f"{TITLES[dimension].format(bucket=bucket)}: no events.")
        else:
            writer = RowWriter(output_format, stream, METRIC_COLUMNS)
            for dimension, tally in tallies.items():
                for row in metric_rows(dimension, tally, total, tz):
                    writer.write(row)
            writer.close()
    finally:
        if output is not None:
            stream.close()
