"""Health of a running watch: a JSON ``--status`` file rewritten every few seconds, and one
line on standard error on SIGUSR1.

What it says: each source's position (offset, lines, EVTX record, file size, so the bytes still
to read), events read and events per second (since start and over the last interval), matches,
alerts, the newest event time and the lag behind the wall clock, the correlation horizon and
open groups, each sink's sent/queued counts and last error, and the problem counts.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchpost.watch.loop import Watch


class WatchStatus:
    """Snapshots of a `Watch`; written to ``options.status_file`` when set."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.next_write = 0.0
        self.last = (time.monotonic(), 0)
        self.rate = 0.0

    def snapshot(self) -> dict[str, Any]:
        watch = self.watch
        counters = watch.counters
        now = time.monotonic()
        since, events_then = self.last
        if now - since >= 1.0:
            self.rate = (counters.events - events_then) / (now - since)
            self.last = (now, counters.events)
        newest = watch.max_event
        lag = None if newest is None else (datetime.now(UTC) - newest).total_seconds()
        horizon = watch.correlation.horizon
        return {
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "pid": os.getpid(),
            "uptime_seconds": round(now - counters.started, 3),
            "events": counters.events,
            "events_per_second": round(self.rate, 1),
            "events_per_second_overall": round(counters.events / max(now - counters.started, 1e-9), 1),
            "matches": counters.matches,
            "alerts": counters.alerts,
            "batches": counters.batches,
            "newest_event": None if newest is None else newest.isoformat().replace("+00:00", "Z"),
            "lag_seconds": None if lag is None else round(lag, 3),
            "correlation_horizon": None if horizon is None else horizon.isoformat().replace("+00:00", "Z"),
            "correlation_groups": watch.correlation.held_groups(),
            "queued_alerts": sum(sink.pending() for sink in watch.sinks),
            "sources": [follower.describe() for follower in watch.followers],
            "sinks": [sink.describe() for sink in watch.sinks],
            "problems": dict(watch.problems.counts),
        }

    def line(self) -> str:
        """The one-line health summary (SIGUSR1)."""
        s = self.snapshot()
        positions = ", ".join(f"{src['source']}@{src.get('offset')}" for src in s["sources"])
        return (f"watchpost watch: {s['events']} events ({s['events_per_second']}/s), {s['alerts']} alerts, "
                f"{s['queued_alerts']} queued, lag {s['lag_seconds']} s, horizon {s['correlation_horizon']}, "
                f"sources: {positions}, problems: {sum(s['problems'].values())}")

    def maybe_write(self) -> None:
        if self.watch.options.status_file is None:
            return
        now = time.monotonic()
        if now >= self.next_write:
            self.next_write = now + self.watch.options.status_every
            self.write()

    def write(self) -> None:
        """Replace the status file atomically (write a temporary file, rename it)."""
        target = self.watch.options.status_file
        if target is None:
            return
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.snapshot(), indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(temporary, target)
