"""Modifiers that change how a value is compared: null, exists, neq, all, re, cidr, gt & co.,
fieldref and the time-part modifiers."""

from __future__ import annotations

import pytest
from sigma.policy.profiles import TrustedPolicy

from watchpost.matching import CompileError, compile_rule_condition

from .helpers import compile_detection, event, field_rule, sigma_rule


def test_null_matches_missing_none_and_empty_list_but_not_empty_string() -> None:
    # spec example: EventID 4738 with PasswordLastSet: null as a filter
    matcher = compile_detection(
        """
        selection:
            EventID: 4738
        filter:
            PasswordLastSet: null
        condition: selection and not filter
        """
    )
    assert matcher.matches(event(EventID=4738, PasswordLastSet="%%1794"))
    assert matcher.matches(event(EventID=4738, PasswordLastSet=""))
    assert not matcher.matches(event(EventID=4738))
    assert not matcher.matches(event(EventID=4738, PasswordLastSet=None))
    assert not matcher.matches(event(EventID=4738, PasswordLastSet=[]))


def test_exists_checks_presence_only() -> None:
    present = field_rule("PasswordLastSet|exists", True)
    absent = field_rule("PasswordLastSet|exists", False)
    for value in ("x", "", None):
        assert present.matches(event(PasswordLastSet=value))
        assert not absent.matches(event(PasswordLastSet=value))
    assert not present.matches(event(Other=1))
    assert absent.matches(event(Other=1))


def test_neq_single_value() -> None:
    matcher = compile_detection(
        """
        selection:
            EventID: 4624
            LogonType|neq: 3
        condition: selection
        """
    )
    assert matcher.matches(event(EventID=4624, LogonType=10))
    assert not matcher.matches(event(EventID=4624, LogonType=3))
    assert not matcher.matches(event(EventID=4624, LogonType="3"))


def test_neq_value_list_means_different_from_all() -> None:
    matcher = field_rule("User|neq", ["SYSTEM", "LOCAL SERVICE"])
    assert matcher.matches(event(User="alice"))
    assert not matcher.matches(event(User="system"))
    assert not matcher.matches(event(User="Local Service"))


def test_neq_on_missing_field_counts_as_different() -> None:
    # pySigma compiles neq to NOT(field = value): like "not filter", a missing field is different
    assert field_rule("User|neq", "SYSTEM").matches(event())


def test_all_with_several_values() -> None:
    # spec keyword example turned into a field: both values must be in the field
    matcher = field_rule("CommandLine|contains|all", ["OabVirtualDirectory", " -ExternalUrl "])
    assert matcher.matches(event(CommandLine="Set-OabVirtualDirectory -ExternalUrl 'x'"))
    assert not matcher.matches(event(CommandLine="Set-OabVirtualDirectory -InternalUrl 'x'"))


def test_all_with_a_single_value() -> None:
    matcher = field_rule("CommandLine|contains|all", ["whoami"])
    assert matcher.matches(event(CommandLine="cmd /c WHOAMI /all"))
    assert not matcher.matches(event(CommandLine="cmd /c hostname"))


def test_re_is_unanchored_and_case_sensitive() -> None:
    matcher = field_rule("CommandLine|re", r"-e(nc|ncodedcommand) [A-Za-z0-9+/=]{20,}")
    assert matcher.matches(event(CommandLine="powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"))
    assert not matcher.matches(event(CommandLine="powershell -ENC SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"))
    assert not matcher.matches(event(CommandLine="powershell -enc short"))


def test_re_anchors_apply_to_the_whole_value() -> None:
    matcher = field_rule("F|re", r"^abc$")
    assert matcher.matches(event(F="abc"))
    assert not matcher.matches(event(F="xabc"))
    assert not matcher.matches(event(F="abc\nx"))


def test_re_i_flag() -> None:
    matcher = field_rule("F|re|i", r"mimikatz")
    assert matcher.matches(event(F="MiMiKaTz.exe"))


def test_re_m_flag() -> None:
    assert field_rule("F|re|m", r"^second$").matches(event(F="first\nsecond\nthird"))
    assert not field_rule("F|re", r"^second$").matches(event(F="first\nsecond\nthird"))


def test_re_s_flag() -> None:
    assert field_rule("F|re|s", r"a.b").matches(event(F="a\nb"))
    assert not field_rule("F|re", r"a.b").matches(event(F="a\nb"))


def test_re_on_numbers_and_lists() -> None:
    assert field_rule("EventID|re", r"^46(88|89)$").matches(event(EventID=4689))
    assert field_rule("F|re", r"x\d").matches(event(F=["a", "x1"]))


@pytest.mark.parametrize("regex", [r"(?<=a)b", r"(a)\1", r"a(?!b)"])
def test_regex_rejected_by_re2_is_a_compile_error_naming_it(regex: str) -> None:
    # pySigma's default policy already refuses these; under TrustedPolicy the compiler must
    rule = sigma_rule(
        f"""
        selection:
            F|re: '{regex}'
        condition: selection
        """,
        policy=TrustedPolicy,
    )
    with pytest.raises(CompileError, match="RE2") as raised:
        compile_rule_condition(rule)
    assert regex in str(raised.value)
    assert "'F'" in str(raised.value)


def test_cidr_ipv4() -> None:
    matcher = field_rule("DestinationIp|cidr", "10.0.0.0/8")  # spec example
    assert matcher.matches(event(DestinationIp="10.1.2.3"))
    assert matcher.matches(event(DestinationIp="::ffff:10.1.2.3"))
    assert not matcher.matches(event(DestinationIp="11.1.2.3"))
    assert not matcher.matches(event(DestinationIp="-"))
    assert not matcher.matches(event(DestinationIp="10.1.2.3.example.org"))


def test_cidr_ipv6_and_lists() -> None:
    matcher = field_rule("DestinationIp|cidr", ["fe80::/10", "192.168.0.0/16"])
    assert matcher.matches(event(DestinationIp="FE80::1"))
    assert matcher.matches(event(DestinationIp="[fe80::abcd]"))
    assert matcher.matches(event(DestinationIp="192.168.10.1"))
    assert not matcher.matches(event(DestinationIp="2001:db8::1"))
    assert matcher.matches(event(DestinationIp=["8.8.8.8", "192.168.1.1"]))


@pytest.mark.parametrize(
    ("modifier", "value", "field", "expected"),
    [
        ("gt", 5, 6, True),
        ("gt", 5, 5, False),
        ("gte", 5, 5, True),
        ("lt", 5, 4.5, True),
        ("lt", 5, 5, False),
        ("lte", 5, 5, True),
        ("gt", 5, "10", True),  # numeric string: compared as a number, not as text
        ("gt", 5, " 10 ", True),
        ("lt", 5, "10", False),
        ("gt", 1.5, "1.75", True),
        ("gt", 16, "0x11", True),
        ("gt", 5, "ten", False),
        ("gt", 5, "", False),
        ("gt", 0, True, False),
        ("gt", 5, None, False),
        ("gt", 5, [1, 7], True),
        ("lt", 5, [7, 9], False),
    ],
)
def test_numeric_comparisons(modifier: str, value: float, field: object, expected: bool) -> None:
    assert field_rule(f"Count|{modifier}", value).matches(event(Count=field)) is expected


def test_fieldref_equality_is_case_insensitive() -> None:
    matcher = field_rule("SubjectUserName|fieldref", "TargetUserName")
    assert matcher.matches(event(SubjectUserName="Alice", TargetUserName="ALICE"))
    assert not matcher.matches(event(SubjectUserName="Alice", TargetUserName="bob"))
    assert not matcher.matches(event(SubjectUserName="Alice"))
    assert not matcher.matches(event(SubjectUserName=None, TargetUserName=None))


@pytest.mark.parametrize(
    ("modifiers", "value", "reference", "expected"),
    [
        ("startswith", r"C:\Temp\evil.exe", r"c:\temp", True),
        ("startswith", r"D:\Temp\evil.exe", r"c:\temp", False),
        ("endswith", r"C:\Temp\evil.exe", "EVIL.EXE", True),
        ("endswith", r"C:\Temp\evil.exe.txt", "evil.exe", False),
        ("contains", r"C:\Temp\evil.exe", "temp", True),
        ("contains", r"C:\Temp\evil.exe", "windows", False),
    ],
)
def test_fieldref_with_string_modifiers(
    modifiers: str, value: str, reference: str, expected: bool
) -> None:
    matcher = field_rule(f"Image|fieldref|{modifiers}", "Other")
    assert matcher.matches(event(Image=value, Other=reference)) is expected


def test_fieldref_with_neq_and_numbers() -> None:
    matcher = field_rule("ProcessId|fieldref|neq", "ParentProcessId")
    assert matcher.matches(event(ProcessId=10, ParentProcessId=11))
    assert not matcher.matches(event(ProcessId=10, ParentProcessId="10"))


@pytest.mark.parametrize(
    ("modifier", "value"),
    [("minute", 45), ("hour", 13), ("day", 6), ("week", 19), ("month", 5), ("year", 2024)],
)
def test_time_parts_of_a_timestamp_field(modifier: str, value: int) -> None:
    # 2024-05-06 is a Monday in ISO week 19
    matcher = field_rule(f"UtcTime|{modifier}", value)
    assert matcher.matches(event(UtcTime="2024-05-06 13:45:10.123"))
    assert matcher.matches(event(UtcTime="2024-05-06T13:45:10.1234567Z"))
    assert not matcher.matches(event(UtcTime="2023-04-05 12:44:10.123"))
    assert not matcher.matches(event(UtcTime="not a date"))
    assert not matcher.matches(event())


def test_time_part_keeps_the_written_time_zone() -> None:
    # "not designed to handle timezone conversions": 23:30-05:00 is hour 23 as written
    assert field_rule("T|hour", 23).matches(event(T="2024-05-06T23:30:00-05:00"))


def test_time_part_from_epoch_numbers() -> None:
    # 1715003110 s after the epoch is 2024-05-06T13:45:10Z; milliseconds are recognised by size
    assert field_rule("T|hour", 13).matches(event(T=1715003110))
    assert field_rule("T|hour", 13).matches(event(T=1715003110123))
    assert not field_rule("T|hour", 11).matches(event(T=1715003110))


def test_time_part_with_comparison() -> None:
    matcher = field_rule("UtcTime|hour|gte", 20)
    assert matcher.matches(event(UtcTime="2024-05-06 21:00:00"))
    assert not matcher.matches(event(UtcTime="2024-05-06 08:00:00"))
