"""The `sparksql` output, run in Spark `local[2]`, raises the engine's alert groups on the pack's cases.

Every rule file of the pack and of tests/fixtures/convert/correlations (one per correlation type)
with a `.tests.yml` is converted as a pack (`convert_pack`: helper rules
only inside their correlations) and every output query runs over the file's case events; the alert
groups (detections: the matched events; correlations: the groups that alerted, per case) must be the
engine's. Differences that cannot be fixed are listed in docs/convert.md and in
CORRELATION_DIFFERENCES.
Needs the `spark` extra (`pip install 'watchpost[spark]'`) and Java; skipped without pyspark.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.convert.semantic_support import (
    CORRELATION_DIFFERENCES,
    EVENT_COLUMN,
    TIME_COLUMN,
    AlertGroup,
    RuleFileCases,
    aware,
    columns_of,
    key_text,
    loaded_fields,
    rule_file_cases,
    semantic_test_files,
    unexplained_differences,
)
from watchpost.backends.correlation_plan import plan_correlations
from watchpost.backends.pack_conversion import convert_pack
from watchpost.backends.sparksql import SparkSqlBackend
from watchpost.hunting.ruleset import default_translators
from watchpost.rules.loader import load_rules
from watchpost.rules.meta import describe_rule

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


def sql_groups(spark: Any, cases: RuleFileCases) -> tuple[set[AlertGroup], dict[AlertGroup, datetime]]:
    """The groups the converted queries raise, and for correlations decided on arrival each group's
    first qualifying row's time (the engine fires on that row's event)."""
    loaded = load_rules([cases.rule_path], translators=default_translators())
    load_table(spark, cases, loaded_fields(loaded))
    backend = SparkSqlBackend()
    conversion = convert_pack(backend, loaded, "default", include_helpers=False)
    assert not conversion.failed, conversion.failed
    case_of_event = {row.number: row.case for row in cases.rows}
    plans, _ = plan_correlations([(i.rule, i.path) for i in loaded.rules],
                                 [(i.rule, i.path) for i in loaded.correlations])
    found: set[AlertGroup] = set()
    first: dict[AlertGroup, datetime] = {}
    for item in conversion.converted:
        meta = describe_rule(item.rule, item.path)
        group_by = list(getattr(item.rule, "group_by", None) or ())
        for query in item.queries:
            for row in spark.sql(query).collect():
                if meta.kind != "correlation":
                    found.add((meta.id, case_of_event[row[EVENT_COLUMN]], (str(row[EVENT_COLUMN]),)))
                    continue
                moment = aware(row["last_time"])
                group = (meta.id, cases.case_of(moment), tuple(key_text(row[name]) for name in group_by))
                found.add(group)
                if plans[meta.id].on_arrival:
                    first[group] = min(first.get(group, moment), moment)
    return found, first


TEST_FILES = semantic_test_files()


@pytest.mark.parametrize("tests_path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_sparksql_raises_the_engines_alert_groups(spark: Any, tests_path: Path) -> None:
    cases = rule_file_cases(tests_path)
    assert cases.engine_groups, "the cases raise no alert at all: nothing would be compared"
    found, first = sql_groups(spark, cases)
    unexplained, occurred = unexplained_differences(cases, found, cases.engine_groups,
                                                       CORRELATION_DIFFERENCES)
    assert not unexplained
    expected = {key for key in CORRELATION_DIFFERENCES if key[0] == tests_path.name}
    assert occurred == expected, f"listed differences that no longer occur: {expected - occurred}"
    # sliding windows measure exactly the engine's: the first qualifying row is the engine's alert
    for group, moment in first.items():
        if group in cases.engine_first:
            assert moment == cases.engine_first[group], group
