"""A fired window as an `Alert` (what users see) and as an `Occurrence` (what chains consume)."""

from __future__ import annotations

from collections.abc import Callable

from watchpost.alerts import Alert, CorrelationDetail
from watchpost.correlation.measures import Entry
from watchpost.correlation.occurrence import Occurrence, Parked, micros, moment
from watchpost.correlation.state import Fired
from watchpost.events import Event

Recaller = Callable[[Occurrence | Parked], Occurrence]


def events_of(
    entries: tuple[Entry, ...], recalled: Recaller | None = None
) -> tuple[tuple[Event, ...], tuple[str, ...], int]:
    """The detection events behind ``entries`` in time order, the rule each matched, and how
    many entries no longer hold their occurrence (dropped to bound memory). ``recalled`` brings
    back parked occurrences (each once: entries of one occurrence share its events)."""
    seen: set[tuple[int, str]] = set()
    found: list[tuple[int, int, int, Event, str]] = []
    dropped = 0
    back: dict[int, Occurrence] = {}
    for entry in entries:
        held = entry.occ
        if held is None:
            dropped += 1
            continue
        if isinstance(held, Parked):
            if recalled is None:
                raise RuntimeError(f"occurrence {held.seq} is parked and nothing can recall it")
            occ = back.get(held.seq)
            if occ is None:
                occ = back[held.seq] = recalled(held)
        else:
            occ = held
        for position, (event, rule) in enumerate(zip(occ.events, occ.event_rules, strict=True)):
            mark = (id(event), rule)
            if mark in seen:
                continue
            seen.add(mark)
            found.append((micros(event.timestamp), entry.seq, position, event, rule))
    found.sort(key=lambda item: item[:3])
    return tuple(item[3] for item in found), tuple(item[4] for item in found), dropped


def alert_of(fired: Fired, recalled: Recaller | None = None) -> Alert:
    """The alert for ``fired``; ``extra`` says how the window was decided and what was kept.
    ``recalled`` brings back parked occurrences (`CorrelationEngine.park`)."""
    spec = fired.spec
    events, event_rules, dropped = events_of(fired.entries, recalled)
    first, last = fired.entries[0].ts, fired.entries[-1].ts
    detail = CorrelationDetail(
        type=spec.type,
        timespan_seconds=spec.timespan_seconds,
        condition=spec.condition.describe(),
        value=fired.value,
        first=moment(first),
        last=moment(last),
        rules=spec.rules,
        fields=spec.value_field,
        values=distinct_values(spec.value_sources, events) if spec.type == "value_count" else (),
    )
    extra = {
        "decided": "arrival" if fired.on_arrival else "window_end",
        "window_start": moment(fired.window_start).isoformat(),
        "window_end": moment(fired.window_end).isoformat(),
        "events_in_window": fired.in_window,
        "events_behind": len(fired.entries),
        "events_kept": len(fired.entries) - dropped,
        "events_truncated": dropped > 0,
    }
    timestamp = events[-1].timestamp if events else moment(last)
    return Alert(
        rule=spec.meta,
        timestamp=timestamp,
        events=events,
        event_rules=event_rules,
        group=fired.shown,
        correlation=detail,
        extra=extra,
    )


def distinct_values(sources: tuple[tuple[str, ...], ...], events: tuple[Event, ...]) -> tuple[str, ...]:
    """A value_count's distinct values over ``events``, in order of first appearance (the
    measured fields as each referenced rule names them; several fields joined with `` | ``)."""
    found: dict[str, None] = {}
    for event in events:
        for names in dict.fromkeys(sources):
            parts = [event.fields.get(name) for name in names]
            if all(part is not None for part in parts):
                found.setdefault(" | ".join(str(part) for part in parts), None)
                break
    return tuple(found)


def occurrence_of(fired: Fired, alert: Alert, seq: int) -> Occurrence:
    """``fired`` as the input of the correlations that reference it."""
    return Occurrence(
        rule_id=fired.spec.id,
        ts=fired.entries[-1].ts,
        seq=seq,
        events=alert.events,
        event_rules=alert.event_rules,
        group=tuple(zip(fired.spec.group_by, fired.key, strict=True)),
        shown=fired.shown,
    )
