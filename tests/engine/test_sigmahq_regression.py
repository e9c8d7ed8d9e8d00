"""SigmaHQ's own regression suite: each case's rule fires on the case's EVTX at least
``match_count`` times (default: at least once), run through the whole engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import SHARED
from watchpost.hunting.engine import Hunt, HuntOptions

SIGMA = SHARED / "sigma"
RULE_FOLDERS = ("rules", "rules-threat-hunting", "rules-emerging-threats")
ID_LINE = re.compile(r"^id:\s*['\"]?([0-9a-fA-F-]{36})", re.MULTILINE)


def rule_files_by_id() -> dict[str, Path]:
    """Rule file by rule id (case folders are named after rule files that were later renamed)."""
    found: dict[str, Path] = {}
    for folder in RULE_FOLDERS:
        for path in (SIGMA / folder).rglob("*.yml"):
            match = ID_LINE.search(path.read_text(encoding="utf-8"))
            if match:
                found[match.group(1).lower()] = path
    return found


def regression_cases() -> list[tuple[str, Path, int]]:
    cases = []
    for info in sorted((SIGMA / "regression_data").rglob("info.yml")):
        data = yaml.safe_load(info.read_text(encoding="utf-8"))
        rule_id = data["rule_metadata"][0]["id"].lower()
        for test in data["regression_tests_info"]:
            cases.append((rule_id, SIGMA / test["path"], int(test.get("match_count", 1))))
    return cases


def test_every_regression_case_fires(capsys: pytest.CaptureFixture[str]) -> None:
    cases = regression_cases()
    assert len(cases) >= 150, "the regression suite should have its ~159 cases"
    rules = rule_files_by_id()
    failures: list[str] = []
    for rule_id, evtx, expected in cases:
        rule_path = rules.get(rule_id)
        if rule_path is None:
            failures.append(f"{rule_id}: no rule file with this id")
            continue
        hunt = Hunt(HuntOptions(rules=[rule_path]))
        problems = [p.describe() for p in hunt.ruleset.problems]
        count = sum(1 for alert in hunt.run([evtx]) if alert.rule.id == rule_id)
        if problems or count < expected or hunt.problems.count("read"):
            failures.append(f"{rule_path.name}: {count} matches, expected >= {expected}; {problems}")
    passed = len(cases) - len(failures)
    with capsys.disabled():
        print(f"\nSigmaHQ regression suite: {passed}/{len(cases)} cases pass")
    assert not failures, "\n".join(failures)
