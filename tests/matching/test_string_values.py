"""Plain Sigma string, number and boolean values: case, wildcards, escaping, value types."""

from __future__ import annotations

import pytest

from watchpost.matching import CompileError

from .helpers import compile_detection, event, field_rule


def test_strings_are_case_insensitive_by_default() -> None:
    matcher = field_rule("Image", r"C:\Windows\System32\whoami.exe")
    assert matcher.matches(event(Image=r"c:\windows\system32\WHOAMI.EXE"))
    assert not matcher.matches(event(Image=r"C:\Windows\System32\whoami.exe.bak"))


def test_cased_modifier_matches_case_sensitively() -> None:
    matcher = field_rule("CommandLine|cased", "Invoke-Mimikatz")
    assert matcher.matches(event(CommandLine="Invoke-Mimikatz"))
    assert not matcher.matches(event(CommandLine="invoke-mimikatz"))


def test_cased_with_contains_and_wildcards() -> None:
    matcher = field_rule("CommandLine|cased|contains", "Mimi?atz")
    assert matcher.matches(event(CommandLine="x Mimikatz y"))
    assert not matcher.matches(event(CommandLine="x MIMIKATZ y"))


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("prog?.exe", "progA.exe", True),  # spec example: ? is one mandatory character
        ("prog?.exe", "prog.exe", False),
        ("prog?.exe", "progAB.exe", False),
        ("antivirus_V*.exe", "antivirus_V21.2.1.exe", True),  # spec example for *
        ("antivirus_V*.exe", "antivirus_V.exe", True),  # * may be empty
        ("antivirus_V*.exe", "antivirus_V1.exe.txt", False),
        ("a*b*c", "a-b-c", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("a*b*c", "ab", False),
        ("ab*ba", "aba", False),  # prefix and suffix must not overlap
        ("ab*ba", "abba", True),
        ("*", "", True),
        ("*", "anything", True),
        ("?", "", False),
        ("?", "x", True),
        ("a*", "a\nb", True),  # * spans line breaks
        ("a?c", "a\nc", True),
    ],
)
def test_wildcards(value: str, text: str, expected: bool) -> None:
    assert field_rule("F", value).matches(event(F=text)) is expected


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        # spec escaping section: \* and \? are plain characters
        (r"a\*b", "a*b", True),
        (r"a\*b", "axxb", False),
        (r"a\?b", "a?b", True),
        (r"a\?b", "axb", False),
        # \\* is a plain backslash followed by a wildcard
        (r"C:\\*", "C:\\Windows", True),
        (r"C:\\*", "C:Windows", False),
        # three backslashes: plain backslash and plain star
        (r"a\\\*", "a\\*", True),
        (r"a\\\*", "a\\x", False),
        # a backslash not followed by a wildcard is plain, written single or double
        (r"C:\Windows", "C:\\Windows", True),
        (r"C:\\Windows", "C:\\Windows", True),
        # four backslashes: two plain backslashes
        (r"\\\\server", "\\\\server", True),
    ],
)
def test_escaping(value: str, text: str, expected: bool) -> None:
    assert field_rule("F", value).matches(event(F=text)) is expected


def test_contains_startswith_endswith() -> None:
    assert field_rule("F|contains", "net use").matches(event(F="cmd /c NET USE x"))
    assert not field_rule("F|contains", "net use").matches(event(F="cmd /c net  use"))
    assert field_rule("F|startswith", "adm").matches(event(F="Administrator"))
    assert not field_rule("F|startswith", "adm").matches(event(F="sysadm"))
    assert field_rule("F|endswith", r"\cmd.exe").matches(event(F=r"C:\Windows\CMD.exe"))
    assert not field_rule("F|endswith", r"\cmd.exe").matches(event(F="cmd.exe"))


def test_contains_keeps_inner_wildcards() -> None:
    matcher = field_rule("F|contains", "a?c")
    assert matcher.matches(event(F="xxabcxx"))
    assert not matcher.matches(event(F="xxacxx"))


def test_empty_string_matches_only_an_empty_value() -> None:
    matcher = field_rule("F", "")
    assert matcher.matches(event(F=""))
    assert not matcher.matches(event(F=" "))
    assert not matcher.matches(event(F=None))
    assert not matcher.matches(event())


def test_number_value_matches_numeric_and_string_fields() -> None:
    matcher = field_rule("EventID", 4688)
    assert matcher.matches(event(EventID=4688))
    assert matcher.matches(event(EventID="4688"))
    assert matcher.matches(event(EventID=4688.0))
    assert not matcher.matches(event(EventID=4689))
    assert not matcher.matches(event(EventID="04688x"))


def test_string_value_matches_number_field_by_its_text() -> None:
    matcher = field_rule("EventID", "4688")
    assert matcher.matches(event(EventID=4688))
    assert field_rule("Level", "4*").matches(event(Level=42))
    assert field_rule("Ratio", "1.5").matches(event(Ratio=1.5))


def test_float_value() -> None:
    assert field_rule("Ratio", 1.5).matches(event(Ratio="1.5"))
    assert not field_rule("Ratio", 1.5).matches(event(Ratio=1.25))


def test_boolean_values() -> None:
    matcher = field_rule("Enabled", True)
    assert matcher.matches(event(Enabled=True))
    assert matcher.matches(event(Enabled="True"))
    assert not matcher.matches(event(Enabled=False))
    assert not matcher.matches(event(Enabled=1))
    assert field_rule("Enabled", "false").matches(event(Enabled=False))


def test_multi_valued_field_matches_if_any_element_matches() -> None:
    matcher = field_rule("Tags|contains", "admin")
    assert matcher.matches(event(Tags=["user", "Domain ADMINS"]))
    assert not matcher.matches(event(Tags=["user", "guest"]))
    assert not matcher.matches(event(Tags=[]))
    assert field_rule("Ports", 445).matches(event(Ports=[139, 445]))
    assert field_rule("Ports", 445).matches(event(Ports=[None, "445"]))


def test_missing_or_none_field_matches_no_string() -> None:
    matcher = field_rule("F|contains", "")
    assert matcher.matches(event(F="x"))
    assert not matcher.matches(event(F=None))
    assert not matcher.matches(event(G="x"))


def test_value_list_is_or_and_merges_kinds() -> None:
    values = ["exact", "pre*", "*suf", "*mid*", "a*b*c", "q?q", 7, True]
    matcher = field_rule("F", values)
    for text in ["EXACT", "prefix", "the suf", "amidb", "a1b2c", "qxq", "7", "true"]:
        assert matcher.matches(event(F=text)), text
    for text in ["exactly", "apre", "sufx", "mi", "a1c2b", "qq", "77", "truex"]:
        assert not matcher.matches(event(F=text)), text


@pytest.mark.parametrize("count", [1, 3, 8, 9, 40])
def test_long_contains_lists(count: int) -> None:
    needles = [f"needle{index:03d}." for index in range(count)]
    matcher = field_rule("CommandLine|contains", needles)
    for needle in needles:
        assert matcher.matches(event(CommandLine=f"x {needle.upper()} y"))
    assert not matcher.matches(event(CommandLine="needle999. needle00"))
    assert not matcher.matches(event(CommandLine="needle000 needle001"))


def test_contains_needles_with_regex_characters_are_literal() -> None:
    needles = [f"a.b({index})|[x]*" for index in range(12)]
    matcher = field_rule("F|contains", needles)
    assert matcher.matches(event(F="zz a.b(11)|[x]* zz"))
    assert not matcher.matches(event(F="zz aXb(11)|[x]* zz"))


def test_non_ascii_case_folding() -> None:
    matcher = field_rule("F|contains", "ÄRGER")
    assert matcher.matches(event(F="großer ärger"))


def test_all_of_the_same_field_contains() -> None:
    matcher = compile_detection(
        """
        selection:
            CommandLine|contains|all:
                - 'net'
                - ' use'
        condition: selection
        """
    )
    assert matcher.matches(event(CommandLine="net.exe use \\\\host"))
    assert not matcher.matches(event(CommandLine="net.exe view"))


def test_unknown_value_type_is_a_compile_error() -> None:
    from sigma.types import SigmaQueryExpression

    from watchpost.matching.compiler import compile_field_value

    with pytest.raises(CompileError, match="SigmaQueryExpression"):
        compile_field_value("F", SigmaQueryExpression("lookup({field})", "id"))
