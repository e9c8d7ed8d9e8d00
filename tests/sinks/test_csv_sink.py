"""CSV: stable columns, one row an alert, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.sinks.hostile import FORMULAS, LONG, RTLO
from watchpost.alerts import Alert
from watchpost.cli import main
from watchpost.sinks.csv import CELL_LIMIT, CSV_COLUMNS, CsvSink, neutralise_cell

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@pytest.mark.parametrize("value", [*FORMULAS, "\n=1+1", "-", "@"])
def test_a_cell_starting_like_a_formula_is_prefixed_with_a_quote(value: str) -> None:
    cell = neutralise_cell(value)
    assert cell.startswith("'")
    assert cell[1:] == value  # the rest is kept as it was


@pytest.mark.parametrize("value", ["net use", "C:\\Windows\\net.exe", "0x1a2c", "a=b", "x-y", "", "12"])
def test_ordinary_cells_are_kept_as_they_are(value: str) -> None:
    assert neutralise_cell(value) == value


def test_control_characters_and_bidi_overrides_are_made_visible_and_long_cells_cut() -> None:
    assert neutralise_cell("a\x1b[31mb\x00") == "a\\x1b[31mb\\x00"
    assert neutralise_cell(RTLO) == "invoice\\u202etxt.exe"
    assert neutralise_cell("two\nlines\tand tab") == "two\nlines\tand tab"
    cut = neutralise_cell(LONG)
    assert len(cut) < CELL_LIMIT + 40 and cut.endswith(f"(+{len(LONG) - CELL_LIMIT} chars)")


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_hostile_alerts_give_one_row_each_with_every_cell_neutralised(hostile_alerts: list[Alert]) -> None:
    stream = io.StringIO(newline="")
    sink = CsvSink(stream)
    for alert in hostile_alerts:
        sink.write(alert)
    sink.close()
    text = stream.getvalue()
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert tuple(header) == CSV_COLUMNS
    rows = read_rows(text)
    assert len(rows) == len(hostile_alerts)
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(DANGEROUS_STARTS), (column, cell[:80])
            assert "\x1b" not in cell and "\x00" not in cell and "\u202e" not in cell
            assert len(cell) <= CELL_LIMIT + 40
    # The user is shown as DOMAIN\user (the hostile case puts the payload in both), a UPN as it is.
    users = {row["user"] for row in rows}
    for formula in FORMULAS:
        assert any(user.startswith("'" + formula) for user in users), formula
    assert all(row["rule_title"].startswith("<script>") for row in rows)  # markup is just text in CSV
    assert {row["techniques"] for row in rows} == {"T1049"}
    assert {row["event_count"] for row in rows} == {"1"}


def test_csv_through_the_cli_uses_the_display_zone_with_its_offset(hostile_case: tuple[Path, Path]) -> None:
    log, rule = hostile_case
    result = CliRunner().invoke(main, ["hunt", str(log), "--rules", str(rule), "-f", "csv", "-q",
                                       "--tz", "-05:30"], catch_exceptions=False)
    assert result.exit_code == 0
    rows = read_rows(result.stdout)
    first = min(rows, key=lambda row: row["timestamp"])
    assert first["timestamp"] == "2024-05-01T03:30:00.000000-05:30"
    assert first["first_event"] == first["timestamp"]
