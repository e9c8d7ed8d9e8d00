"""Load-time bounds of the rule loader (issue 19): values, file size, regex nesting, linked folders,
and the progress a large rule set reports while it loads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from watchpost.hunting.ruleset import build_ruleset
from watchpost.matching.regex_bounds import MAX_REGEX_NESTING, group_nesting
from watchpost.matching.regex_literals import required_regex_literals
from watchpost.rules import rule_yaml
from watchpost.rules.loader import load_rules
from watchpost.rules.model import COMPILING, READING

GOOD = (PROJECT / "tests" / "fixtures" / "hostile_rules" / "good.yml").read_text()


def rule(title: str, selection: str = "Image|endswith: '\\\\netstat.exe'") -> str:
    return (f"title: {title}\nlogsource:\n  product: windows\ndetection:\n  selection:\n"
            f"    {selection}\n  condition: selection\n")


def test_an_out_of_bound_number_costs_its_document_only(tmp_path: Path) -> None:
    path = tmp_path / "three.yml"
    huge = rule("Huge", "ProcessId: " + "9" * 41)
    path.write_text(rule("First") + "---\n" + huge + "---\n" + rule("Third"))
    loaded = load_rules([path])
    assert [item.rule.title for item in loaded.rules] == ["First", "Third"]
    (problem,) = loaded.problems
    assert (problem.path, problem.rule) == (str(path), "Huge")
    assert "document 2: line 14: a number of 41 digits" in problem.reason


def test_a_number_within_the_bound_loads(tmp_path: Path) -> None:
    (tmp_path / "ok.yml").write_text(rule("Long Id", "ProcessId: " + "9" * rule_yaml.MAX_NUMBER_DIGITS))
    loaded = load_rules([tmp_path])
    assert loaded.problems == [] and len(loaded.rules) == 1


def test_a_date_that_cannot_be_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "date.yml").write_text("date: 0000-01-01\n" + rule("Year Zero"))
    (tmp_path / "good.yml").write_text(GOOD)
    loaded = load_rules([tmp_path])
    assert [item.rule.title for item in loaded.rules] == ["Good Rule"]
    (problem,) = loaded.problems
    assert problem.rule == "Year Zero" and "not a valid date" in problem.reason


def test_a_file_over_the_size_bound_is_refused_unread(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_yaml, "MAX_RULE_FILE_BYTES", 1024)
    big = tmp_path / "big.yml"
    big.write_text(rule("Big") + "description: " + "x" * 2000 + "\n")
    (tmp_path / "good.yml").write_text(GOOD)
    loaded = load_rules([tmp_path])
    assert [item.rule.title for item in loaded.rules] == ["Good Rule"]
    (problem,) = loaded.problems
    assert problem.path == str(big)
    assert "larger than" in problem.reason and "not read" in problem.reason


def test_linked_rule_folders_are_followed_once_even_in_a_loop(tmp_path: Path) -> None:
    real = tmp_path / "real"
    top = tmp_path / "top"
    real.mkdir()
    top.mkdir()
    (real / "good.yml").write_text(GOOD)
    (top / "linked").symlink_to(real, target_is_directory=True)
    (top / "again").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(top, target_is_directory=True)
    loaded = load_rules([top])
    assert loaded.files == 1 and [item.rule.title for item in loaded.rules] == ["Good Rule"]
    assert loaded.problems == []


def test_the_rule_cache_key_sees_files_under_linked_folders(tmp_path: Path) -> None:
    from watchpost.hunting.rule_cache import cache_key

    real, top = tmp_path / "real", tmp_path / "top"
    real.mkdir()
    top.mkdir()
    (top / "linked").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(top, target_is_directory=True)
    before = cache_key([top], None)
    (real / "good.yml").write_text(GOOD)
    assert cache_key([top], None) != before


def test_group_nesting_skips_escapes_and_classes() -> None:
    assert group_nesting("a(b(c)d)") == 2
    assert group_nesting(r"\(\(\((x)") == 1
    assert group_nesting("[(][[:alpha:](]()") == 1
    assert group_nesting("[]((]x") == 0
    assert group_nesting("(" * 300) == 300


def test_the_literal_reader_gives_up_on_deep_nesting_at_any_stack_depth() -> None:
    deep = "(" * (MAX_REGEX_NESTING + 1) + "netstat" + ")" * (MAX_REGEX_NESTING + 1)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # less than the reader would need: it must stop before
    try:
        assert required_regex_literals(deep) is None
        assert required_regex_literals("(" * 50 + "netstat" + ")" * 50) == frozenset({"netstat"})
    finally:
        sys.setrecursionlimit(limit)


def test_progress_counts_files_then_rules(tmp_path: Path) -> None:
    for number in range(3):
        (tmp_path / f"rule{number}.yml").write_text(rule(f"Rule {number}"))
    (tmp_path / "broken.yml").write_text("title: [\n")
    seen: list[tuple[str, int, int]] = []
    ruleset = build_ruleset([tmp_path], progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert len(ruleset.detections) == 3
    assert [entry for entry in seen if entry[0] == READING] == [(READING, n, 4) for n in range(1, 5)]
    assert [entry for entry in seen if entry[0] == COMPILING] == [(COMPILING, n, 3) for n in range(4)]
    assert seen.index((READING, 4, 4)) < seen.index((COMPILING, 0, 3))


def test_an_unusable_placeholder_file_is_a_problem_and_the_rules_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    values = tmp_path / "placeholders.yml"
    values.write_text("admins: " + "1" * 4301 + "\n")  # PyYAML raised ValueError: a traceback
    ruleset = build_ruleset([tmp_path / "good.yml"], placeholders=values)
    assert [rule.meta.title for rule in ruleset.detections] == ["Good Rule"]
    (problem,) = ruleset.problems
    assert problem.path == str(values) and "cannot read placeholder file" in problem.reason


def test_deeply_nested_yaml_or_conditions_cost_their_file_or_rule_only(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "deep_yaml.yml").write_text(rule("Deep Yaml", "Image: " + "[" * 5000 + "]" * 5000))
    (tmp_path / "deep_condition.yml").write_text(
        rule("Deep Condition").replace("condition: selection", "condition: " + "not " * 3000 + "selection"))
    loaded = load_rules([tmp_path])
    assert [item.rule.title for item in loaded.rules] == ["Good Rule"]
    reasons = {Path(problem.path).name: problem.reason for problem in loaded.problems}
    assert set(reasons) == {"deep_yaml.yml", "deep_condition.yml"}
    assert all("nested too deeply" in reason for reason in reasons.values()), reasons


def test_a_rule_file_over_8_mib_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "fifty_megabytes.yml"
    with big.open("wb") as stream:  # sparse: its size without writing it (a 50 MB file took 150 s)
        stream.truncate(50 * 1024 * 1024)
    (tmp_path / "good.yml").write_text(GOOD)
    loaded = load_rules([tmp_path])
    assert [item.rule.title for item in loaded.rules] == ["Good Rule"]
    (problem,) = loaded.problems
    assert problem.path == str(big)
    assert problem.reason.startswith("file of 50.0 MiB is larger than the 8 MiB a rule file may hold")
