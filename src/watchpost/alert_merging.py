"""One alert per activity: a stage between the alerts a hunt makes and its sinks.

- **Same process, several logs.** Security 4688 and Sysmon 1 (or any two logs) often record the
  same process start, and a process_creation rule matches both: two alerts, one activity. Alerts
  of the same detection rule, on the same host, for the same process id (compared as numbers:
  ``0x6cb0`` is 27824) and the same image, from *different* logs, within ``window`` of each other,
  become one alert carrying both events (``extra.merged``: how many alerts it stands for).
- **Exact repeats** (``drop_repeats``, Hayabusa's ``-X``): an alert of the same rule over events
  with the same times and the same fields as one already given, within ``window`` (the same log
  collected twice, overlapping exports), is dropped and counted.

The hunt gives alerts in time order, so the stage holds an alert only ``window`` past its time
(and at most ``max_held`` alerts): memory stays bounded whatever the length of the hunt, and the
output stays in time order.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import orjson

from watchpost.alerts import Alert, event_facts
from watchpost.event_context import event_channel

ActivityKey = tuple[str, str | None, int, str]


@dataclass(frozen=True)
class MergeSettings:
    merge_sources: bool = True
    drop_repeats: bool = False
    window: timedelta = timedelta(seconds=2)
    max_held: int = 10_000


@dataclass
class MergeCounts:
    merged: int = 0
    """Alerts folded into another alert of the same activity."""
    repeats: int = 0
    """Exact repeats dropped."""


@dataclass
class Held:
    alert: Alert
    channels: set[str] = field(default_factory=set)
    key: ActivityKey | None = None


def activity_key(alert: Alert) -> ActivityKey | None:
    """(rule, host, process id as a number, image name) of a one-event process alert, else None."""
    if alert.correlation is not None or len(alert.events) != 1:
        return None
    facts = event_facts(alert.events[0])
    pid, image = facts.get("process_id"), facts.get("process")
    if not isinstance(pid, int) or not image:
        return None
    name = str(image).replace("\\", "/").rpartition("/")[2].lower()
    return alert.rule.id, facts.get("host"), pid, name


def repeat_digest(alert: Alert) -> bytes:
    """The same for alerts of one rule over events of equal times and fields (origins aside)."""
    digest = hashlib.sha256(alert.rule.id.encode())
    for event in alert.events:
        digest.update(b"\0" + event.timestamp.isoformat().encode() + b"\0")
        digest.update(orjson.dumps(event.fields, default=str,
                                   option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return digest.digest()


def behind(moment: datetime, window: timedelta) -> datetime:
    """``moment - window``, or the earliest time there is for a moment within ``window`` of it."""
    if moment.replace(tzinfo=None) - datetime.min <= window:
        return datetime.min.replace(tzinfo=moment.tzinfo)
    return moment - window


def merged(into: Alert, other: Alert) -> Alert:
    """``into`` carrying the events of ``other`` as well, in time order."""
    pairs = sorted(zip(into.events + other.events, into.event_rules + other.event_rules, strict=True),
                   key=lambda pair: pair[0].timestamp)
    extra = dict(into.extra)
    extra["merged"] = int(extra.get("merged", 1)) + 1
    return replace(into, timestamp=pairs[0][0].timestamp, events=tuple(e for e, _ in pairs),
                   event_rules=tuple(r for _, r in pairs), extra=extra)


class AlertMerging:
    """The stage: ``alerts(stream)`` yields the stream with activities merged and repeats dropped."""

    def __init__(self, settings: MergeSettings | None = None) -> None:
        self.settings = settings or MergeSettings()
        self.counts = MergeCounts()
        self._held: deque[Held] = deque()
        self._by_key: dict[ActivityKey, Held] = {}
        self._seen: deque[tuple[datetime, bytes]] = deque()
        self._seen_set: set[bytes] = set()

    def alerts(self, alerts: Iterable[Alert | datetime]) -> Iterator[Alert]:
        """The alerts of ``alerts``, merged and deduplicated. A `datetime` in the stream is the
        hunt's watermark (no later alert is keyed before it): held alerts a window behind it go."""
        settings = self.settings
        if not settings.merge_sources and not settings.drop_repeats:
            yield from (alert for alert in alerts if not isinstance(alert, datetime))
            return
        self._seen.clear()  # repeats are looked for within one run
        self._seen_set.clear()
        latest: datetime | None = None
        for alert in alerts:
            if isinstance(alert, datetime):
                yield from self._release(behind(alert, settings.window))
                continue
            latest = alert.timestamp if latest is None else max(latest, alert.timestamp)
            if settings.drop_repeats and self._is_repeat(alert, latest):
                continue
            key = activity_key(alert) if settings.merge_sources else None
            if not self._merge(alert, key):
                self._hold(alert, key)
            yield from self._release(behind(latest, settings.window))
        yield from self._release(None)

    def _is_repeat(self, alert: Alert, latest: datetime) -> bool:
        horizon = behind(latest, self.settings.window)
        while self._seen and (self._seen[0][0] < horizon or len(self._seen) > self.settings.max_held):
            self._seen_set.discard(self._seen.popleft()[1])
        digest = repeat_digest(alert)
        if digest in self._seen_set:
            self.counts.repeats += 1
            return True
        self._seen.append((alert.timestamp, digest))
        self._seen_set.add(digest)
        return False

    def _merge(self, alert: Alert, key: ActivityKey | None) -> bool:
        held = self._by_key.get(key) if key is not None else None
        if held is None:
            return False
        channel = event_channel(alert.events[0])
        if channel in held.channels or abs(alert.timestamp - held.alert.timestamp) > self.settings.window:
            return False
        held.alert = merged(held.alert, alert)
        held.channels.add(channel)
        self.counts.merged += 1
        return True

    def _hold(self, alert: Alert, key: ActivityKey | None) -> None:
        held = Held(alert, {event_channel(e) for e in alert.events}, key)
        self._held.append(held)
        if key is not None:
            self._by_key[key] = held

    def _release(self, before: datetime | None) -> Iterator[Alert]:
        """Give the held alerts older than ``before`` (all with None, the oldest over the cap)."""
        held = self._held
        while held and (before is None or held[0].alert.timestamp < before
                        or len(held) > self.settings.max_held):
            first = held.popleft()
            if first.key is not None and self._by_key.get(first.key) is first:
                del self._by_key[first.key]
            yield first.alert
