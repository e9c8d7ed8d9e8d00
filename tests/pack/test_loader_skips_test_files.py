"""The rule loader must not read ``X.tests.yml`` (rule test events) as rules."""

from __future__ import annotations

from pathlib import Path

from watchpost.rules.documents import find_rule_files
from watchpost.rules.model import RuleProblem

RULE = """\
title: netstat
id: 6a0a8c3e-9f55-4c2e-8f43-1f3c1f0f2b11
logsource: {category: process_creation, product: windows}
detection:
  selection: {Image|endswith: '\\\\netstat.exe'}
  condition: selection
level: low
"""
TESTS = """\
positive:
  - fields: {EventID: 1, Image: 'C:\\\\Windows\\\\System32\\\\NETSTAT.EXE'}
negative:
  - fields: {EventID: 1, Image: 'C:\\\\Windows\\\\System32\\\\cmd.exe'}
"""


def test_a_folder_walk_skips_tests_files_and_keeps_rules(tmp_path: Path) -> None:
    (tmp_path / "netstat.yml").write_text(RULE, encoding="utf-8")
    (tmp_path / "netstat.tests.yml").write_text(TESTS, encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "other.yaml").write_text(RULE.replace("6a0a", "7b1b"), encoding="utf-8")
    (tmp_path / "nested" / "other.tests.yml").write_text(TESTS, encoding="utf-8")
    problems: list[RuleProblem] = []
    found = find_rule_files([tmp_path], problems)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == ["nested/other.yaml", "netstat.yml"]
    assert problems == []


def test_the_bundled_pack_loads_without_problems_beside_its_test_files() -> None:
    from watchpost.hunting.engine import bundled_pack
    from watchpost.hunting.ruleset import load_ruleset

    pack = bundled_pack()
    assert list(pack.rglob("*.tests.yml")), "the pack has rule test files"
    ruleset = load_ruleset([pack])
    assert [p.describe() for p in ruleset.problems] == []
    loaded_paths = {Path(meta.path).name for meta in ruleset.metas()}
    assert not any(name.endswith(".tests.yml") for name in loaded_paths)
