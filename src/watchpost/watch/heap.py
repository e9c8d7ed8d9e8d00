"""Giving freed heap memory back to the system during a long watch.

CPython allocates objects above 512 bytes, and every large buffer (a correlation snapshot being
pickled, a 1 MiB read), with the C library's ``malloc``. glibc keeps what is freed in its heap
for reuse, and a few long-lived blocks among them keep the heap from shrinking: in a watch whose
correlation snapshot grows from a few hundred KB to about 2 MB as its windows fill, the resident
size kept growing by what the bigger snapshots and reads had once used (an in-process replay of
`bench/watch_latency.py`'s stream: 48.9 -> 63.3 MiB between 60 s and 240 s, 54.0 MiB after one
``malloc_trim``). `HeapTrimmer` calls glibc's ``malloc_trim(0)``, which returns the free pages of
the heap to the system, after a full checkpoint at most every ``every`` seconds (about 0.6 ms a
call there; 5 ms at most). Every 10 s was not enough: between two trims the checkpoints and
reads took back about 10 MiB (a replay's RSS fell from 69.9 to 60.1 MiB at one extra trim), so
it is once a second, as often as full checkpoints. Elsewhere (no glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

TRIM_EVERY = 1.0
"""Seconds between two trims at least."""


def glibc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)`` as a function, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> int:
        return int(trim(0))

    return release


class HeapTrimmer:
    """Returns free heap pages to the system, at most once every ``every`` seconds."""

    def __init__(self, every: float = TRIM_EVERY, trim: Callable[[], int] | None = None) -> None:
        self.every = every
        self.trim = trim if trim is not None else glibc_trim()
        self.last: float | None = None
        self.trims = 0

    def maybe_trim(self, now: float) -> bool:
        """Trim when ``every`` seconds passed since the last trim (``now``: a monotonic time)."""
        if self.trim is None or (self.last is not None and now - self.last < self.every):
            return False
        self.last = now
        self.trim()
        self.trims += 1
        return True
