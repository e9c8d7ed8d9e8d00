"""Rows of `watchpost search` and `watchpost metrics` as a terminal table, JSON Lines or CSV.

Log content is hostile here as in the alert sinks, and the same helpers make it safe: table cells
go through `sanitise_terminal` (no control characters reach the terminal, no rich markup), CSV
cells through `neutralise_cell` (formula starts quoted, controls made visible); JSON is JSON.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from typing import IO, Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchpost.sinks.csv import neutralise_cell
from watchpost.sinks.table import FILE_WIDTH, columns_setting
from watchpost.sinks.terminal_text import sanitise_terminal

ROW_FORMATS = ("table", "jsonl", "csv")
CELL_LIMIT = 300
UNBROKEN = frozenset({"timestamp", "first", "last", "bucket"})
"""Columns kept on one line (times)."""


def csv_text(value: Any) -> str:
    """A row value as CSV text: lists joined with ``; ``, objects as JSON."""
    if isinstance(value, dict):
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    if isinstance(value, list | tuple):
        return "; ".join(str(item) for item in value)
    return "" if value is None else str(value)


def table_text(value: Any) -> str:
    """A row value for a table cell: one safe line per list item."""
    if isinstance(value, list | tuple):
        return "\n".join(sanitise_terminal(str(item), CELL_LIMIT) for item in value)
    return sanitise_terminal(csv_text(value), CELL_LIMIT)


class RowWriter:
    """Writes rows (dicts keyed by ``columns``) in one of `ROW_FORMATS`.

    JSON Lines and CSV stream each row as it comes; the table is printed at ``close``, in the
    order of ``sort_key`` when one is given, under ``title``.
    """

    def __init__(self, output_format: str, stream: IO[str], columns: Sequence[str], title: str = "",
                 sort_key: Callable[[dict[str, Any]], Any] | None = None) -> None:
        if output_format not in ROW_FORMATS:
            raise ValueError(f"unknown format {output_format!r}; known: {', '.join(ROW_FORMATS)}")
        self.format = output_format
        self._stream = stream
        self._columns = tuple(columns)
        self._title = title
        self._sort_key = sort_key
        self._rows: list[dict[str, Any]] = []
        self.count = 0
        self._csv = None
        if output_format == "csv":
            self._csv = csv.writer(stream, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            self._csv.writerow(self._columns)

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self.format == "jsonl":
            shown = {column: row.get(column) for column in self._columns}
            line = orjson.dumps(shown, default=str, option=orjson.OPT_NON_STR_KEYS)
            self._stream.write(line.decode() + "\n")
        elif self._csv is not None:
            self._csv.writerow([neutralise_cell(csv_text(row.get(column))) for column in self._columns])
        else:
            self._rows.append(row)

    def close(self, empty: str = "Nothing found.") -> None:
        if self.format == "table":
            print_table(self._stream, self._title, self._columns, self._rows, self._sort_key, empty)
        self._stream.flush()


def print_table(stream: IO[str], title: str, columns: Sequence[str], rows: list[dict[str, Any]],
                sort_key: Callable[[dict[str, Any]], Any] | None, empty: str) -> None:
    width = None if _is_terminal(stream) else (columns_setting() or FILE_WIDTH)
    console = Console(file=stream, width=width, highlight=False, markup=False, emoji=False)
    if not rows:
        console.print(empty)
        return
    ordered = sorted(rows, key=sort_key) if sort_key is not None else rows
    multi_line = any(isinstance(row.get(column), list) for row in rows for column in columns)
    table = Table(title=Text(sanitise_terminal(title, 200), style="bold") if title else None,
                  title_justify="left", show_lines=multi_line)
    for column in columns:
        if column in ("count", "percent"):
            table.add_column(column, no_wrap=True, justify="right")
        else:
            table.add_column(column, overflow="fold", no_wrap=column in UNBROKEN)
    for row in ordered:
        table.add_row(*(Text(table_text(row.get(column))) for column in columns))
    console.print(table)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
