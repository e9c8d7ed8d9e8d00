"""The time of a JSON log record, from the first of its time keys that holds a readable time.

Text is ISO 8601 (``2024-07-31T13:06:24Z``, ``+02:00`` offsets, fractions of any length, which
Python 3.11 reads and truncates to microseconds); text without an offset is UTC. Numbers are
Unix epoch seconds, or milliseconds when they are too large to be seconds. The result is UTC
(clamped to years 1-9999 when an offset takes it past them: `watchpost.readers.timestamp.to_utc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from watchpost.events import EPOCH, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.timestamp import to_utc

_MILLISECONDS_FROM = 100_000_000_000  # 1e11 seconds is the year 5138


def parse_time(value: Any) -> datetime:
    """The UTC time written as ``value``; raises ValueError when it is not a time."""
    if isinstance(value, str):
        return to_utc(datetime.fromisoformat(value.strip()))  # clamped at year 1 and 9999
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError) as error:
            raise ValueError(f"epoch time out of range: {value!r}") from error
    raise ValueError(f"not a time: {value!r}")


def record_time(
    record: dict[str, Any], keys: Sequence[str], origin: Origin, problems: ProblemLog
) -> datetime:
    """The time under the first of ``keys`` that reads; else the Unix epoch, reported."""
    for key in keys:
        value = record.get(key)
        if value is None:
            continue
        try:
            return parse_time(value)
        except ValueError:
            continue
    place = None if origin.record is None else f"{origin.kind} {origin.record}"
    problems.add(
        "kept", origin.path, place, f"no readable time in {', '.join(keys)}: timestamp set to 1970-01-01"
    )
    return EPOCH
