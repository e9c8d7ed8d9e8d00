"""An independent reference for the differential test: pySigma's SQLite backend.

Each rule goes through watchpost's logsource variants (`watchpost.rules.logsources`: the same
Channel/EventID conditions and Security 4688 renames, so both sides look at the same logs) and is
then converted by ``pysigma-backend-sqlite`` into SQL. Events are read by watchpost's readers into
one in-memory SQLite table, one TEXT ``COLLATE NOCASE`` column per field name (as Zircolite
does), lists as their JSON text; ``REGEXP`` is Python's ``re``. So matching - equality, wildcards,
modifiers, case, null, numbers, regular expressions - is SQLite's and Python's, not watchpost's.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchpost.events import Event

Hit = tuple[str, int]
"""An alerted event: (file name, record number)."""


@dataclass
class Reference:
    """Per rule id: the events its SQL selects; the rules that could not be converted, and why."""

    hits: dict[str, set[Hit]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    unconverted: dict[str, str] = field(default_factory=dict)


def convert_rules(rule_files: Iterable[Path]) -> tuple[dict[str, list[str]], dict[str, str], dict[str, str]]:
    """SQL queries per rule id (all variants), titles, and the reason of each rule left out."""
    from sigma.backends.sqlite import sqliteBackend  # type: ignore[attr-defined]
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    from watchpost.rules.logsources import UnsupportedLogsource, resolve_variants

    backend = sqliteBackend()  # type: ignore[no-untyped-call]
    queries: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for path in rule_files:
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - a rule pySigma cannot load is left out, with why
            left_out[path.name] = f"pySigma cannot load it: {type(error).__name__}"
            continue
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule):
                continue
            rule_id = str(rule.id)
            titles[rule_id] = rule.title
            try:
                variants = resolve_variants(rule)
                queries[rule_id] = [str(q) for v in variants for q in backend.convert_rule(v.rule)]
            except UnsupportedLogsource as error:
                left_out[rule_id] = f"no Windows log: {error}"
            except Exception as error:  # noqa: BLE001 - the backend refuses some features
                left_out[rule_id] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return queries, titles, left_out


def event_table(events: Iterable[Event]) -> sqlite3.Connection:
    """The events as table ``logs``: ``_file``, ``_record`` and one column per field name."""
    rows: list[dict[str, Any]] = []
    columns: dict[str, str] = {}
    for event in events:
        row = {key.lower(): _cell(value) for key, value in event.fields.items()}
        for key in event.fields:
            columns.setdefault(key.lower(), key)
        row["_file"] = Path(event.origin.path).name
        row["_record"] = event.origin.record
        rows.append(row)
    names = [*columns.values()]
    keys = [*columns.keys(), "_file", "_record"]
    database = sqlite3.connect(":memory:")
    database.create_function("regexp", 2, _regexp, deterministic=True)
    declared = ", ".join(f'"{_quote(name)}" TEXT COLLATE NOCASE' for name in names)
    database.execute(f"CREATE TABLE logs ({declared}, _file TEXT, _record INTEGER)")
    quoted = ", ".join(f'"{_quote(name)}"' for name in [*names, "_file", "_record"])
    database.executemany(
        f"INSERT INTO logs ({quoted}) VALUES ({', '.join('?' * len(keys))})",
        ([row.get(key) for key in keys] for row in rows),
    )
    return database


def run_queries(database: sqlite3.Connection, queries: dict[str, list[str]]) -> dict[str, set[Hit]]:
    hits: dict[str, set[Hit]] = {}
    for rule_id, rule_queries in queries.items():
        found: set[Hit] = set()
        for query in rule_queries:
            selected = query.replace("SELECT * FROM logs", "SELECT _file, _record FROM logs", 1)
            found.update((str(f), int(r)) for f, r in _select(database, selected))
        hits[rule_id] = found
    return hits


def _select(database: sqlite3.Connection, query: str) -> list[tuple[Any, Any]]:
    """Rows of ``query``; a field no event has becomes an empty column (NULL everywhere), as a
    missing field is in an event (Zircolite's way, an error, would fail "A or B" where B is
    absent)."""
    for _ in range(64):
        try:
            return database.execute(query).fetchall()
        except sqlite3.OperationalError as error:
            missing = _MISSING_COLUMN.match(str(error))
            if missing is None:
                raise
            database.execute(f'ALTER TABLE logs ADD COLUMN "{_quote(missing.group(1))}" TEXT COLLATE NOCASE')
    raise sqlite3.OperationalError(f"too many missing columns in {query[:80]}")


_MISSING_COLUMN = re.compile(r"no such column: (.+)$")


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, str(value)) is not None
    except re.error:
        return False


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return value
