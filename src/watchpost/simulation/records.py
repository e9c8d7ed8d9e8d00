"""What the simulators produce: log records waiting to be written, and their ground-truth labels.

A `Record` is one record of one log file (a Windows event, an auditd event of several lines, a
JSON line) with its time and a ``render`` function that receives the record's sequence number in
its file (Windows ``EventRecordID``, the auditd serial) and returns its text. Records are written
in time order per file by `watchpost.simulation.writer`, which also writes the labels.

Times are integers: microseconds since the Unix epoch (UTC), so sorting and arithmetic stay cheap
for a million records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

Render = Callable[[int], str]

POSITIVE = "positive"
"""A T1049 action: some pack rule must alert on it (the seed's test case, an Atomic test...)."""
COMPANION = "companion"
"""Part of a positive action's sequence (the 4689 after a 4688, the net1.exe hop, a 4703)."""
CONTEXT = "context"
"""Attack activity that is not T1049 (whoami in a burst, the SharpView default methods)."""
NEGATIVE = "negative"
"""A hard near miss: benign, close to T1049, and no T1049 alert may name it."""
LABELS = (POSITIVE, COMPANION, CONTEXT, NEGATIVE)

SECOND = 1_000_000
MILLISECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


@dataclass(frozen=True, slots=True)
class Label:
    """The ground truth of one record: its scenario, the action it belongs to, what it is."""

    scenario: str
    activity: str
    label: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """One record of one log, not yet numbered (see the module docstring)."""

    time_us: int
    log: str
    render: Render
    label: Label | None = None


def utc(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / SECOND, tz=UTC)


def us_of(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def iso_seconds(time_us: int) -> str:
    """``2024-10-21T09:12:03Z`` (CloudTrail's eventTime)."""
    return utc(time_us).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micros(time_us: int) -> str:
    """``2024-10-21T09:12:03.123456Z``."""
    return utc(time_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_nanos(time_us: int, extra: int = 0) -> str:
    """``2024-10-21T09:12:03.123456789Z``: microseconds and three more digits (``extra`` 0-999)."""
    return utc(time_us).strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{extra % 1000:03d}Z"


def windows_system_time(time_us: int, extra: int = 0) -> str:
    """``TimeCreated/@SystemTime`` as wevtutil prints it: 100 ns ticks, nine digits."""
    return utc(time_us).strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{extra % 10}00Z"


def sysmon_utc_time(time_us: int) -> str:
    """Sysmon's ``UtcTime``: ``2024-10-21 09:12:03.123``."""
    return utc(time_us).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
