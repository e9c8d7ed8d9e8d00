"""Times and zones given on the command line: ``--from/--to``, ``--tz``, ``--timefield``.

Decisions:

- ``--from``/``--to`` take ISO 8601 with a zone (``2024-05-01T10:00:00Z``, ``…+02:00``), a time
  relative to now (``-24h``, ``7d``, ``1d12h``, ``90m``: that long ago; units s, m, h, d, w), or a
  date alone (``2024-05-01``), read as UTC midnight with a note on standard error that says so:
  one line, so a script that meant UTC loses nothing and an analyst who meant local time sees it
  at once. A time of day without a zone (``2024-05-01T10:00``) stays an error: which zone the
  analyst meant is a guess, and an hour's error moves the window silently.
- Relative times are taken from one ``now`` per command, so ``--from -2h --to -1h`` is exactly an
  hour.
- ``--tz``: ``UTC``/``Z``, a fixed offset (``+02:00``, ``-0530``), an IANA name
  (``Europe/Paris``), or ``local``: the machine's zone (``TZ``, else ``/etc/localtime``), with its
  daylight-saving rules when the zone has a name, else the current offset.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

import click
import re2

RELATIVE = re2.compile(r"-?((?:\d+[smhdw])+)")
RELATIVE_PART = re2.compile(r"(\d+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
ZONEINFO_ROOTS = ("/usr/share/zoneinfo/", "/usr/lib/zoneinfo/", "/usr/share/lib/zoneinfo/")


def parse_time(value: str | None, option: str = "--from", now: datetime | None = None) -> datetime | None:
    """The UTC time ``value`` stands for (None stays None); see the module docstring.

    Raises ``click.BadParameter`` naming ``option`` when ``value`` is none of the forms.
    """
    if value is None:
        return None
    text = value.strip()
    relative = RELATIVE.fullmatch(text.lower())
    if relative is not None:
        parts = RELATIVE_PART.findall(relative.group(1))
        seconds = sum(int(number) * UNIT_SECONDS[unit] for number, unit in parts)
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        except OverflowError as error:
            raise click.BadParameter(f"too far back: {value!r}", param_hint=option) from error
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(
            f"not an ISO 8601 time or a relative time (-24h, 7d): {value!r}", param_hint=option
        ) from error
    if moment.tzinfo is None and len(text) != len("2024-05-01"):
        raise click.BadParameter(f"give a time zone (e.g. Z or +02:00), or a date alone: {value!r}",
                                 param_hint=option)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
        read_as = moment.isoformat().replace("+00:00", "Z")
        click.echo(f"note: {option} {text} has no time zone: read as {read_as}"
                   " (UTC); add Z or an offset such as +02:00 to say so", err=True)
    return moment.astimezone(UTC)


def parse_time_range(since: str | None, until: str | None,
                     now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """``--from`` and ``--to`` as UTC times, relative ones from the same ``now``."""
    now = now or datetime.now(UTC)
    start, end = parse_time(since, "--from", now), parse_time(until, "--to", now)
    if start is not None and end is not None and start > end:
        raise click.BadParameter("--from is after --to", param_hint="--from/--to")
    return start, end


def parse_tz(value: str) -> tzinfo:
    """``UTC``/``Z``, ``local``, a fixed offset (``+02:00``, ``-0530``) or an IANA zone name."""
    if value.upper() in ("UTC", "Z"):
        return UTC
    if value.lower() == "local":
        return local_zone()
    if value[:1] in "+-":
        digits = value[1:].replace(":", "")
        if digits.isdigit() and len(digits) in (2, 4):
            hours, minutes = int(digits[:2]), int(digits[2:] or 0)
            if hours < 24 and minutes < 60:
                sign = -1 if value.startswith("-") else 1
                return timezone(sign * timedelta(hours=hours, minutes=minutes))
        raise click.BadParameter(f"not a UTC offset (like +02:00): {value!r}", param_hint="--tz")
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value)
    except (KeyError, ValueError, OSError) as error:
        raise click.BadParameter(f"unknown time zone: {value!r}", param_hint="--tz") from error


def local_zone() -> tzinfo:
    """The machine's zone: ``TZ`` if it names a zone, else ``/etc/localtime``, else today's offset."""
    from zoneinfo import ZoneInfo

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            pass
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
        for root in ZONEINFO_ROOTS:
            if target.startswith(root):
                return ZoneInfo(target[len(root):])
        with localtime.open("rb") as stream:
            return ZoneInfo.from_file(stream, key="localtime")
    except (KeyError, ValueError, OSError):
        pass
    offset = time.localtime().tm_gmtoff
    return timezone(timedelta(seconds=offset), time.strftime("%Z"))
