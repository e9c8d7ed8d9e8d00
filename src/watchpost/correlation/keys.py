"""Group-by keys and measured values: how a field value of an event becomes comparable.

Group keys (docs/correlation.md, "Group keys"):

- text is compared case-insensitively (lower-cased), as Sigma compares values;
- a value read from a *process-id-like* field (its name ends with ``ProcessId``/``ProcessID``,
  any case, or is ``pid``, ``ppid``, ``process.pid``, ``process.parent.pid``) is an integer
  whatever its notation: the Security log writes ``0x2bc``, Sysmon ``700``; both become ``700``;
- numbers stay numbers, booleans become ``true``/``false``;
- a missing (None) value is no key: the event does not take part in that correlation;
- a list (a multi-valued field) gives one key per element.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from watchpost.events import Event

Key = str | int | float
"""A normalised group-by value (hashable, comparable for equality)."""

PID_NAMES = frozenset({"pid", "ppid", "process.pid", "process.parent.pid"})


@functools.lru_cache(maxsize=4096)
def is_pid_field(name: str) -> bool:
    """True when ``name`` holds a process id (see the module notes)."""
    lowered = name.lower()
    return lowered.endswith("processid") or lowered in PID_NAMES


def parse_pid(value: Any) -> int | None:
    """A process id from ``0x2bc``, ``700`` or 700; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if text[:2].lower() == "0x":
            return int(text[2:], 16)
        return int(text, 10)
    except ValueError:
        return None


def normalise_key(field: str, value: Any) -> Key | None:
    """The group key of one scalar ``value`` read from ``field`` (None: no key)."""
    if value is None:
        return None
    if is_pid_field(field):
        pid = parse_pid(value)
        if pid is not None:
            return pid
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return str(value).lower()


def display_key(key: Key) -> str:
    """How a key is shown in an alert's ``group``."""
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def field_value(fields: Mapping[str, Any], name: str) -> Any:
    """``fields[name]``, or the value of the one field named so in another case."""
    value = fields.get(name)
    if value is not None or name in fields:
        return value
    lowered = name.lower()
    for key, candidate in fields.items():
        if key.lower() == lowered:
            return candidate
    return None


def scalars(value: Any) -> Iterator[Any]:
    """The scalar values of a field value (a list gives its members)."""
    if isinstance(value, list | tuple):
        for member in value:
            if member is not None and not isinstance(member, list | tuple | dict):
                yield member
    elif value is not None and not isinstance(value, dict):
        yield value


def event_keys(events: Iterable[Event], name: str) -> set[Key]:
    """The distinct keys of field ``name`` over ``events``."""
    found: set[Key] = set()
    for event in events:
        for scalar in scalars(field_value(event.fields, name)):
            key = normalise_key(name, scalar)
            if key is not None:
                found.add(key)
    return found


def number_of(value: Any) -> float | None:
    """A finite number from a number or a numeric string (``"12"``, ``"-3.5"``, ``"1e3"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer past float's range (a log value of 400 digits)
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not text or text[0] not in "+-0123456789.":
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
