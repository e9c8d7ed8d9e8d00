"""Turning the timestamps found in logs into timezone-aware UTC datetimes.

``parse_timestamp`` accepts ISO 8601 text with any UTC offset (``Z``, ``+02:00``), a space instead
of ``T``, and fractions of any length (digits past microseconds are dropped, not rounded); text
without an offset is taken as UTC. Numbers are Unix epoch times in seconds, milliseconds,
microseconds or nanoseconds, told apart by their size.

A time whose offset takes it past the years `datetime` holds (``0001-01-01T00:00:00+14:00`` is
in year 0 in UTC, ``9999-12-31T23:00:00-12:00`` in year 10000) is clamped to the first or last
UTC moment there is (`to_utc`): it was read, and is shown at the edge of time, instead of
raising OverflowError out of the reader and losing its whole file.
"""

from __future__ import annotations

from datetime import UTC, datetime

_MS_LIMIT = 100_000_000_000  # 1e11 seconds is year 5138: anything larger is milliseconds
_US_LIMIT = _MS_LIMIT * 1000
_NS_LIMIT = _US_LIMIT * 1000
FIRST_MOMENT = datetime.min.replace(tzinfo=UTC)
LAST_MOMENT = datetime.max.replace(tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """Aware ``value`` in UTC, clamped to `FIRST_MOMENT`..`LAST_MOMENT`; naive is taken as UTC."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # the offset takes it before year 1 or after year 9999
        return FIRST_MOMENT if value.year == 1 else LAST_MOMENT


def parse_timestamp(text: str) -> datetime:
    """The UTC datetime written as ISO 8601 ``text``; raises ValueError when it is not one.

    A trailing `` UTC`` (as the EVTX record header prints it) is accepted.
    """
    if text.endswith(" UTC"):
        text = text[:-4]
    return to_utc(datetime.fromisoformat(text))


def parse_epoch(number: float) -> datetime:
    """The UTC datetime of a Unix epoch ``number`` in s, ms, us or ns (chosen by magnitude)."""
    magnitude = abs(number)
    if magnitude >= _NS_LIMIT:
        number /= 1_000_000_000
    elif magnitude >= _US_LIMIT:
        number /= 1_000_000
    elif magnitude >= _MS_LIMIT:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"epoch time out of range: {number}") from exc


def parse_any_timestamp(value: object) -> datetime:
    """``parse_timestamp`` for text, ``parse_epoch`` for numbers; ValueError for anything else."""
    if isinstance(value, str):
        return parse_timestamp(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_epoch(value)
    raise ValueError(f"not a timestamp: {value!r}")
