"""Correlation rules as one Spark SQL statement: window aggregations over the referenced rules' matches.

Each referenced detection rule selects its events from the table (its `WHERE` clause) as rows of
the same shape: time, rule tag and slot, the group keys computed as the engine computes them
(lower-cased text; a process id as a decimal number from `0x2bc` or `700`), the measured value.
A referenced correlation (a chain) contributes its own qualifying rows, expanded to every group
its events carry (`LATERAL VIEW explode`). The rows are `UNION ALL`ed, then:

- decided on arrival (lower bounds): a window function over the group ordered by time,
  `RANGE BETWEEN <timespan> PRECEDING AND CURRENT ROW` (the trailing window ending at each row,
  both ends included, as the engine's window), and the condition on it;
- decided at a window's end (upper bounds, value_avg, value_percentile, value_median):
  `GROUP BY` group and `floor(time / timespan)` (windows aligned to the clock), `HAVING` the
  condition; `percentile()` interpolates linearly between closest ranks, as the engine does;
- temporal_ordered: the window's rule letters sorted by time (then rule order) joined into a
  string, matched with `RLIKE` against the ordered sub-sequences the condition accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watchpost.backends.correlation_plan import (
    CorrelationPlan,
    Part,
    PlanError,
    approximations,
    describe_condition,
    describe_timespan,
    ordered_subsequences,
)
from watchpost.backends.splunk_correlation import LETTERS, OPERATORS, PartQueries, number
from watchpost.correlation.spec import (
    EVENT_COUNT,
    TEMPORAL,
    TEMPORAL_ORDERED,
    VALUE_AVG,
    VALUE_COUNT,
    VALUE_MEDIAN,
    VALUE_PERCENTILE,
    VALUE_SUM,
)


@dataclass(frozen=True, slots=True)
class SqlContext:
    queries: PartQueries
    table: str
    timestamp: str


def sparksql_correlation(plan: CorrelationPlan, queries: PartQueries, table: str, timestamp: str) -> str:
    """The SELECT of a correlation rule, with its approximations as `--` comments."""
    from watchpost.backends.sparksql import quote_column

    comments = [f"-- watchpost correlation {plan.title!r}: {plan.type}, timespan "
                f"{describe_timespan(plan.timespan_seconds)}, condition {describe_condition(plan)}"]
    comments += [f"-- approximate: {note}" for note in approximations(plan, "Spark SQL",
                                                                    sliding=plan.on_arrival)]
    rows = correlation_rows(plan, SqlContext(queries, table, timestamp), carried=())
    keys = [f"sigma_key_{i} AS {quote_column(name)}" for i, name in enumerate(plan.group_by)]
    measure = f"sigma_measure AS {'rule_sequence' if plan.type == TEMPORAL_ORDERED else plan.type}"
    columns = ", ".join(["sigma_first AS first_time", "sigma_time AS last_time", *keys, measure])
    return "\n".join(comments) + f"\nSELECT {columns}\nFROM (\n{rows}\n) AS sigma_result"


def correlation_rows(plan: CorrelationPlan, context: SqlContext, carried: Sequence[str]) -> str:
    """The qualifying rows: sigma_time, sigma_micros, sigma_first, sigma_key_*, sigma_measure,
    and sigma_carry_* (arrays of the ``carried`` fields' values over the window's events)."""
    if len(plan.parts) > len(LETTERS):
        raise PlanError(f"Spark SQL: at most {len(LETTERS)} referenced rules")
    matches = "\nUNION ALL\n".join(part_rows(plan, part, context, carried) for part in plan.parts)
    present = " AND ".join(f"sigma_key_{i} IS NOT NULL" for i in range(len(plan.group_by))) or "TRUE"
    keys = ", ".join(f"sigma_key_{i}" for i in range(len(plan.group_by)))
    span_us = plan.timespan_seconds * 1_000_000
    carry = [f"collect_set(sigma_raw_{k})" for k in range(len(carried))]
    if plan.on_arrival:
        window = ((f"PARTITION BY {keys} " if keys else "")
                  + f"ORDER BY sigma_micros RANGE BETWEEN {span_us} PRECEDING AND CURRENT ROW")
        measures = [f"{arrival_measure(plan)} AS sigma_measure",
                    "MIN(sigma_time) OVER sigma_w AS sigma_first",
                    *(f"{c} OVER sigma_w AS sigma_carry_{k}" for k, c in enumerate(carry))]
        measured = (f"SELECT *, {', '.join(measures)}\nFROM (\n{matches}\n) AS sigma_matches\n"
                    f"WHERE {present}\nWINDOW sigma_w AS ({window})")
        return f"SELECT * FROM (\n{measured}\n) AS sigma_measured\nWHERE {condition(plan)}"
    if plan.type == TEMPORAL_ORDERED:
        raise PlanError("Spark SQL: a temporal_ordered condition with an upper bound is not supported")
    grouping = ", ".join([*(f"sigma_key_{i}" for i in range(len(plan.group_by))),
                          f"floor(sigma_micros / {span_us})"])
    columns = [*(f"sigma_key_{i}" for i in range(len(plan.group_by))),
               "MIN(sigma_time) AS sigma_first", "MAX(sigma_time) AS sigma_time",
               "MAX(sigma_micros) AS sigma_micros", f"{window_measure(plan)} AS sigma_measure",
               *(f"{c} AS sigma_carry_{k}" for k, c in enumerate(carry))]
    return (f"SELECT {', '.join(columns)}\nFROM (\n{matches}\n) AS sigma_matches\n"
            f"WHERE {present}\nGROUP BY {grouping}\nHAVING {condition(plan)}")


def part_rows(plan: CorrelationPlan, part: Part, context: SqlContext, carried: Sequence[str]) -> str:
    """One referenced rule's matches as rows of the common shape."""
    from watchpost.backends.sparksql import quote_column, sql_string

    if part.inner is None:
        def column(name: str) -> str:
            return quote_column(part.field(name))
        where = " OR ".join(f"({query})" for query in context.queries(part))
        source = f"FROM {context.table} WHERE {where}"
        head = [f"{context.timestamp} AS sigma_time", f"unix_micros({context.timestamp}) AS sigma_micros"]
    else:
        inner = part.inner
        inner_carried = list(dict.fromkeys([*plan.carried_fields(part),
                                            *(f for f in carried if f not in inner.group_by)]))
        rows = correlation_rows(inner, context, inner_carried)
        lateral = "".join(f"\nLATERAL VIEW explode(sigma_carry_{k}) sigma_x{k} AS sigma_c{k}"
                          for k in range(len(inner_carried)))
        source = f"FROM (\n{rows}\n) AS sigma_inner{lateral}"
        head = ["sigma_time", "sigma_micros"]

        def column(name: str) -> str:
            if name in inner.group_by:
                return f"sigma_key_{inner.group_by.index(name)}"
            return f"sigma_c{inner_carried.index(name)}"
    cells = [*head, f"{sql_string(part.tag)} AS sigma_rule", f"{part.slot} AS sigma_slot"]
    for index, source_name in enumerate(part.group_sources):
        pid = plan.is_pid_key(index, source_name)
        cells.append(f"{key_expression(column(source_name), pid)} AS sigma_key_{index}")
    if part.value_sources:
        cells.append(f"{value_expression(plan, [column(s) for s in part.value_sources])} AS sigma_value")
    cells += [f"CAST({column(name)} AS STRING) AS sigma_raw_{k}" for k, name in enumerate(carried)]
    return f"SELECT {', '.join(cells)}\n{source}"


def key_expression(column: str, pid: bool) -> str:
    text = f"CAST({column} AS STRING)"
    if not pid:
        return f"lower({text})"
    trimmed = f"trim({text})"
    return (f"CASE WHEN {trimmed} RLIKE '^0[xX][0-9a-fA-F]+$' THEN conv(substr({trimmed}, 3), 16, 10) "
            f"WHEN {trimmed} RLIKE '^[+-]?[0-9]+$' THEN CAST(CAST({trimmed} AS BIGINT) AS STRING) "
            f"ELSE lower({text}) END")


def value_expression(plan: CorrelationPlan, columns: Sequence[str]) -> str:
    if plan.type == VALUE_COUNT:
        lowered = [f"lower(CAST({column} AS STRING))" for column in columns]
        separator = ", '|', "
        return lowered[0] if len(lowered) == 1 else f"concat({separator.join(lowered)})"
    return f"try_cast(trim(CAST({columns[0]} AS STRING)) AS DOUBLE)"


def arrival_measure(plan: CorrelationPlan) -> str:
    """The measure over the trailing window `sigma_w`."""
    if plan.type == TEMPORAL_ORDERED:
        return (f"array_join(transform(array_sort(collect_list(named_struct('m', sigma_micros, "
                f"'s', sigma_slot)) OVER sigma_w), x -> substr('{LETTERS}', x.s + 1, 1)), '')")
    return {EVENT_COUNT: "COUNT(*) OVER sigma_w", VALUE_COUNT: "size(collect_set(sigma_value) OVER sigma_w)",
            VALUE_SUM: "SUM(sigma_value) OVER sigma_w",
            TEMPORAL: "size(collect_set(sigma_rule) OVER sigma_w)"}[plan.type]


def window_measure(plan: CorrelationPlan) -> str:
    if plan.type in (VALUE_PERCENTILE, VALUE_MEDIAN):
        share = (plan.spec.percentile if plan.spec.percentile is not None else 50.0) / 100
        return f"percentile(sigma_value, {number(share)})"
    return {EVENT_COUNT: "COUNT(*)", VALUE_COUNT: "size(collect_set(sigma_value))",
            VALUE_SUM: "SUM(sigma_value)", VALUE_AVG: "AVG(sigma_value)",
            TEMPORAL: "size(collect_set(sigma_rule))"}[plan.type]


def condition(plan: CorrelationPlan) -> str:
    if plan.type == TEMPORAL_ORDERED:
        sequences = "|".join(".*".join(LETTERS[slot] for slot in chosen)
                             for chosen in ordered_subsequences(plan))
        return f"sigma_measure RLIKE '{sequences}'"
    return " AND ".join(f"sigma_measure {OPERATORS[op]} {number(value)}" for op, value in plan.bounds)
