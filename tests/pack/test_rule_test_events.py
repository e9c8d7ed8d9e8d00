"""Every pack rule's test events (``X.tests.yml``) pass, and every pack rule has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchpost.hunting.engine import bundled_pack
from watchpost.ruletests import (
    find_rule_files,
    find_test_files,
    load_test_file,
    run_test_file,
    untested_rules,
)

PACK = bundled_pack()
TEST_FILES = find_test_files([PACK])


def test_every_pack_rule_file_has_a_positive_and_a_negative_case() -> None:
    assert len(find_rule_files([PACK])) >= 20
    assert untested_rules([PACK]) == []


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.relative_to(PACK).as_posix())
def test_rule_test_events_pass(path: Path) -> None:
    loaded = load_test_file(path)
    assert loaded.problems == []
    assert loaded.count("positive") >= 1 and loaded.count("negative") >= 1
    results = run_test_file(loaded)
    failures = [result.describe() for result in results if not result.passed]
    assert failures == []
    assert len(results) == len(loaded.cases)


def test_positive_cases_raise_alerts_and_negative_cases_raise_none() -> None:
    """The harness counts alerts: a positive case really alerted, a negative one really did not."""
    for path in TEST_FILES:
        for result, case in zip(run_test_file(load_test_file(path)), load_test_file(path).cases, strict=True):
            assert (result.alerts > 0) == case.expect_alert, f"{path.name} {case.label}"
