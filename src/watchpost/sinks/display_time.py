"""Times as people read them: in the chosen zone, the UTC offset always shown.

Every valid time is shown, whatever the zone: an event time the zone cannot express (year 1 at
-12:00 would fall in year 0, 9999-12-31 at +14:00 in year 10000; ``datetime`` holds neither) is
shown in UTC instead, its ``+00:00`` offset saying so, and years are always written with four
digits (``strftime`` writes year 1 as ``1`` on Linux).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo

from watchpost.events import EPOCH

FIRST_SECONDS = (datetime.min.replace(tzinfo=UTC) - EPOCH).total_seconds()
LAST_SECONDS = (datetime.max.replace(tzinfo=UTC) - EPOCH).total_seconds()


def local_time(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` in ``tz``; in UTC when ``tz`` cannot express it (near year 1 or 9999)."""
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            return moment


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the Unix epoch of an aware ``moment`` (any year: never overflows)."""
    return (moment - EPOCH).total_seconds()


def moment_at(seconds: float) -> datetime:
    """The UTC time ``seconds`` after the epoch, clamped to the years `datetime` holds."""
    if math.isnan(seconds):
        seconds = 0.0
    clamped = min(max(seconds, FIRST_SECONDS), LAST_SECONDS)
    try:
        return EPOCH + timedelta(seconds=clamped)
    except OverflowError:  # rounding at the very last microsecond
        return datetime.max.replace(tzinfo=UTC) if clamped > 0 else datetime.min.replace(tzinfo=UTC)


def format_offset(moment: datetime) -> str:
    """``+02:00`` / ``-05:30`` / ``+00:00`` for an aware ``moment``."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = int(abs(offset).total_seconds() // 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_display_time(moment: datetime, tz: tzinfo) -> str:
    """``2021-03-15 09:12:04.412+01:00``: milliseconds, local to ``tz``, offset shown."""
    local = local_time(moment, tz)
    return local.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds") + format_offset(local)


def format_iso_time(moment: datetime, tz: tzinfo) -> str:
    """ISO 8601 with microseconds, local to ``tz``, offset shown (``+00:00`` for UTC)."""
    local = local_time(moment, tz)
    return local.replace(tzinfo=None).isoformat(timespec="microseconds") + format_offset(local)


def format_day(moment: datetime) -> str:
    """``0001-01-01``: the date of ``moment`` as it is (already local), four-digit year."""
    return moment.date().isoformat()
