"""Times as people read them: in the chosen zone, the UTC offset always shown."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def format_offset(moment: datetime) -> str:
    """``+02:00`` / ``-05:30`` / ``+00:00`` for an aware ``moment``."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = int(abs(offset).total_seconds() // 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_display_time(moment: datetime, tz: tzinfo) -> str:
    """``2021-03-15 09:12:04.412+01:00``: milliseconds, local to ``tz``, offset shown."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + format_offset(local)


def format_iso_time(moment: datetime, tz: tzinfo) -> str:
    """ISO 8601 with microseconds, local to ``tz``, offset shown (``+00:00`` for UTC)."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + format_offset(local)
