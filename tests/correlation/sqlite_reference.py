"""An independent reference: the same correlation converted by pySigma's SQLite backend and run
on the same events in an SQLite table.

What the backend's SQL computes (read from `sigma.backends.sqlite.correlation`): for every event
of a group (an *anchor* at time ``t``) the window ``[t - timespan, t]``, the metric over it, and
one result row per anchor whose metric meets the condition (group keys lower-cased). Our engine
answers a different question in two documented ways, and `expected_arrival`/`expected_window_end`
turn the reference's rows into the alerts our semantics must produce:

- conditions decided on arrival fire once per burst and start afresh after the fired events, so
  the reference is re-run with the fired group's events up to the alert removed, and the next
  alert is its next qualifying anchor (``expected_arrival``);
- conditions decided at the end of a window use forward windows ``[t0, t0 + timespan]`` that
  follow one another; the reference is run on the events with their times negated, where its
  trailing windows are exactly our forward windows, and each of our windows must fire exactly
  when its first event is a qualifying (negated) anchor (``expected_window_end``).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

BASE_RULES = "\n---\n".join(
    f"title: rule {kind}\nname: rule_{kind}\nlogsource: {{product: test}}\n"
    f"detection: {{selection: {{kind: {kind}}}, condition: selection}}"
    for kind in "abc"
)
COLUMNS = ("timestamp", "kind", "Host", "Val")


@dataclass(frozen=True)
class Row:
    """One generated event: distinct integer second, base rule kind, group field, value."""

    ts: int
    kind: str
    host: str | None
    val: int | None

    def fields(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind}
        if self.host is not None:
            found["Host"] = self.host
        if self.val is not None:
            found["Val"] = self.val
        return found


@dataclass(frozen=True)
class Case:
    """A correlation over the base rules ``rule_a``..``rule_c`` grouped by ``Host``."""

    type: str
    rules: tuple[str, ...]
    condition: tuple[tuple[str, int], ...]
    field: str | None = None
    percentile: int | None = None
    timespan: int = 10

    def yaml(self, condition: Mapping[str, int] | None = None) -> str:
        chosen: dict[str, Any] = dict(condition if condition is not None else dict(self.condition))
        if self.field:
            chosen["field"] = self.field
        if self.percentile is not None:
            chosen["percentile"] = self.percentile
        body = {
            "title": "under test",
            "correlation": {
                "type": self.type,
                "rules": [f"rule_{kind}" for kind in self.rules],
                "group-by": ["Host"],
                "timespan": f"{self.timespan}s",
                "condition": chosen,
            },
        }
        return BASE_RULES + "\n---\n" + json.dumps(body)

    def single_conditions(self) -> list[str]:
        """One rule text per operator: pySigma (and so the reference) takes one at a time."""
        return [self.yaml({op: value}) for op, value in self.condition]


@functools.cache
def query_of(text: str) -> str:
    collection = SigmaCollection.from_yaml(text)
    backend = sqliteBackend(timestamp_format="unix")
    queries = backend.convert(collection)
    assert isinstance(queries[-1], str) and queries[-1].startswith("WITH")
    return queries[-1]


def run_reference(text: str, rows: Sequence[Row], negate: bool = False) -> list[dict[str, Any]]:
    """The reference's result rows for ``rows`` (times negated when ``negate``)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"CREATE TABLE logs ({', '.join(COLUMNS)})")
        connection.executemany(
            "INSERT INTO logs VALUES (?, ?, ?, ?)",
            [(-row.ts if negate else row.ts, row.kind, row.host, row.val) for row in rows],
        )
        cursor = connection.execute(query_of(text))
        names = [d[0] for d in cursor.description]
        result = [dict(zip(names, values, strict=True)) for values in cursor]
    finally:
        connection.close()
    for found in result:
        found["group"] = json.loads(found["group_keys"])["Host"]
    return result


def expected_arrival(case: Case, rows: Sequence[Row]) -> list[tuple[str, int, float]]:
    """(group, anchor second, metric) of the alerts fire-once-then-start-afresh must give."""
    text = case.yaml()
    cut: dict[str, int] = {}
    alerts: list[tuple[str, int, float]] = []
    while True:
        remaining = [r for r in rows if r.host is None or r.ts > cut.get(r.host.lower(), -(10**9))]
        firsts: dict[str, tuple[int, float]] = {}
        for found in run_reference(text, remaining):
            anchor = int(found["occurrence_time"])
            group = found["group"]
            if group not in firsts or anchor < firsts[group][0]:
                firsts[group] = (anchor, float(found["metric_value"]))
        if not firsts:
            return sorted(alerts, key=lambda a: (a[1], a[0]))
        for group, (anchor, metric) in firsts.items():
            alerts.append((group, anchor, metric))
            cut[group] = anchor


def expected_window_end(case: Case, rows: Sequence[Row]) -> list[tuple[str, int]]:
    """(group, window start) of the forward windows that must fire."""
    qualifying: set[tuple[str, int]] | None = None
    for text in case.single_conditions():
        found = {(r["group"], -int(r["occurrence_time"])) for r in run_reference(text, rows, negate=True)}
        qualifying = found if qualifying is None else qualifying & found
    assert qualifying is not None
    kinds = set(case.rules)
    by_group: dict[str, list[int]] = {}
    for row in sorted(rows, key=lambda r: r.ts):
        if row.host is not None and row.kind in kinds:
            by_group.setdefault(row.host.lower(), []).append(row.ts)
    fired = []
    for group, times in by_group.items():
        end = None
        for ts in times:
            if end is not None and ts <= end:
                continue
            end = ts + case.timespan
            if (group, ts) in qualifying:
                fired.append((group, ts))
    return sorted(fired, key=lambda a: (a[1], a[0]))
