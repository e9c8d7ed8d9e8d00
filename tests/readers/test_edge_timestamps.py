"""Timestamps at the edges of `datetime` (issue 19): an offset that takes a time past year 1 or
year 9999 is clamped to the first or last UTC moment, never an OverflowError out of a reader."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchpost.events import Origin
from watchpost.problems import ProblemLog
from watchpost.readers.record_times import parse_time, record_time
from watchpost.readers.timestamp import (
    FIRST_MOMENT,
    LAST_MOMENT,
    parse_any_timestamp,
    parse_timestamp,
    to_utc,
)

EDGES = [
    ("0001-01-01T00:00:00+14:00", FIRST_MOMENT),
    ("0001-01-01T13:59:59.999999+14:00", FIRST_MOMENT),
    ("9999-12-31T23:00:00-12:00", LAST_MOMENT),
    ("0001-01-01T00:00:00Z", FIRST_MOMENT),
    ("9999-12-31T23:59:59.999999Z", LAST_MOMENT),
    ("0001-01-01T15:00:00+14:00", datetime(1, 1, 1, 1, tzinfo=UTC)),  # representable: converted exactly
]


@pytest.mark.parametrize("text,expected", EDGES)
def test_iso_times_past_the_edges_are_clamped(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected
    assert parse_any_timestamp(text) == expected
    assert parse_time(text) == expected


def test_naive_and_utc_values_are_kept_as_they_are() -> None:
    naive = datetime(2024, 5, 1, 12)
    assert to_utc(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert to_utc(aware) is aware


@pytest.mark.parametrize("value", [10**30, -(10**30), -62135596801 * 10**9])
def test_epoch_numbers_beyond_any_year_are_refused_with_value_error(value: int) -> None:
    with pytest.raises(ValueError):
        parse_any_timestamp(value)
    with pytest.raises(ValueError):
        parse_time(value)


def test_record_time_reports_an_unreadable_edge_and_reads_a_clamped_one() -> None:
    problems = ProblemLog()
    origin = Origin("trail.json", 4, "record")
    moment = record_time({"eventTime": "0001-01-01T00:00:00+14:00"}, ("eventTime",), origin, problems)
    assert moment == FIRST_MOMENT and problems.count() == 0
    record_time({"eventTime": 10**30}, ("eventTime",), origin, problems)
    assert problems.count() == 1
