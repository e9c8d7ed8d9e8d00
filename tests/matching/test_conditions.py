"""Condition forms: and/or/not, brackets, 1 of / all of patterns and them, condition lists,
keyword searches."""

from __future__ import annotations

import pytest
import yaml

from watchpost.matching import CompileError, compile_rule_condition

from .helpers import compile_detection, event, sigma_rule


def test_map_items_are_and_list_items_are_or() -> None:
    # spec example: EventLog Security and (EventID 517 or 1102)
    matcher = compile_detection(
        """
        selection:
            EventLog: Security
            EventID:
                - 517
                - 1102
        condition: selection
        """
    )
    assert matcher.matches(event(EventLog="Security", EventID=1102))
    assert not matcher.matches(event(EventLog="Security", EventID=4624))
    assert not matcher.matches(event(EventLog="System", EventID=517))


def test_list_of_maps_is_or() -> None:
    matcher = compile_detection(
        r"""
        selection:
            - Image|endswith: '\example.exe'
            - Description|contains: 'Test executable'
        condition: selection
        """
    )
    assert matcher.matches(event(Image=r"C:\x\example.exe"))
    assert matcher.matches(event(Description="A test executable file"))
    assert not matcher.matches(event(Image=r"C:\x\other.exe", Description="other"))


DETECTIONS = """
selection_img:
    Image|endswith: '\\net.exe'
selection_cli:
    CommandLine|contains: ' use'
filter_main:
    User: SYSTEM
filter_optional:
    ParentImage|endswith: '\\explorer.exe'
"""


@pytest.mark.parametrize(
    ("condition", "fields", "expected"),
    [
        ("1 of selection_*", {"Image": r"C:\net.exe"}, True),
        ("1 of selection_*", {"CommandLine": "x use y"}, True),
        ("1 of selection_*", {"Image": "cmd.exe"}, False),
        ("all of selection_*", {"Image": r"C:\net.exe"}, False),
        ("all of selection_*", {"Image": r"C:\net.exe", "CommandLine": "net use"}, True),
        ("any of filter_*", {"User": "system"}, True),
        (
            "all of selection_* and not 1 of filter_*",
            {"Image": r"C:\net.exe", "CommandLine": "net use", "User": "bob"},
            True,
        ),
        (
            "all of selection_* and not 1 of filter_*",
            {"Image": r"C:\net.exe", "CommandLine": "net use", "User": "System"},
            False,
        ),
        ("1 of them", {"ParentImage": r"C:\explorer.exe"}, True),
        ("all of them", {"Image": r"C:\net.exe", "CommandLine": "net use", "User": "x"}, False),
        (
            "all of them",
            {
                "Image": r"C:\net.exe",
                "CommandLine": "net use",
                "User": "system",
                "ParentImage": r"C:\explorer.exe",
            },
            True,
        ),
    ],
)
def test_selectors(condition: str, fields: dict[str, str], expected: bool) -> None:
    matcher = compile_detection(DETECTIONS + f"condition: {condition}\n")
    assert matcher.matches(event(**fields)) is expected


def test_them_excludes_underscore_identifiers() -> None:
    matcher = compile_detection(
        """
        selection:
            A: 1
        _helper:
            B: 2
        condition: all of them
        """
    )
    assert matcher.matches(event(A=1))


@pytest.mark.parametrize(
    ("condition", "a", "b", "c", "expected"),
    [
        ("a and not b", True, False, False, True),
        ("a and not b", True, True, False, False),
        ("not (a or b)", False, False, True, True),
        ("not (a or b)", True, False, True, False),
        ("not not a", True, False, False, True),
        ("not (a and not (b or not c))", True, False, True, False),
        ("not (a and not (b or not c))", True, False, False, True),
        ("not (a and not (b or not c))", False, False, False, True),
        ("a or b and c", True, False, False, True),  # and binds tighter than or
        ("(a or b) and c", True, False, False, False),
    ],
)
def test_nested_not_and_precedence(condition: str, a: bool, b: bool, c: bool, expected: bool) -> None:
    matcher = compile_detection(
        f"""
        a:
            A: 'yes'
        b:
            B: 'yes'
        c:
            C: 'yes'
        condition: {condition}
        """
    )
    fields = {name: "yes" if flag else "no" for name, flag in (("A", a), ("B", b), ("C", c))}
    assert matcher.matches(event(**fields)) is expected


def test_condition_list_is_or() -> None:
    matcher = compile_detection(
        """
        a:
            A: 1
        b:
            B: 2
        condition:
            - a
            - b
        """
    )
    assert matcher.matches(event(A=1))
    assert matcher.matches(event(B=2))
    assert not matcher.matches(event(A=2, B=1))


def test_keyword_search_any_field_any_value() -> None:
    # spec example: "event::clear" or "event::drop" anywhere in the event
    matcher = compile_detection(
        """
        mimikatz_keywords:
            - 'event::clear'
            - 'event::drop'
        condition: mimikatz_keywords
        """
    )
    assert matcher.matches(event(CommandLine="mimikatz EVENT::CLEAR"))
    assert matcher.matches(event(Payload="event::drop"))
    assert not matcher.matches(event(CommandLine="mimikatz x", Other="event::clea"))


def test_keyword_with_all_needs_every_keyword_in_some_field() -> None:
    # spec example: OabVirtualDirectory and ' -ExternalUrl '
    matcher = compile_detection(
        """
        keywords_cmdlet:
            '|all':
                - 'OabVirtualDirectory'
                - ' -ExternalUrl '
        condition: keywords_cmdlet
        """
    )
    assert matcher.matches(event(Cmd="Set-OabVirtualDirectory -ExternalUrl x"))
    assert matcher.matches(event(A="OabVirtualDirectory", B="y -ExternalUrl z"))
    assert not matcher.matches(event(A="OabVirtualDirectory"))


def test_keywords_occur_anywhere_keep_inner_wildcards_and_see_all_value_types() -> None:
    matcher = compile_detection(
        """
        keywords:
            - 'evil?.ps1'
            - 4688
        condition: keywords
        """
    )
    assert matcher.matches(event(Path="c:\\x\\EVIL1.PS1 -arg"))
    assert not matcher.matches(event(Path="c:\\x\\evil.ps1"))
    assert matcher.matches(event(EventID=4688))
    assert matcher.matches(event(Message="process 4688 created"))
    assert matcher.matches(event(Ids=[1, 4688]))
    assert not matcher.matches(event(EventID=4689, Empty=None))
    assert matcher.matches(event(Path=["a", "b/evil2.ps1"]))


def test_keyword_does_not_span_two_fields() -> None:
    matcher = compile_detection(
        """
        keywords:
            - 'net use'
        condition: keywords
        """
    )
    assert matcher.matches(event(A="x NET USE y"))
    assert not matcher.matches(event(A="net", B="use"))
    assert not matcher.matches(event(A=["net", "use"]))


@pytest.mark.parametrize("keyword", ["net*use", "net?use", "net\nuse"])
def test_keywords_with_wildcards_or_line_breaks_stay_within_one_field(keyword: str) -> None:
    matcher = compile_detection(yaml.safe_dump({"keywords": [keyword], "condition": "keywords"}))
    assert not matcher.matches(event(A="net", B="use"))
    assert not matcher.matches(event(A="x net", B="use x"))
    assert matcher.matches(event(A="a", B="net\nuse"))


def test_keyword_regex() -> None:
    matcher = compile_detection(
        """
        keywords:
            '|re': 'Invoke-[A-Z][a-z]+'
        condition: keywords
        """
    )
    assert matcher.matches(event(Script="x Invoke-Mimikatz"))
    assert not matcher.matches(event(Script="x invoke-mimikatz"))


def test_keywords_combined_with_fields() -> None:
    matcher = compile_detection(
        """
        selection:
            EventID: 7045
        keywords:
            - 'mimikatz'
        condition: selection and keywords
        """
    )
    assert matcher.matches(event(EventID=7045, ServiceName="Mimikatz driver"))
    assert not matcher.matches(event(EventID=7045, ServiceName="x"))
    assert not matcher.matches(event(EventID=1, ServiceName="mimikatz"))


def test_field_only_types_in_keyword_search_are_compile_errors() -> None:
    rule = sigma_rule(
        """
        keywords:
            '|cidr': '10.0.0.0/8'
        condition: keywords
        """
    )
    with pytest.raises(CompileError, match="keyword search"):
        compile_rule_condition(rule)
