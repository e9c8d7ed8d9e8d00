"""How matchers read field values: string forms, numbers, date-times, IP addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from ipaddress import ip_address

import pytest

from watchpost.matching.event_values import datetime_of, ip_of, number_of, text_of, texts_of


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Abc", "Abc"),
        (4688, "4688"),
        (4688.0, "4688"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, None),
    ],
)
def test_text_of(value: object, text: str | None) -> None:
    assert text_of(value) == text


def test_texts_of_lists_skip_none() -> None:
    assert list(texts_of(["a", None, 2, True])) == ["a", "2", "true"]
    assert list(texts_of(None)) == []
    assert list(texts_of("x")) == ["x"]


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (5, 5),
        (2.5, 2.5),
        ("42", 42),
        (" -7 ", -7),
        ("1e3", 1000.0),
        ("0x1F", 31),
        ("-0x10", -16),
        ("1_000", None),
        ("nan", None),
        ("inf", None),
        (float("nan"), None),
        ("", None),
        ("0xZZ", None),
        ("abc", None),
        (True, None),
        (None, None),
    ],
)
def test_number_of(value: object, number: float | None) -> None:
    assert number_of(value) == number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-06T13:45:10Z", datetime(2024, 5, 6, 13, 45, 10, tzinfo=UTC)),
        ("2024-05-06 13:45:10.123", datetime(2024, 5, 6, 13, 45, 10, 123000)),
        ("2024-05-06T13:45:10.1234567Z", datetime(2024, 5, 6, 13, 45, 10, 123456, tzinfo=UTC)),
        (
            "2024-05-06T13:45:10+02:00",
            datetime(2024, 5, 6, 13, 45, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-05-06 13:45:10 UTC", datetime(2024, 5, 6, 13, 45, 10, tzinfo=UTC)),
        (1715003110, datetime(2024, 5, 6, 13, 45, 10, tzinfo=UTC)),
        (1715003110500, datetime(2024, 5, 6, 13, 45, 10, 500000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (10**400, None),  # past float's range: OverflowError before (issue 19)
        (-62135596800, datetime(1, 1, 1, tzinfo=UTC)),
        (10**30, None),
    ],
)
def test_datetime_of(value: object, expected: datetime | None) -> None:
    assert datetime_of(value) == expected


def test_ip_of() -> None:
    assert ip_of(" 10.0.0.1 ") == ip_address("10.0.0.1")
    assert ip_of("[::1]") == ip_address("::1")
    assert ip_of("10.0.0.256") is None
    assert ip_of("-") is None
