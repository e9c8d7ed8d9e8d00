"""Every SigmaHQ rule (rules, threat hunting, emerging threats) loads and resolves, or says why."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from watchpost.rules.loader import LoadedRules, load_rules
from watchpost.rules.logsources import RuleVariant, UnsupportedLogsource, resolve_variants
from watchpost.rules.pipelines.items import LOGSOURCE_DETECTION

SIGMA = Path(__file__).resolve().parents[2].parent / "shared" / "sigma"
FOLDERS = ("rules", "rules-threat-hunting", "rules-emerging-threats")


@pytest.fixture(scope="module")
def loaded() -> LoadedRules:
    return load_rules([SIGMA / folder for folder in FOLDERS])


@pytest.fixture(scope="module")
def resolved(loaded: LoadedRules) -> tuple[dict[str, list[RuleVariant]], dict[str, str]]:
    variants: dict[str, list[RuleVariant]] = {}
    unsupported: dict[str, str] = {}
    for entry in loaded.rules:
        key = f"{entry.path} [{entry.rule.title}]"
        try:
            variants[key] = resolve_variants(entry.rule)
        except UnsupportedLogsource as error:
            unsupported[key] = error.reason
    return variants, unsupported


def test_every_rule_file_is_loaded_or_reported(loaded: LoadedRules) -> None:
    files = {path for folder in FOLDERS for path in (SIGMA / folder).rglob("*.yml")}
    accounted = {entry.path for entry in loaded.rules}
    accounted |= {entry.path for entry in loaded.correlations}
    accounted |= {entry.path for entry in loaded.filters}
    accounted |= {Path(problem.path) for problem in loaded.problems}
    print(
        f"\nSigmaHQ: {loaded.files} files, {len(loaded.rules)} rules, {len(loaded.correlations)} "
        f"correlations, {len(loaded.filters)} filters, {len(loaded.problems)} problems"
    )
    for problem in loaded.problems:
        print("  problem:", problem.describe())
    assert loaded.files == len(files)
    assert files <= accounted
    assert all(problem.reason for problem in loaded.problems)


def test_every_rule_resolves_or_gives_a_reason(
    loaded: LoadedRules, resolved: tuple[dict[str, list[RuleVariant]], dict[str, str]]
) -> None:
    variants, unsupported = resolved
    labels = Counter(variant.label for found in variants.values() for variant in found)
    total = sum(labels.values())
    print(f"\nresolved {len(variants)} rules into {total} variants, {len(unsupported)} unsupported")
    print("  variants by label:", dict(labels.most_common()))
    for key, reason in sorted(unsupported.items()):
        print("  unsupported:", key, "->", reason)
    assert len(variants) + len(unsupported) == len(loaded.rules)
    assert all(found for found in variants.values())
    assert all(reason for reason in unsupported.values())
    assert unsupported == {}


def test_windows_variants_carry_their_log_condition(
    resolved: tuple[dict[str, list[RuleVariant]], dict[str, str]],
) -> None:
    variants, _ = resolved
    for key, found in variants.items():
        for variant in found:
            pinned = LOGSOURCE_DETECTION in variant.rule.detection.detections
            if variant.label in ("gate", "windows"):
                assert not pinned, key
            else:
                assert pinned, key
                assert variant.gate.product == "windows", key
