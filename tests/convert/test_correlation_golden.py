"""Every built-in target writes the golden queries for each correlation type and the pack's 10 correlations.

`tests/fixtures/convert/golden_correlations.jsonl` (made by `bench/make_convert_golden.py
--correlations`, read when made) holds, per target, the query of every rule of the pack and of the
correlation-type fixtures, or the reason the target refuses it. A change in any of them fails here
and shows in review; the SQL outputs are also run against the engine (test_semantics_*.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.convert.golden_support import GOLDEN, TARGETS, golden_records

CORRELATION_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered", "value_sum",
                     "value_avg", "value_percentile", "value_median")
# What each target cannot express at all (docs/convert.md, "Correlations by target").
REFUSED = {
    "lucene": set(CORRELATION_TYPES),
    "eql": set(CORRELATION_TYPES) - {"temporal_ordered"},
}


def stored() -> list[dict[str, Any]]:
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    return (record["target"], record["path"], record["kind"], record["title"])


@pytest.fixture(scope="module")
def current() -> list[dict[str, Any]]:
    return list(golden_records())


def test_every_rule_converts_to_its_golden_query_or_refusal(current: list[dict[str, Any]]) -> None:
    golden = stored()
    assert [key(record) for record in current] == [key(record) for record in golden]
    for now, then in zip(current, golden, strict=True):
        assert now == then, (f"{key(now)} changed: read the new query, then regenerate with "
                             "bench/make_convert_golden.py --correlations")


def test_the_golden_file_covers_every_type_for_every_target() -> None:
    correlations = [record for record in stored() if record["kind"] == "correlation"]
    for target in TARGETS:
        for kind in CORRELATION_TYPES:
            found = [r for r in correlations if r["target"] == target and r["type"] == kind]
            assert found, f"no {kind} correlation for {target}"
            converted = [r for r in found if "queries" in r]
            if kind in REFUSED.get(target, set()):
                assert not converted and all(r["error"] for r in found), (target, kind)
            else:
                assert converted, f"{target} converts no {kind} correlation"


def test_every_correlation_of_the_pack_converts_for_splunk_and_sparksql() -> None:
    from watchpost.hunting.engine import Hunt

    correlations = len(Hunt().ruleset.correlations)  # 11: the seed's, lifecycle, bursts, cloud
    assert correlations >= 10
    pack = [record for record in stored() if record["kind"] == "correlation"
            and record["path"].startswith("src/watchpost/packs/")]
    for target in ("splunk", "sparksql"):
        mine = [record for record in pack if record["target"] == target]
        assert len(mine) == correlations and all("queries" in record for record in mine), target


def test_approximations_are_said_in_the_query() -> None:
    for record in stored():
        if record["kind"] == "correlation" and "queries" in record:
            assert "approximate:" in record["queries"][0], key(record)
