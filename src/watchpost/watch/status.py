"""Health of a running watch: a JSON ``--status`` file rewritten every few seconds, and one
line on standard error on SIGUSR1.

What it says: each source's position (offset, lines, EVTX record, file size, so the bytes still
to read), events read and events per second (since start and over the last interval), matches,
alerts, the newest event time and the lag behind the wall clock, the correlation horizon and
open groups, each sink's sent/queued counts and last error, and the problem counts (a sink's
failed deliveries counted as ``delivery`` problems).

`SinkAlarm` tells on standard error when a sink keeps failing: at the first failure, then at most
every `ALARM_EVERY` seconds while it goes on, and once when the sink delivers again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchpost.watch.delivery import DeliverySink
    from watchpost.watch.loop import Watch

ALARM_EVERY = 60.0
"""Seconds between two reports of a sink that is still failing."""


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
        try:
            horizon = watch.correlation.horizon
        except OverflowError:  # a horizon before year 1 (events dated 0001-01-01)
            horizon = datetime.min.replace(tzinfo=UTC)
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
            "problems": {**watch.problems.counts, **delivery_problems(watch.sinks)},
        }

    def line(self) -> str:
        """The one-line health summary (SIGUSR1)."""
        s = self.snapshot()
        positions = ", ".join(f"{src['source']}@{src.get('offset')}" if src.get("offset") is not None
                              else f"{src['source']} (waiting)" for src in s["sources"])
        lag = "- (no event yet)" if s["lag_seconds"] is None else readable_lag(s["lag_seconds"])
        horizon = s["correlation_horizon"]
        horizon = "none yet" if horizon is None else horizon[:19].replace("T", " ") + "Z"
        problems = s["problems"]
        failed = f" (delivery failures {problems['delivery']})" if problems.get("delivery") else ""
        return (f"watchpost watch: {s['events']} events ({s['events_per_second']}/s), {s['alerts']} alerts, "
                f"{s['queued_alerts']} queued, lag {lag}, horizon {horizon}, "
                f"sources: {positions}, problems: {sum(problems.values())}{failed}")

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


def delivery_problems(sinks: Sequence[DeliverySink]) -> dict[str, int]:
    """``{"delivery": n}``: the failed attempts of every sink so far (nothing when none)."""
    failures = sum(int(sink.describe().get("failures") or 0) for sink in sinks)
    return {"delivery": failures} if failures else {}


def readable_lag(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``5 min 3 s``, ``2 h 13 min``, ``776 d 17 h``; ``3 s ahead`` for
    events dated after the wall clock."""
    ahead = seconds < 0
    text = readable_duration(abs(seconds))
    return f"{text} ahead" if ahead else text


def readable_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    for unit, size, smaller, small_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60),
                                            ("min", 60, "s", 1)):
        if whole >= size:
            rest = (whole % size) // small_size
            return f"{whole // size} {unit}" + (f" {rest} {smaller}" if rest else "")
    return f"{whole} s"


class SinkAlarm:
    """Reports on ``say`` (standard error) a sink that keeps failing: at once, then at most every
    ``every`` seconds, and once when it delivers again (see the module docstring)."""

    def __init__(self, sinks: Sequence[DeliverySink], say: Callable[[str], None], every: float = ALARM_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sinks = sinks
        self.say = say
        self.every = every
        self.clock = clock
        self.told: dict[str, float] = {}
        """Sinks reported failing, with when they were last reported."""

    def check(self) -> None:
        now = self.clock()
        for sink in self.sinks:
            state = sink.describe()
            name = str(state.get("sink", sink.name))
            error = state.get("last_error")
            if error is not None:
                last = self.told.get(name)
                if last is None or now - last >= self.every:
                    self.told[name] = now
                    target = f" ({state['target']})" if state.get("target") else ""
                    self.say(f"sink {name}{target} failing: {error}; {state.get('queued', 0)} alerts queued, "
                             f"{state.get('failures', 0)} failed attempts so far, retrying")
            elif name in self.told:
                del self.told[name]
                self.say(f"sink {name} delivering again; {state.get('queued', 0)} alerts queued")
