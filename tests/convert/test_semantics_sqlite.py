"""pySigma's SQLite backend, run on the pack's case events, matches the events the engine matches.

Every detection rule of the pack and of the correlation-type fixtures (helper rules included: they
are what the correlations count) is converted with `pysigma-backend-sqlite`, and its query runs over
an in-memory SQLite table of the rule file's case events (one TEXT COLLATE NOCASE column per field,
as Zircolite loads events); the matched events must be the engine's, except the differences listed
in `semantic_support.HELPER_MATCH_DIFFERENCES` (docs/convert.md, "Semantic tests"). This checks the
detection half of what a SIEM receives; `test_semantics_spark.py` runs the correlations.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import re2

from tests.convert.semantic_support import (
    EVENT_COLUMN,
    HELPER_MATCH_DIFFERENCES,
    AlertGroup,
    RuleFileCases,
    columns_of,
    loaded_fields,
    rule_file_cases,
    semantic_test_files,
    unexplained_differences,
)
from watchpost.backends.pack_conversion import DetectionQueries
from watchpost.hunting.ruleset import default_translators
from watchpost.rules.loader import load_rules
from watchpost.rules.meta import describe_rule

sqlite_backend = pytest.importorskip("sigma.backends.sqlite",
                                     reason="pysigma-backend-sqlite is not installed")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def regexp(pattern: str, value: object) -> bool:
    """SQLite's `value REGEXP pattern` (SQLite has the operator but no function behind it), on RE2."""
    return value is not None and re2.search(pattern, str(value)) is not None


def sqlite_matches(cases: RuleFileCases) -> set[AlertGroup]:
    loaded = load_rules([cases.rule_path], translators=default_translators())
    columns = columns_of(cases.rows, loaded_fields(loaded))
    database = sqlite3.connect(":memory:")
    database.create_function("REGEXP", 2, regexp, deterministic=True)
    cells = ", ".join(f"{quoted(name)} TEXT COLLATE NOCASE" for name in columns)
    database.execute(f"CREATE TABLE logs ({quoted(EVENT_COLUMN)} INTEGER, {cells})")
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    database.executemany(f"INSERT INTO logs VALUES ({marks})",
                         [(row.number, *(row.fields.get(name) for name in columns)) for row in cases.rows])
    case_of_event = {row.number: row.case for row in cases.rows}
    queries = DetectionQueries(sqlite_backend.sqliteBackend(), "default")
    found: set[AlertGroup] = set()
    for item in loaded.rules:
        rule_id = describe_rule(item.rule, item.path).id
        for query in queries.of(item.rule, finalize=True):
            selected = str(query).replace("SELECT *", f"SELECT {quoted(EVENT_COLUMN)}", 1)
            for (number,) in database.execute(selected):
                found.add((rule_id, case_of_event[number], (str(number),)))
    return found


TEST_FILES = semantic_test_files()


@pytest.mark.parametrize("tests_path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_sqlite_queries_match_the_events_the_engine_matches(tests_path: Path) -> None:
    cases = rule_file_cases(tests_path)
    assert cases.engine_matches, "the cases match nothing: nothing would be compared"
    unexplained, occurred = unexplained_differences(cases, sqlite_matches(cases), cases.engine_matches,
                                                       HELPER_MATCH_DIFFERENCES)
    assert not unexplained
    expected = {key for key in HELPER_MATCH_DIFFERENCES if key[0] == tests_path.name}
    assert occurred == expected, f"listed differences that no longer occur: {expected - occurred}"
