"""The reference point: Zircolite's approach on the same events and rules.

Rules are converted with pySigma's SQLite backend (``pysigma-backend-sqlite``, no processing
pipeline, as Zircolite does for Sysmon-named fields); events are read and flattened by
watchpost's own readers, inserted into one in-memory SQLite table ``logs`` (one column per field,
``COLLATE NOCASE`` like Zircolite), then every query runs over the table.

    python bench/sqlite_reference.py --rules PATH [--rules PATH]... [--limit N] INPUT...

``--limit`` stops after N events: SQLite without indexes scans the table once per query, so the
time grows linearly with the events and the rate measured on a subset holds for the whole
corpus (the harness says when it extrapolated). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from peak_memory import peak_mb  # bench/ is on sys.path: these scripts are run by path
from sigma.backends.sqlite import sqliteBackend  # type: ignore[attr-defined]
from sigma.collection import SigmaCollection

from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events


def convert(rule_paths: list[Path]) -> tuple[list[str], int]:
    """SQL queries for the rules under ``rule_paths`` and the number that did not convert."""
    backend = sqliteBackend()  # type: ignore[no-untyped-call]
    queries: list[str] = []
    failed = 0
    files = sorted(p for root in rule_paths for p in ([root] if root.is_file() else root.rglob("*.yml")))
    for path in files:
        if path.name.endswith(".tests.yml"):
            continue
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            queries.extend(str(query) for query in backend.convert(collection))
        except Exception:  # correlations, seed-dialect files, unsupported modifiers
            failed += 1
    return queries, failed


def load_events(inputs: list[str], limit: int | None) -> tuple[sqlite3.Connection, int]:
    rows: list[dict[str, Any]] = []
    columns: dict[str, str] = {}  # SQLite column names ignore case: one column per lower-cased name
    for event in read_events([Path(i) for i in inputs], ProblemLog()):
        row = {key.lower(): _cell(value) for key, value in event.fields.items()}
        for key in event.fields:
            columns.setdefault(key.lower(), key)
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    keys = list(columns)
    names = [columns[k] for k in keys]
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE logs (row_id INTEGER PRIMARY KEY, "
        + ", ".join(f'"{_quote(n)}" TEXT COLLATE NOCASE' for n in names) + ")"
    )
    quoted = ", ".join(f'"{_quote(n)}"' for n in names)
    insert = f"INSERT INTO logs ({quoted}) VALUES ({', '.join('?' * len(names))})"
    db.executemany(insert, ([row.get(k) for k in keys] for row in rows))
    db.commit()
    return db, len(rows)


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", action="append", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    started = time.perf_counter()
    queries, failed = convert([Path(r) for r in args.rules])
    converted = time.perf_counter()
    db, events = load_events(args.inputs, args.limit)
    loaded = time.perf_counter()
    hits = errors = 0
    for query in queries:
        try:
            hits += len(db.execute(query).fetchall())
        except sqlite3.Error:  # a column no event has: Zircolite counts no match
            errors += 1
    done = time.perf_counter()
    print(json.dumps({
        "events": events, "queries": len(queries), "unconverted": failed, "query_errors": errors,
        "hits": hits, "convert_s": converted - started, "load_s": loaded - converted,
        "query_s": done - loaded, "peak_rss_mb": peak_mb(with_children=False),
    }))


if __name__ == "__main__":
    main()
