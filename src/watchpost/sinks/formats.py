"""The output formats of ``watchpost hunt --format`` and the sink for each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import IO, Any

from watchpost.sinks.base import Sink
from watchpost.sinks.report_context import HuntDescription
from watchpost.sinks.run_info import RunInfo

OUTPUT_FORMATS = ("table", "jsonl", "json", "csv", "html", "navigator", "sarif",
                  "timesketch-csv", "timesketch-jsonl")
BINARY_FORMATS = frozenset({"jsonl", "json", "navigator", "sarif", "timesketch-jsonl"})
# Formats that write each alert as it comes; the others write everything at the end.
STREAMING_FORMATS = frozenset({"jsonl", "csv", "timesketch-csv", "timesketch-jsonl"})


def make_sink(output_format: str, stream: IO[Any], tz: tzinfo = UTC,
              run_info: Callable[[], RunInfo] | None = None,
              description: HuntDescription | None = None) -> Sink:
    """The sink of ``output_format`` writing to ``stream`` (binary for `BINARY_FORMATS`).

    ``description`` (the command line, options and rules run) is recorded by the HTML report.
    """
    if output_format.startswith("timesketch-"):
        from watchpost.sinks.timesketch import TimesketchCsvSink, TimesketchJsonlSink

        if output_format == "timesketch-csv":
            return TimesketchCsvSink(stream, run_info)
        return TimesketchJsonlSink(stream, run_info)
    if output_format == "jsonl":
        from watchpost.sinks.jsonl import JsonlSink

        return JsonlSink(stream, run_info)
    if output_format == "json":
        from watchpost.sinks.jsonl import JsonSink

        return JsonSink(stream, run_info)
    if output_format == "csv":
        from watchpost.sinks.csv import CsvSink

        return CsvSink(stream, tz, run_info)
    if output_format == "html":
        from watchpost.sinks.html import HtmlSink

        return HtmlSink(stream, tz, run_info, description)
    if output_format == "navigator":
        from watchpost.sinks.navigator import NavigatorSink

        return NavigatorSink(stream, run_info)
    if output_format == "sarif":
        from watchpost.sinks.sarif import SarifSink

        return SarifSink(stream, run_info)
    if output_format == "table":
        from watchpost.sinks.table import TableSink

        return TableSink(stream, tz=tz, run_info=run_info)
    raise ValueError(f"unknown output format {output_format!r}; known: {', '.join(OUTPUT_FORMATS)}")
