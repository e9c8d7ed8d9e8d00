"""What a compiled matcher tells the rule index: required equalities, fields, keyword use."""

from __future__ import annotations

from .helpers import compile_detection, event


def test_top_level_and_equalities_are_required() -> None:
    matcher = compile_detection(
        """
        selection:
            Channel: Security
            EventID:
                - 4688
                - '4689'
            CommandLine|contains: 'net'
        condition: selection
        """
    )
    assert matcher.required_equalities() == {
        "Channel": frozenset({"security"}),
        "EventID": frozenset({"4688", "4689"}),
    }


def test_or_requires_only_fields_every_alternative_requires() -> None:
    matcher = compile_detection(
        """
        first:
            EventID: 1
            Image|endswith: '\\\\net.exe'
        second:
            EventID: 4688
            Channel: Security
        condition: first or second
        """
    )
    assert matcher.required_equalities() == {"EventID": frozenset({"1", "4688"})}


def test_negated_equalities_are_not_required() -> None:
    matcher = compile_detection(
        """
        selection:
            EventID: 1
        filter:
            User: SYSTEM
        condition: selection and not filter
        """
    )
    assert matcher.required_equalities() == {"EventID": frozenset({"1"})}


def test_wildcards_and_other_value_types_are_not_equalities() -> None:
    matcher = compile_detection(
        """
        selection:
            Channel: 'Microsoft-Windows-*'
            Count|gt: 3
            Enabled: true
        condition: selection
        """
    )
    assert matcher.required_equalities() == {"Enabled": frozenset({"true"})}


def test_cased_equalities_are_reported_lower_cased() -> None:
    matcher = compile_detection(
        """
        selection:
            Channel|cased: Security
        condition: selection
        """
    )
    assert matcher.required_equalities() == {"Channel": frozenset({"security"})}


def test_and_of_two_equalities_on_one_field_keeps_one_set() -> None:
    # a multi-valued field can satisfy both: requiring their intersection would lose this event
    matcher = compile_detection(
        """
        selection:
            Tags|all:
                - a
                - b
        condition: selection
        """
    )
    assert matcher.matches(event(Tags=["a", "b"]))
    required = matcher.required_equalities()
    assert required["Tags"] in (frozenset({"a"}), frozenset({"b"}))


def test_condition_list_requires_common_fields_only() -> None:
    matcher = compile_detection(
        """
        a:
            EventID: 1
            Channel: Security
        b:
            EventID: 2
        condition:
            - a
            - b
        """
    )
    assert matcher.required_equalities() == {"EventID": frozenset({"1", "2"})}


def test_referenced_fields_and_keyword_flag() -> None:
    matcher = compile_detection(
        """
        selection:
            EventID: 1
            Image|fieldref: ParentImage
        keywords:
            - evil
        condition: selection and not keywords
        """
    )
    assert matcher.referenced_fields() == frozenset({"EventID", "Image", "ParentImage"})
    assert matcher.searches_keywords()
    plain = compile_detection("selection:\n    EventID: 1\ncondition: selection\n")
    assert not plain.searches_keywords()
