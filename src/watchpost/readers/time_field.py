"""The field a JSON event's time is taken from when the user names one (``hunt --timefield``).

A context variable rather than a reader argument: readers are chosen per input by sniffing and
run in forked workers too. `watchpost.hunting.source_hunts.SourceMatcher` sets it before reading each
source (in the process that reads it); the JSON reader reads it when it opens a file. None: the
keys `watchpost.readers.json_shapes` knows.
"""

from __future__ import annotations

from contextvars import ContextVar

TIME_FIELD: ContextVar[str | None] = ContextVar("watchpost_time_field", default=None)
