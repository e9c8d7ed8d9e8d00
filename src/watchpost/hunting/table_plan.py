"""What `hunt_table` asks Spark for: only the rows and columns the rules can use.

Rows: with shape ``"windows"``, the (Channel, EventID) pairs the rule index admits
(`RuleIndex.admitted_pairs`) become a filter evaluated by Spark before any row reaches Python
(Channel compared lower-cased, EventID as text, as the index keys events); no filter when a
rule admits any pair. Columns: the fields the rules' conditions read, the correlations' group-by
and value fields, the time, origin and host columns; every column when a rule searches keywords
(they read every field) or with shape ``"json"`` (whose field names are made from the record).
Column names are compared exactly: run Spark with ``spark.sql.caseSensitive=true`` when a table
holds names differing only in case (``ProcessId``, ``ProcessID``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from watchpost.events import WINDOWS
from watchpost.hunting.records import TIME_FIELDS, RecordOrigin
from watchpost.hunting.ruleset import RuleSet

HOST_FIELDS = ("Computer", "Hostname", "host.name", "node", "hostname")
INDEX_FIELDS = ("Channel", "EventID")


def needed_columns(ruleset: RuleSet) -> frozenset[str] | None:
    """The fields the rules read; None when one searches keywords (every field)."""
    found: set[str] = set(INDEX_FIELDS) | set(HOST_FIELDS) | set(TIME_FIELDS)
    for rule in ruleset.detections:
        for variant in rule.variants:
            matcher: Any = variant.matcher
            if matcher.searches_keywords():
                return None
            found |= matcher.referenced_fields()
    for spec in ruleset.correlations:
        found.update(spec.group_by, spec.value_field)
        for names in (*spec.sources, *spec.value_sources):
            found.update(names)
    return frozenset(found)


def pair_filter(ruleset: RuleSet) -> Any | None:
    """The Spark condition admitting the rows whose (Channel, EventID) some rule admits."""
    from pyspark.sql import functions as F

    pairs = ruleset.index.admitted_pairs(WINDOWS)
    if pairs is None:
        return None
    by_channel: dict[str | None, set[str]] = defaultdict(set)
    any_id: set[str] = set()
    for channel, event_id in pairs:
        if event_id is None:
            if channel is not None:
                any_id.add(channel.lower())
        else:
            by_channel[channel if channel is None else channel.lower()].add(str(event_id))
    channel_col = F.lower(F.col("Channel"))
    id_col = F.col("EventID").cast("string")
    parts = [channel_col.isin(sorted(any_id))] if any_id else []
    for channel, ids in sorted(by_channel.items(), key=lambda item: item[0] or ""):
        ids_match = id_col.isin(sorted(ids))
        parts.append(ids_match if channel is None else (channel_col == channel) & ids_match)
    if not parts:
        return F.lit(False)
    condition = parts[0]
    for part in parts[1:]:
        condition = condition | part
    return condition


def narrowed(df: Any, ruleset: RuleSet, shape: str, origin: RecordOrigin, time_field: str | None) -> Any:
    """``df`` with only the rows and columns the rules can use (see the module text)."""
    columns = list(df.columns)
    if shape == "windows" and all(name in columns for name in INDEX_FIELDS):
        condition = pair_filter(ruleset)
        if condition is not None:
            df = df.where(condition)
    needed = needed_columns(ruleset) if shape != "json" else None
    if needed is not None:
        keep = needed | set(origin.columns()) | ({time_field} if time_field else set())
        df = df.select(*[f"`{name}`" for name in columns if name in keep])
    return df
