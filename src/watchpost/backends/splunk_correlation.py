"""Correlation rules as Splunk SPL searches.

The search of each referenced detection rule is a `multisearch` branch (one `search` when there is
only one) that tags its events with the rule (`sigma_rule`, `sigma_slot`) and computes the group
keys as the engine does (`lower()` of text; a process id read as a number from `0x2bc` or `700`)
and the measured value. A referenced correlation (a chain) is `append`ed as its own search, each
of its results expanded to every group its events carry (`mvexpand`). Then:

- conditions decided on arrival (lower bounds on event_count, value_count, value_sum, temporal,
  temporal_ordered): `streamstats time_window=<timespan>` over the group, which measures the
  trailing window ending at every event, and a `where` on the measure;
- conditions decided at a window's end (upper bounds, value_avg, value_percentile, value_median):
  `bin _time span=<timespan>` and `stats` by window and group;
- temporal_ordered: the window's rule letters in time order (`list()`), matched against the
  ordered sub-sequences the condition accepts.

What differs from the engine is written at the top of the query as SPL comments (```...```).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from watchpost.backends.correlation_plan import (
    CorrelationPlan,
    Part,
    PlanError,
    approximations,
    describe_condition,
    describe_rule_title,
    describe_timespan,
    ordered_subsequences,
)
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

FIELD_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "!="}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
MEASURE = "sigma_measure"

PartQueries = Callable[[Part], Sequence[str]]


def splunk_correlation(plan: CorrelationPlan, queries: PartQueries) -> str:
    """The SPL search of a correlation rule (with its approximations as comments)."""
    comments = [f"``` watchpost correlation {describe_rule_title(plan, '```')}: {plan.type}, timespan "
                f"{describe_timespan(plan.timespan_seconds)}, condition {describe_condition(plan)} ```"]
    notes = approximations(plan, "Splunk", sliding=plan.on_arrival)
    if plan.type in (VALUE_PERCENTILE, VALUE_MEDIAN):
        notes.append("Splunk: exactperc and median pick values by Splunk's own rank rule; watchpost "
                     "interpolates linearly between the closest ranks")
    if plan.type == TEMPORAL_ORDERED:
        notes.append("Splunk: list() keeps at most 100 values: a window of more events per group is "
                     "judged on its first 100")
    comments += [f"``` approximate: {note} ```" for note in notes]
    return "\n".join(comments) + "\n" + correlation_search(plan, queries, carried=())


def correlation_search(plan: CorrelationPlan, queries: PartQueries, carried: Sequence[str]) -> str:
    """The search without comments; ``carried``: fields an outer correlation reads from its results."""
    check_names(plan)
    if len(plan.parts) > len(LETTERS):
        raise PlanError(f"Splunk: at most {len(LETTERS)} referenced rules")
    branches = [f"search {as_search(query)} | {tagging(plan, part, carried)}"
                for part in plan.parts if part.inner is None for query in queries(part)]
    appended = [inner_search(plan, part, queries) for part in plan.parts if part.inner is not None]
    if not branches:
        raise PlanError("Splunk: a correlation of correlations only has no search to start from")
    lines = ([branches[0]] if len(branches) == 1
             else ["| multisearch"] + [f"    [{branch}]" for branch in branches])
    lines += [f"| append [{search}]" for search in appended]
    keys = " AND ".join(f"isnotnull({quoted(name)})" for name in plan.group_by)
    if keys:
        lines.append(f"| where {keys}")
    lines.append("| sort 0 _time sigma_slot")
    lines += aggregation(plan, carried)
    return "\n".join(lines)


def check_names(plan: CorrelationPlan) -> None:
    names = [*plan.group_by, *(p.field(s) for p in plan.parts for s in (*p.group_sources, *p.value_sources))]
    for name in names:
        if not FIELD_NAME.match(name):
            raise PlanError(f"Splunk: field name {name!r} cannot be written in an eval")


def as_search(query: str) -> str:
    """A detection query as the argument of `search` (a query that starts with a pipe needs a `*`)."""
    text = query.strip()
    return f"* {text}" if text.startswith("|") else text


def inner_search(plan: CorrelationPlan, part: Part, queries: PartQueries) -> str:
    assert part.inner is not None
    carried = plan.carried_fields(part)
    search = correlation_search(part.inner, queries, carried)
    expand = "".join(f" | mvexpand {name}" for name in carried)
    return f"{search}{expand} | {tagging(plan, part, ())}"


def tagging(plan: CorrelationPlan, part: Part, carried: Sequence[str]) -> str:
    """`eval` of the rule tag, its slot, the group keys and the measured value for one part (and of
    the ``carried`` fields under their own names, `sigma_carry_<k>`, read with the part's names)."""
    tag = part.tag.replace("\\", "\\\\").replace('"', '\\"')
    assignments = [f'sigma_rule="{tag}"', f"sigma_slot={part.slot}",
                   f'sigma_letter="{LETTERS[part.slot]}"']
    for index, (name, source) in enumerate(zip(plan.group_by, part.group_sources, strict=True)):
        assignments.append(f"{name}={key_expression(part.field(source), plan.is_pid_key(index, source))}")
    if part.value_sources:
        measured = [part.field(source) for source in part.value_sources]
        assignments.append(f"sigma_value={value_expression(plan, measured)}")
    assignments += [f"sigma_carry_{k}={quoted(part.field(name))}" for k, name in enumerate(carried)]
    return "eval " + ", ".join(assignments)


def quoted(name: str) -> str:
    return f"'{name}'"


def key_expression(source: str, pid: bool) -> str:
    """The engine's group key: lower-cased text; a process id as a number (hex `0x..` or decimal)."""
    field = quoted(source)
    if not pid:
        return f"lower({field})"
    return (f'coalesce(if(match({field}, "^\\s*0[xX][0-9a-fA-F]+\\s*$"), '
            f'tonumber(replace(trim({field}), "^0[xX]", ""), 16), tonumber(trim({field}), 10)), '
            f"lower({field}))")


def value_expression(plan: CorrelationPlan, sources: Sequence[str]) -> str:
    if plan.type == VALUE_COUNT:
        return ' . "|" . '.join(f"lower({quoted(source)})" for source in sources)
    return f"tonumber({quoted(sources[0])})"


def aggregation(plan: CorrelationPlan, carried: Sequence[str]) -> list[str]:
    """The windowed measure and the condition on it."""
    by = (" by " + " ".join(plan.group_by)) if plan.group_by else ""
    carry = "".join(f" values(sigma_carry_{k}) as {name}" for k, name in enumerate(carried))
    span = describe_timespan(plan.timespan_seconds)
    if plan.type == TEMPORAL_ORDERED:
        if not plan.on_arrival:
            raise PlanError("Splunk: a temporal_ordered condition with an upper bound is not supported")
        sequences = "|".join(".*".join(LETTERS[slot] for slot in chosen)
                             for chosen in ordered_subsequences(plan))
        return [f"| streamstats time_window={span} list(sigma_letter) as sigma_sequence{carry}{by}",
                '| eval sigma_sequence=mvjoin(sigma_sequence, "")',
                f'| where match(sigma_sequence, "{sequences}")']
    function = measure_function(plan)
    condition = " AND ".join(f"{MEASURE}{OPERATORS[op]}{number(value)}" for op, value in plan.bounds)
    if plan.on_arrival:
        return [f"| streamstats time_window={span} {function} as {MEASURE}{carry}{by}",
                f"| where {condition}"]
    window_by = " by sigma_window" + (" " + " ".join(plan.group_by) if plan.group_by else "")
    return [f"| bin _time span={span} as sigma_window",
            f"| stats {function} as {MEASURE} min(_time) as sigma_first max(_time) as _time"
            f"{carry}{window_by}",
            f"| where {condition}"]


def measure_function(plan: CorrelationPlan) -> str:
    functions = {EVENT_COUNT: "count", VALUE_COUNT: "dc(sigma_value)", VALUE_SUM: "sum(sigma_value)",
                 VALUE_AVG: "avg(sigma_value)", VALUE_MEDIAN: "median(sigma_value)",
                 TEMPORAL: "dc(sigma_rule)"}
    if plan.type == VALUE_PERCENTILE:
        return f"exactperc{number(plan.spec.percentile or 50.0)}(sigma_value)"
    return functions[plan.type]


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
