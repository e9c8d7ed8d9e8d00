"""Compiling correlation rules: references, aliases, conditions, problems, output rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchpost.correlation import suppressed_rule_ids
from watchpost.correlation.conditions import ConditionError, parse_condition, split_range_condition
from watchpost.correlation.keys import normalise_key, parse_pid
from watchpost.correlation.spec import base_rule_ids

from .support import load

RULES = """
title: rule one
id: 11111111-1111-4111-8111-111111111111
name: one
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
---
title: rule two
id: 22222222-2222-4222-8222-222222222222
name: two
logsource: {product: windows}
detection: {selection: {EventID: 2}, condition: selection}
---
title: rule three
id: 33333333-3333-4333-8333-333333333333
logsource: {product: windows}
detection: {selection: {EventID: 3}, condition: selection}
"""


def correlation(body: str, title: str = "corr", extra: str = "") -> str:
    return f"\n---\ntitle: {title}\n{extra}correlation:\n{body}"


def test_rules_are_referenced_by_id_or_name_and_aliases_resolve_per_rule() -> None:
    loaded = load(
        RULES
        + correlation(
            """
    type: temporal
    rules: [one, 33333333-3333-4333-8333-333333333333]
    group-by: [Host, User]
    timespan: 90m
    aliases:
        Host: {one: Computer, 33333333-3333-4333-8333-333333333333: hostname}
"""
        )
    )
    assert loaded.problems == []
    (spec,) = loaded.specs
    assert spec.rules == ("11111111-1111-4111-8111-111111111111", "33333333-3333-4333-8333-333333333333")
    assert spec.sources == (("Computer", "User"), ("hostname", "User"))
    assert spec.timespan_seconds == 5400
    assert spec.condition.describe() == "gte 2"  # temporal default: every rule
    assert spec.meta.kind == "correlation"


def test_group_by_is_optional() -> None:
    loaded = load(
        RULES
        + correlation("    type: event_count\n    rules: [one]\n    timespan: 1m\n    condition: {gt: 2}\n")
    )
    (spec,) = loaded.specs
    assert spec.group_by == () and spec.sources == ((),)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "    type: event_count\n    rules: [nope]\n    timespan: 1m\n    condition: {gt: 2}\n",
            "referenced rule 'nope' is not loaded",
        ),
        (
            "    type: temporal\n    rules: [one, two]\n    timespan: 1m\n    group-by: [x]\n"
            "    aliases: {x: {three: a}}\n",
            "alias 'x' names rule 'three'",
        ),
        (
            "    type: value_sum\n    rules: [one]\n    timespan: 1m\n"
            "    condition: {field: [a, b], gt: 1}\n",
            "measures one field",
        ),
        (
            "    type: temporal\n    rules: [one, two]\n    timespan: 1m\n    condition: 'one and not two'\n",
            "extended (boolean) correlation conditions are not supported",
        ),
    ],
)
def test_correlations_that_cannot_run_are_problems(body: str, reason: str) -> None:
    loaded = load(RULES + correlation(body))
    assert loaded.specs == []
    assert len(loaded.problems) == 1 and reason in loaded.problems[0].reason


def test_a_correlation_over_a_broken_correlation_is_left_out_too() -> None:
    loaded = load(
        RULES
        + correlation(
            "    type: event_count\n    rules: [one]\n    timespan: 1m\n    condition: {gt: 2, eq: x}\n",
            title="broken",
            extra="name: broken\n",
        )
        + correlation("    type: temporal\n    rules: [broken, two]\n    timespan: 1m\n", title="outer")
    )
    assert loaded.specs == []
    reasons = sorted(p.reason for p in loaded.problems)
    assert (
        reasons[0].startswith("depends on correlation") and "threshold of 'eq' is not a number" in reasons[1]
    )


def test_generate_decides_which_rules_are_output_on_their_own() -> None:
    loaded = load(
        RULES
        + correlation(
            "    type: event_count\n    rules: [one]\n    timespan: 1m\n    condition: {gt: 2}\n",
            title="inner",
            extra="name: inner\n",
        )
        + correlation("    type: temporal\n    rules: [inner, two]\n    timespan: 1m\n", title="outer")
        + correlation(
            "    type: event_count\n    rules: [33333333-3333-4333-8333-333333333333]\n    timespan: 1m\n"
            "    condition: {gt: 2}\n    generate: true\n",
            title="generated",
        )
    )
    detections = list(loaded.detections.values())
    hidden = suppressed_rule_ids(detections, loaded.specs)
    one, two, three = (loaded.detections[n] for n in ("one", "two", "rule three"))
    assert hidden == {one.id, two.id, loaded.spec("inner").id}
    assert three.id not in hidden and loaded.spec("outer").id not in hidden
    assert base_rule_ids(loaded.specs) == {one.id, two.id, three.id}


def test_conditions_operators_and_ranges() -> None:
    condition = parse_condition({"gt": 100, "lte": 200})
    assert [condition.holds(v) for v in (100, 101, 200, 201)] == [False, True, True, False]
    assert parse_condition({"neq": 3}).holds(2) and not parse_condition({"neq": 3}).holds(3)
    assert parse_condition({"gte": 2, "gt": 1}).on_arrival and not parse_condition({"eq": 2}).on_arrival
    assert not parse_condition({"gt": 1}).holds(None)
    with pytest.raises(ConditionError):
        parse_condition({"field": "x"})
    with pytest.raises(ConditionError):
        parse_condition({"between": 3})


def test_range_translator_moves_the_range_past_pysigma() -> None:
    document = {
        "title": "t",
        "correlation": {"type": "value_sum", "condition": {"field": "b", "gt": 1, "lt": 9}},
    }
    (translated,) = split_range_condition(document, Path("x.yml"))
    assert translated["correlation"]["condition"] == {"field": "b", "gt": 1}
    assert translated["x-watchpost-condition"] == {"field": "b", "gt": 1, "lt": 9}
    single = {"title": "t", "correlation": {"condition": {"gt": 1}}}
    assert split_range_condition(single, Path("x.yml")) == [single]


def test_group_keys_are_case_insensitive_and_process_ids_are_numbers() -> None:
    assert normalise_key("Computer", "PC1.Contoso") == normalise_key("Computer", "pc1.contoso")
    assert normalise_key("NewProcessId", "0x2BC") == normalise_key("ProcessId", "700") == 700
    assert normalise_key("process.pid", 700) == 700
    assert normalise_key("ProcessId", "n/a") == "n/a"
    assert normalise_key("Port", "0x10") == "0x10"  # not a process id field: text
    assert normalise_key("Flag", True) == "true" and normalise_key("x", None) is None
    assert parse_pid("0x") is None and parse_pid(1.5) is None
