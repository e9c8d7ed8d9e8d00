"""Rule loading: every failure becomes a problem with path and reason, the rest loads."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from sigma.modifiers import modifier_mapping

from watchpost.rules.loader import LoadedRules, load_rules
from watchpost.rules.model import RuleProblem

GOOD = """
title: Good Rule
id: 0b8baa3f-575c-46ee-8715-d6f28cc7d33c
name: good_rule
level: high
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        CommandLine|endswith: 'net use'
    condition: sel
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def rule_doc(title: str, rule_id: str | None = None, **extra: str) -> str:
    lines = [f"title: {title}"]
    if rule_id:
        lines.append(f"id: {rule_id}")
    lines += [f"{key}: {value}" for key, value in extra.items()]
    lines += [
        "logsource:",
        "    product: windows",
        "    service: security",
        "detection:",
        "    sel:",
        "        EventID: 4688",
        "    condition: sel",
    ]
    return "\n".join(lines) + "\n"


def titles(loaded: LoadedRules) -> list[str]:
    return [entry.rule.title for entry in loaded.rules]


def problems_for(loaded: LoadedRules, path: Path) -> list[RuleProblem]:
    return [problem for problem in loaded.problems if problem.path == str(path)]


def the_problem(loaded: LoadedRules, path: Path) -> RuleProblem:
    (problem,) = problems_for(loaded, path)
    return problem


def test_one_good_rule_loads_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yml", GOOD)
    loaded = load_rules([tmp_path])
    assert titles(loaded) == ["Good Rule"]
    assert loaded.rules[0].path == path
    assert loaded.rules[0].output
    assert loaded.problems == []
    assert loaded.files == 1
    assert loaded.report().rules == 1


def test_bad_files_and_rules_are_reported_while_the_others_load(tmp_path: Path) -> None:
    write(tmp_path, "a_good.yml", GOOD)
    bad_yaml = write(tmp_path, "b_bad_yaml.yml", "title: x\ndetection: [unclosed\n")
    no_detection = write(
        tmp_path, "c_no_detection.yml", "title: No Detection\nlogsource: {product: windows}\n"
    )
    modifier = write(
        tmp_path,
        "d_modifier.yml",
        rule_doc("Unknown Modifier").replace("EventID: 4688", "CommandLine|nosuchmodifier: x"),
    )
    condition = write(
        tmp_path,
        "e_condition.yml",
        rule_doc("Bad Condition").replace("condition: sel", "condition: sel and other"),
    )
    write(tmp_path, "f_other_good.yaml", rule_doc("Other Good"))

    loaded = load_rules([tmp_path])

    assert titles(loaded) == ["Good Rule", "Other Good"]
    assert "invalid YAML" in the_problem(loaded, bad_yaml).reason
    problem = the_problem(loaded, no_detection)
    assert problem.rule == "No Detection"
    assert "detection" in problem.reason
    problem = the_problem(loaded, modifier)
    assert problem.rule == "Unknown Modifier"
    assert "nosuchmodifier" in problem.reason
    problem = the_problem(loaded, condition)
    assert problem.rule == "Bad Condition"
    assert "other" in problem.reason
    assert len(loaded.problems) == 4
    assert all(problem.reason for problem in loaded.problems)


def test_multi_document_file_loads_every_document(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.yml", rule_doc("First") + "---\n" + rule_doc("Second") + "---\n")
    loaded = load_rules([path])
    assert titles(loaded) == ["First", "Second"]
    assert all(entry.path == path for entry in loaded.rules)


def test_bad_document_in_a_multi_document_file_names_its_number(tmp_path: Path) -> None:
    broken = rule_doc("Broken").replace("condition: sel", "condition: missing")
    path = write(tmp_path, "multi.yml", rule_doc("First") + "---\n" + broken + "---\n- a list\n")
    loaded = load_rules([path])
    assert titles(loaded) == ["First"]
    reasons = sorted(problem.reason for problem in problems_for(loaded, path))
    assert len(reasons) == 2
    assert reasons[0].startswith("document 2: invalid rule")
    assert reasons[1] == "document 3 is a list, not a mapping"


def test_yaml_error_keeps_the_documents_before_it(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.yml", rule_doc("First") + "---\ntitle: [broken\n")
    loaded = load_rules([path])
    assert titles(loaded) == ["First"]
    assert "invalid YAML" in the_problem(loaded, path).reason


def test_global_and_repeat_collection_actions(tmp_path: Path) -> None:
    text = """
    action: global
    title: Shared Title
    level: low
    logsource:
        product: windows
    detection:
        condition: sel
    ---
    logsource:
        service: security
    detection:
        sel:
            EventID: 4688
    level: high
    ---
    action: repeat
    title: Repeated
    logsource:
        service: system
    ---
    action: reset
    ---
    title: After Reset
    logsource:
        product: linux
    detection:
        sel:
            - keyword
        condition: sel
    """
    loaded = load_rules([write(tmp_path, "collection.yml", text)])
    assert loaded.problems == []
    rules = {entry.rule.title: entry.rule for entry in loaded.rules}
    assert sorted(rules) == ["After Reset", "Repeated", "Shared Title"]
    first = rules["Shared Title"]
    assert (first.logsource.product, first.logsource.service) == ("windows", "security")
    assert str(first.level) == "high"  # the document's own value wins over the template
    repeated = rules["Repeated"]
    assert (repeated.logsource.product, repeated.logsource.service) == ("windows", "system")
    assert str(repeated.level) == "high"
    assert rules["After Reset"].level is None


def test_unknown_collection_action_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yml", "action: explode\ntitle: X\n---\n" + rule_doc("Kept"))
    loaded = load_rules([path])
    assert titles(loaded) == ["Kept"]
    assert "unknown Sigma collection action 'explode'" in the_problem(loaded, path).reason


def test_correlation_resolves_and_hides_its_rule(tmp_path: Path) -> None:
    correlation = """
    title: Many Good Rules
    id: 7a9c2b0e-5c3e-4d3e-9e25-2a1f5b7c9d01
    correlation:
        type: event_count
        rules:
            - good_rule
        group-by:
            - Computer
        timespan: 5m
        condition:
            gte: 3
    """
    write(tmp_path, "a.yml", GOOD)
    path = write(tmp_path, "b.yml", correlation)
    loaded = load_rules([tmp_path])
    assert loaded.problems == []
    (entry,) = loaded.correlations
    assert entry.path == path
    assert entry.rule.rules is not None
    assert entry.rule.rules[0].rule is loaded.rules[0].rule
    assert not loaded.rules[0].output  # generate: false by default


def test_correlation_with_missing_references_is_reported(tmp_path: Path) -> None:
    text = """
    title: Dangling
    name: Dangling
    correlation:
        type: event_count
        rules:
            - no_such_rule
        timespan: 5m
        condition:
            gte: 1
    ---
    title: On Top Of Dangling
    name: on_top
    correlation:
        type: event_count
        rules:
            - Dangling
        timespan: 5m
        condition:
            gte: 1
    """
    write(tmp_path, "a.yml", GOOD)
    path = write(tmp_path, "b.yml", text)
    loaded = load_rules([tmp_path])
    assert titles(loaded) == ["Good Rule"]
    assert loaded.correlations == []
    reasons = {problem.rule: problem.reason for problem in problems_for(loaded, path)}
    assert reasons == {
        "Dangling": "refers to rules that are not loaded: no_such_rule",
        "On Top Of Dangling": "refers to rules that are not loaded: Dangling",
    }


def test_correlation_referring_to_a_rejected_rule_is_reported(tmp_path: Path) -> None:
    bad = GOOD.replace("condition: sel", "condition: nothing")
    correlation = """
    title: Needs Good Rule
    correlation:
        type: event_count
        rules: [good_rule]
        timespan: 5m
        condition: {gte: 1}
    """
    write(tmp_path, "a.yml", bad)
    path = write(tmp_path, "b.yml", correlation)
    loaded = load_rules([tmp_path])
    assert loaded.rules == [] and loaded.correlations == []
    assert the_problem(loaded, path).reason == "refers to rules that are not loaded: good_rule"


def test_duplicate_ids_keep_the_first_and_report_the_others(tmp_path: Path) -> None:
    rule_id = "11111111-2222-3333-4444-555555555555"
    first = write(tmp_path, "a.yml", rule_doc("First Copy", rule_id))
    second = write(tmp_path, "b.yml", rule_doc("Second Copy", rule_id))
    loaded = load_rules([tmp_path])
    assert titles(loaded) == ["First Copy"]
    problem = the_problem(loaded, second)
    assert problem.rule == "Second Copy"
    assert rule_id in problem.reason and str(first) in problem.reason


def test_same_file_given_twice_loads_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yml", GOOD)
    loaded = load_rules([tmp_path, path])
    assert titles(loaded) == ["Good Rule"]
    assert loaded.problems == []


def test_file_discovery_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    write(tmp_path, "z/b.yaml", rule_doc("B"))
    write(tmp_path, "a.yml", rule_doc("A"))
    write(tmp_path, "z/c.txt", rule_doc("Not A Rule File"))
    write(tmp_path, ".github/workflows/ci.yml", "on: push\n")
    missing = tmp_path / "missing"
    loaded = load_rules([tmp_path, missing])
    assert titles(loaded) == ["A", "B"]
    assert the_problem(loaded, missing).reason == "no such file or directory"


def test_meta_filter_is_applied_to_the_rules_it_selects(tmp_path: Path) -> None:
    sigma_filter = """
    title: Ignore admin host
    filter:
        rules:
            - good_rule
        selection:
            Computer: ADMIN01
        condition: not selection
    logsource:
        product: windows
        category: process_creation
    """
    write(tmp_path, "a.yml", GOOD)
    path = write(tmp_path, "filter.yml", sigma_filter)
    loaded = load_rules([tmp_path])
    assert loaded.problems == []
    assert [entry.path for entry in loaded.filters] == [path]
    (condition,) = loaded.rules[0].rule.detection.condition
    assert condition.startswith("(sel) and (not _filt_")


def test_translators_see_each_document_and_may_replace_it(tmp_path: Path) -> None:
    seen: list[tuple[str, Path]] = []

    def from_dialect(document: dict[str, Any], path: Path) -> list[dict[str, Any]]:
        seen.append((document["title"], path))
        if document.get("dialect") != "custom":
            return [document]
        return [
            {
                "title": document["title"],
                "logsource": {"product": "windows", "service": "security"},
                "detection": {"sel": {"EventID": document["event"]}, "condition": "sel"},
            }
        ]

    def drop_drafts(document: dict[str, Any], path: Path) -> list[dict[str, Any]]:
        return [] if document["title"].startswith("Draft") else [document]

    path = write(
        tmp_path, "a.yml", "title: Custom\ndialect: custom\nevent: 4624\n---\ntitle: Draft\n---\n" + GOOD
    )
    loaded = load_rules([path], translators=[from_dialect, drop_drafts])
    assert titles(loaded) == ["Custom", "Good Rule"]
    assert seen == [("Custom", path), ("Draft", path), ("Good Rule", path)]
    assert loaded.problems == []


def test_failing_translator_is_reported(tmp_path: Path) -> None:
    def broken(document: dict[str, Any], path: Path) -> list[dict[str, Any]]:
        if document["title"] == "First":
            raise KeyError("dialect")
        return [document]

    path = write(tmp_path, "a.yml", rule_doc("First") + "---\n" + rule_doc("Second"))
    loaded = load_rules([path], translators=[broken])
    assert titles(loaded) == ["Second"]
    problem = the_problem(loaded, path)
    assert problem.rule == "First"
    assert "translator broken failed" in problem.reason


BODY = "logsource: {product: x}\ndetection: {sel: {a: 1}, condition: sel}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: No Logsource\ndetection: {sel: {a: 1}, condition: sel}\n", "log source"),
        (
            "title: Bad Id\nid: not-a-uuid\n" + BODY,
            "UUID",
        ),
        (
            "title: Bad Level\nlevel: extreme\n" + BODY,
            "level",
        ),
        ("title: Dup Key\ntitle: Again\n", "Duplicate key"),
    ],
)
def test_invalid_rules_get_a_clear_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "r.yml", text)
    loaded = load_rules([path])
    assert loaded.rules == []
    assert expected in the_problem(loaded, path).reason


def test_modifier_aliases_are_registered_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(modifier_mapping, "utf16le", raising=False)
    text = rule_doc("Encoded").replace("EventID: 4688", "CommandLine|utf16le|base64offset|contains: net use")
    loaded = load_rules([write(tmp_path, "encoded.yml", text)])
    assert loaded.problems == []
    assert titles(loaded) == ["Encoded"]
