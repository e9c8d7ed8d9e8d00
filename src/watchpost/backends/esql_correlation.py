"""Correlation rules as ES|QL: the referenced rules' conditions tag the events, STATS measures per window.

    FROM logs-*
    | WHERE (<rule 1>) OR (<rule 2>)
    | EVAL sigma_rule = CASE((<rule 1>), "name1", ...), <group keys per rule>, sigma_value = ...
    | WHERE <every group key present>
    | STATS sigma_measure = COUNT(*), first_time = MIN(@timestamp), last_time = MAX(@timestamp)
        BY sigma_window = BUCKET(@timestamp, 5 minutes), Computer, ProcessKey
    | WHERE sigma_measure >= 3

ES|QL has no sliding windows (no window functions) and no sub-queries: windows are `BUCKET`s
aligned to the clock, and a correlation of correlations is refused. Group keys are computed as
the engine computes them: lower-cased text, and a process id as a decimal number from `0x2bc`
(digit by digit with `LOCATE`, ES|QL has no base-16 conversion) or `700`. temporal_ordered
compares each rule's first and last times in the window (exact for two rules, a necessary
condition only for more: `--target eql` writes an exact `sequence`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from watchpost.backends.correlation_plan import (
    CorrelationPlan,
    Part,
    PlanError,
    approximations,
    describe_condition,
    describe_timespan,
    minimal_count,
)
from watchpost.backends.splunk_correlation import OPERATORS, PartQueries, number
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

HEX_DIGITS = 8  # Windows process ids are 32-bit
ESQL_OPERATORS = {**OPERATORS, "eq": "=="}


def esql_correlation(plan: CorrelationPlan, queries: PartQueries, index: str, timestamp: str) -> str:
    from watchpost.backends.esql import esql_string, quote_field

    if any(part.inner is not None for part in plan.parts):
        raise PlanError("ES|QL has no sub-queries: a correlation of correlations cannot be expressed")
    notes = approximations(plan, "ES|QL", sliding=False) + extra_notes(plan)
    lines = [f"// watchpost correlation {plan.title!r}: {plan.type}, timespan "
             f"{describe_timespan(plan.timespan_seconds)}, condition {describe_condition(plan)}"]
    lines += [f"// approximate: {note}" for note in notes]
    conditions = [(part, " OR ".join(f"({query})" for query in queries(part))) for part in plan.parts]
    lines += [f"FROM {index}", "| WHERE " + " OR ".join(f"({text})" for _, text in conditions)]
    evals = [f"sigma_rule = {case(conditions, lambda part: esql_string(part.tag))}",
             f"sigma_slot = {case(conditions, lambda part: str(part.slot))}"]
    for position, name in enumerate(plan.group_by):
        evals.append(f"{quote_field(name)} = " + case(conditions, group_key(plan, position)))
    if plan.parts[0].value_sources:
        evals.append("sigma_value = " + case(conditions, lambda part: value_expression(
            plan, [quote_field(part.field(source)) for source in part.value_sources])))
    lines.append("| EVAL " + ",\n       ".join(evals))
    if plan.group_by:
        lines.append("| WHERE " + " AND ".join(f"{quote_field(name)} IS NOT NULL" for name in plan.group_by))
    lines += aggregation(plan, timestamp, [quote_field(name) for name in plan.group_by])
    return "\n".join(lines)


def group_key(plan: CorrelationPlan, index: int) -> Callable[[Part], str]:
    """The expression of group key ``index`` for the events of one part."""
    from watchpost.backends.esql import quote_field

    def expression(part: Part) -> str:
        source = part.group_sources[index]
        return key_expression(quote_field(part.field(source)), plan.is_pid_key(index, source))
    return expression


def extra_notes(plan: CorrelationPlan) -> list[str]:
    notes = []
    if plan.type == VALUE_COUNT or plan.type == TEMPORAL:
        notes.append("ES|QL: COUNT_DISTINCT is exact up to 3,000 distinct values, approximate above")
    if plan.type in (VALUE_PERCENTILE, VALUE_MEDIAN):
        notes.append("ES|QL: PERCENTILE and MEDIAN are approximate (t-digest), watchpost interpolates "
                     "linearly between the closest ranks")
    if plan.type == TEMPORAL_ORDERED and len(plan.parts) > 2:
        notes.append("ES|QL: the order is checked between consecutive rules' first and last times, which "
                     "every ordered chain meets but some unordered windows meet too; --target eql is exact")
    return notes


def case(conditions: Sequence[tuple[Part, str]], value_of: Callable[[Part], str]) -> str:
    """The value of the part whose condition an event meets (the value itself for one part)."""
    if len(conditions) == 1:
        return str(value_of(conditions[0][0]))
    branches = ", ".join(f"({text}), {value_of(part)}" for part, text in conditions)
    return f"CASE({branches})"


def key_expression(field: str, pid: bool) -> str:
    text = f"TO_LOWER(TRIM(TO_STRING({field})))"
    if not pid:
        return f"TO_LOWER(TO_STRING({field}))"
    digits = f"SUBSTRING({text}, 3)"
    terms = " + ".join(
        f"CASE(LENGTH({digits}) > {i}, (LOCATE(\"0123456789abcdef\", SUBSTRING({digits}, "
        f"LENGTH({digits}) - {i}, 1)) - 1) * POW(16, {i}), 0)" for i in range(HEX_DIGITS))
    return (f"CASE({text} RLIKE \"0x[0-9a-f]{{1,{HEX_DIGITS}}}\", TO_STRING(TO_LONG({terms})), "
            f"{text} RLIKE \"-?[0-9]+\", TO_STRING(TO_LONG({text})), TO_LOWER(TO_STRING({field})))")


def value_expression(plan: CorrelationPlan, fields: Sequence[str]) -> str:
    if plan.type == VALUE_COUNT:
        lowered = [f"TO_LOWER(TO_STRING({field}))" for field in fields]
        return lowered[0] if len(lowered) == 1 else "CONCAT(" + ", \"|\", ".join(lowered) + ")"
    return f"TO_DOUBLE({fields[0]})"


def aggregation(plan: CorrelationPlan, timestamp: str, keys: Sequence[str]) -> list[str]:
    span = bucket_span(plan.timespan_seconds)
    by = ", ".join([f"sigma_window = BUCKET({timestamp}, {span})", *keys])
    common = f"first_time = MIN({timestamp}), last_time = MAX({timestamp})"
    if plan.type == TEMPORAL_ORDERED:
        count = len(plan.parts)
        if not plan.on_arrival or minimal_count(plan) != count:
            raise PlanError("ES|QL: a temporal_ordered condition other than 'all rules in order' "
                            "cannot be expressed")
        times = ",\n       ".join(f"sigma_t{slot} = CASE(sigma_slot == {slot}, {timestamp})"
                                  for slot in range(count))
        stats = ", ".join(f"sigma_first_{slot} = MIN(sigma_t{slot}), sigma_last_{slot} = MAX(sigma_t{slot})"
                          for slot in range(count))
        order = " AND ".join([*(f"sigma_first_{slot} IS NOT NULL" for slot in range(count)),
                              *(f"sigma_first_{slot} <= sigma_last_{slot + 1}" for slot in range(count - 1))])
        return [f"| EVAL {times}", f"| STATS {stats}, {common} BY {by}", f"| WHERE {order}"]
    condition = " AND ".join(f"sigma_measure {ESQL_OPERATORS[op]} {number(value)}"
                             for op, value in plan.bounds)
    return [f"| STATS sigma_measure = {measure(plan)}, {common} BY {by}", f"| WHERE {condition}"]


def measure(plan: CorrelationPlan) -> str:
    if plan.type == VALUE_PERCENTILE:
        return f"PERCENTILE(sigma_value, {number(plan.spec.percentile or 50.0)})"
    return {EVENT_COUNT: "COUNT(*)", VALUE_COUNT: "COUNT_DISTINCT(sigma_value)",
            VALUE_SUM: "SUM(sigma_value)",
            VALUE_AVG: "AVG(sigma_value)", VALUE_MEDIAN: "MEDIAN(sigma_value)",
            TEMPORAL: "COUNT_DISTINCT(sigma_rule)"}[plan.type]


def bucket_span(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"
