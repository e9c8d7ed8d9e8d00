"""How matchers read an event's field values: string forms, numbers, date-times and IP addresses.

A field holds str, int, float, bool, None or a list of those (see `watchpost.events`). Matchers compare
*string forms* of scalar values:

- ``str`` values as they are (lower-cased for case-insensitive matching, through `Event.lowered`);
- ``bool`` as ``"true"`` / ``"false"`` (so Sigma's ``true`` and ``'true'`` match a boolean field);
- ``int`` as its decimal digits; ``float`` as ``str(value)``, except that integral floats print like
  ints (``4688.0`` -> ``"4688"``) so ``EventID: 4688`` matches whatever numeric type a reader used;
- anything else (unexpected, e.g. a nested dict) with ``str()``.

None has no string form: it never matches a value, only ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

Number = int | float
IPAddress = IPv4Address | IPv6Address

# Epoch values at or above this magnitude are taken as milliseconds (10**11 s is the year 5138).
_EPOCH_MILLIS_FROM = 10**11


def text_of(value: Any) -> str | None:
    """The string form of a scalar field value (None for None). Non-str forms are lower-case already."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        if value.is_integer():
            return str(int(value))
        return str(value)
    return str(value)


def texts_of(value: Any) -> Iterator[str]:
    """String forms of a field value: one for a scalar, one per non-None element for a list."""
    if isinstance(value, list | tuple):
        for item in value:
            text = text_of(item)
            if text is not None:
                yield text
    else:
        text = text_of(value)
        if text is not None:
            yield text


def scalars_of(value: Any) -> Iterator[Any]:
    """The scalar values of a field: its elements for a list, else the value itself (None skipped)."""
    if isinstance(value, list | tuple):
        for item in value:
            if item is not None:
                yield item
    elif value is not None:
        yield value


def number_of(value: Any) -> Number | None:
    """A field value as a number, or None when it is not numeric.

    ints and finite floats are taken as they are (bools are not numbers here); strings are stripped
    and read as a decimal integer, a float (``1.5``, ``1e3``) or a ``0x`` hexadecimal integer (Windows
    logs write flags and ids that way). NaN and infinities are not numbers.
    """
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float:
        return float(value) if math.isfinite(value) else None
    if kind is not str:
        return None
    text = value.strip()
    if not text or "_" in text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        if not text.lstrip("+-").lower().startswith("0x"):
            return None
        try:
            return int(text, 16)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def datetime_of(value: Any) -> datetime | None:
    """A field value as a date-time, or None when it cannot be read as one.

    Accepted: `datetime` objects; ISO 8601 strings (``2024-05-01T12:30:00Z``, a space instead of
    ``T``, fractions of any length - Windows writes 7 digits -, an offset or a trailing ``UTC``);
    numbers as Unix epoch seconds, or milliseconds from 10**11 on (both UTC). The wall-clock fields
    are kept as written: no time zone conversion (the Sigma time modifiers do not convert either).
    """
    if isinstance(value, datetime):
        return value
    kind = type(value)
    if kind is int or kind is float:
        try:
            seconds = float(value)
        except OverflowError:  # an integer past float's range
            return None
        if not math.isfinite(seconds):
            return None
        if abs(seconds) >= _EPOCH_MILLIS_FROM:
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if kind is not str:
        return None
    return _parse_iso(value.strip())


def _parse_iso(text: str) -> datetime | None:
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    dot = text.find(".", 10)
    if dot != -1:  # trim fractions longer than microseconds (fromisoformat takes at most 6 digits)
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            text = text[: dot + 7] + text[end:]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def ip_of(text: str) -> IPAddress | None:
    """``text`` as an IP address (IPv4, IPv6, ``[v6]`` brackets allowed), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ip_address(text)
    except ValueError:
        return None
