"""The `sparksql` output, run in Spark `local[2]`, raises the engine's alert groups on the pack's cases.

Every rule file of the pack and of tests/fixtures/convert/correlations (one per correlation type)
with a `.tests.yml` is converted as a pack (`convert_pack`: helper rules
only inside their correlations) and every output query runs over the file's case events; the alert
groups (detections: the matched events; correlations: the groups that alerted, per case) must be the
engine's. Differences that cannot be fixed are listed in docs/convert.md and in KNOWN_DIFFERENCES.
Needs the `spark` extra (`pip install 'watchpost[spark]'`) and Java; skipped without pyspark.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.convert.semantic_support import (
    EVENT_COLUMN,
    KNOWN_DIFFERENCES,
    TIME_COLUMN,
    AlertGroup,
    RuleFileCases,
    columns_of,
    key_text,
    loaded_fields,
    rule_file_cases,
    semantic_test_files,
    unexplained_differences,
)
from watchpost.backends.pack_conversion import convert_pack
from watchpost.backends.sparksql import SparkSqlBackend
from watchpost.rules.loader import load_rules
from watchpost.rules.meta import describe_rule
from watchpost.ruleset import default_translators

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                                 reason="the spark extra (pyspark) is not installed")]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("watchpost-convert-tests")
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def load_table(spark: Any, cases: RuleFileCases, extra: set[str]) -> list[str]:
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    columns = columns_of(cases.rows, extra)
    schema = StructType([StructField(TIME_COLUMN, TimestampType()), StructField(EVENT_COLUMN, LongType()),
                         *(StructField(name, StringType()) for name in columns)])
    data = [(row.timestamp, row.number, *(row.fields.get(name) for name in columns)) for row in cases.rows]
    spark.createDataFrame(data, schema).createOrReplaceTempView("logs")
    return columns


def sql_groups(spark: Any, cases: RuleFileCases) -> set[AlertGroup]:
    loaded = load_rules([cases.rule_path], translators=default_translators())
    load_table(spark, cases, loaded_fields(loaded))
    backend = SparkSqlBackend()
    conversion = convert_pack(backend, loaded, "default", include_helpers=False)
    assert not conversion.failed, conversion.failed
    case_of_event = {row.number: row.case for row in cases.rows}
    found: set[AlertGroup] = set()
    for item in conversion.converted:
        meta = describe_rule(item.rule, item.path)
        group_by = list(getattr(item.rule, "group_by", None) or ())
        for query in item.queries:
            for row in spark.sql(query).collect():
                if meta.kind == "correlation":
                    found.add((meta.id, cases.case_of(row["last_time"]),
                               tuple(key_text(row[name]) for name in group_by)))
                else:
                    found.add((meta.id, case_of_event[row[EVENT_COLUMN]], (str(row[EVENT_COLUMN]),)))
    return found


TEST_FILES = semantic_test_files()


@pytest.mark.parametrize("tests_path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_sparksql_raises_the_engines_alert_groups(spark: Any, tests_path: Path) -> None:
    cases = rule_file_cases(tests_path)
    assert cases.engine_groups, "the cases raise no alert at all: nothing would be compared"
    unexplained, occurred = unexplained_differences(cases, sql_groups(spark, cases), cases.engine_groups,
                                                       KNOWN_DIFFERENCES)
    assert not unexplained
    expected = {key for key in KNOWN_DIFFERENCES if key[0] == tests_path.name}
    assert occurred == expected, f"listed differences that no longer occur: {expected - occurred}"
