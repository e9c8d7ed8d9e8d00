"""The expand modifier: placeholder files and their substitution before compiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchpost.matching import CompileError, compile_rule_condition
from watchpost.rules.placeholders import (
    PlaceholderFileError,
    load_placeholders,
    resolve_placeholders,
)

from .helpers import event, sigma_rule

RULE = r"""
selection:
    EventID: 4624
    WorkstationName|expand: '%Workstations%'
filter:
    IpAddress|expand: '%Admins_Workstations%'
condition: selection and not filter
"""


def test_load_placeholders_reads_lists_single_values_and_percent_names(tmp_path: Path) -> None:
    path = tmp_path / "placeholders.yml"
    path.write_text(
        "Workstations:\n  - 'WKS-*'\n  - LAPTOP-01\n'%Admins_Workstations%': 10.0.0.5\nPorts: [445, 139]\n",
        encoding="utf-8",
    )
    assert load_placeholders(path) == {
        "Workstations": ["WKS-*", "LAPTOP-01"],
        "Admins_Workstations": ["10.0.0.5"],
        "Ports": ["445", "139"],
    }


def test_empty_placeholder_file_defines_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("", encoding="utf-8")
    assert load_placeholders(path) == {}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("- a\n- b\n", "mapping"),
        ("name: []\n", "no values"),
        ("name:\n  - {a: 1}\n", "not a string or number"),
        ("name: [true]\n", "not a string or number"),
        ("name: [unclosed\n", "cannot read"),
    ],
)
def test_bad_placeholder_files_name_file_and_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PlaceholderFileError, match=reason) as raised:
        load_placeholders(path)
    assert str(path) in str(raised.value)


def test_missing_placeholder_file(tmp_path: Path) -> None:
    with pytest.raises(PlaceholderFileError, match="cannot read"):
        load_placeholders(tmp_path / "missing.yml")


def test_resolved_placeholders_become_or_ed_values_with_wildcards() -> None:
    rule = resolve_placeholders(
        sigma_rule(RULE),
        {"Workstations": ["WKS-*", "LAPTOP-01"], "Admins_Workstations": ["10.0.0.5"]},
    )
    matcher = compile_rule_condition(rule)
    assert matcher.matches(event(EventID=4624, WorkstationName="wks-17", IpAddress="10.0.0.9"))
    assert matcher.matches(event(EventID=4624, WorkstationName="LAPTOP-01", IpAddress="10.0.0.9"))
    assert not matcher.matches(event(EventID=4624, WorkstationName="SRV-1", IpAddress="10.0.0.9"))
    assert not matcher.matches(event(EventID=4624, WorkstationName="wks-1", IpAddress="10.0.0.5"))


def test_unresolved_placeholder_is_a_compile_error_naming_it() -> None:
    rule = resolve_placeholders(sigma_rule(RULE), {"Workstations": ["WKS-*"]})
    with pytest.raises(CompileError, match="%Admins_Workstations%"):
        compile_rule_condition(rule)


def test_placeholder_with_no_values_stays_unresolved() -> None:
    rule = resolve_placeholders(sigma_rule(RULE), {"Workstations": ["x"], "Admins_Workstations": []})
    with pytest.raises(CompileError, match="%Admins_Workstations%"):
        compile_rule_condition(rule)


def test_placeholder_inside_a_longer_value_and_in_a_regex() -> None:
    rule = resolve_placeholders(
        sigma_rule(
            r"""
            selection:
                CommandLine|contains|expand: '\\%userdomain%\'
                User|re|expand: '^%userdomain%\\[a-z]+$'
            condition: selection
            """
        ),
        {"userdomain": ["CORP"]},
    )
    matcher = compile_rule_condition(rule)
    assert matcher.matches(event(CommandLine=r"net use \\corp\share", User="CORP\\alice"))
    assert not matcher.matches(event(CommandLine=r"net use \\corp\share", User="OTHER\\alice"))


def test_no_placeholders_no_change() -> None:
    rule = sigma_rule("selection:\n    A: 1\ncondition: selection\n")
    assert resolve_placeholders(rule, {}) is rule
    assert compile_rule_condition(rule).matches(event(A=1))
