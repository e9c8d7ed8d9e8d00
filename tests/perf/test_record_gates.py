"""Text gates skip only records no rule can match: same matches with and without them."""

from __future__ import annotations

from pathlib import Path

import pytest
import re2

from tests.conftest import SHARED
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.hunting.record_gates import _pattern, json_text, searchable_literals, text_gates
from watchpost.hunting.source_hunts import SourceMatcher
from watchpost.problems import ProblemLog
from watchpost.readers.archive import iter_sources

EVTX = SHARED / "samples" / "windows" / "evtx"
REGRESSION = SHARED / "sigma" / "regression_data"
PROCESS_CREATION = SHARED / "sigma" / "rules" / "windows" / "process_creation"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("netstat", "netstat"),
        ("\\net.exe", "\\\\net.exe"),
        ('say "hi"', 'say \\"hi\\"'),
        ("4688", None),  # number characters only: a float may be written otherwise in JSON
        ("1.5e-7", None),
        ("caf\u00e9", None),  # not ASCII
        ("a\tb", None),  # a control character: escaped in JSON
        ("", None),
    ],
)
def test_literals_in_their_json_form(literal: str, expected: str | None) -> None:
    assert json_text(literal) == expected


def test_a_variant_without_a_searchable_set_gets_no_gate() -> None:
    assert searchable_literals(()) is None
    assert searchable_literals((frozenset({("LogonType", "3")}),)) is None
    found = searchable_literals((frozenset({("LogonType", "3")}), frozenset({("Image", "\\net.exe")})))
    assert found == frozenset({"\\\\net.exe"})


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("netstat", "NETSTAT -ano"),
        ("klist", "\u212aLIST"),  # Kelvin sign lowers to k
        ("get-wmi", "GET-WM\u0130OBJECT"),  # dotted capital I lowers to i + U+0307
        ("c:\\\\windows", "C:\\\\Windows"),
    ],
)
def test_patterns_find_every_text_whose_lower_case_holds_the_literal(literal: str, text: str) -> None:
    unescaped = literal.replace("\\\\", "\\")
    assert unescaped in text.replace("\\\\", "\\").lower()
    assert re2.compile("(?i)" + _pattern(literal)).search(text)


def test_patterns_do_not_find_other_text() -> None:
    assert not re2.compile("(?i)" + _pattern("netstat")).search("net stat")
    assert not re2.compile("(?i)" + _pattern("get-wmi")).search("get-wmx")


def matches_with_and_without_gates(rules: list[Path]) -> tuple[int, int]:
    hunt = Hunt(HuntOptions(rules=rules))
    gated = SourceMatcher(hunt.ruleset, None, None, None)
    plain = SourceMatcher(hunt.ruleset, None, None, None)
    plain.admitted = None
    assert gated.admitted is not None
    skipped = matched = 0
    for source in iter_sources([EVTX, REGRESSION], ProblemLog()):
        fast, slow = gated.run(0, source), plain.run(0, source)
        assert fast.events == slow.events, source.name
        assert fast.matches == slow.matches, source.name
        assert [(n, e.origin) for *_, n, e in fast.found if e is not None] == [
            (n, e.origin) for *_, n, e in slow.found if e is not None]
        skipped += fast.events - len(list(gated.events(source, ProblemLog())[0]))
        matched += slow.matches
    return skipped, matched


def test_the_pack_matches_the_same_records_with_gates() -> None:
    skipped, matched = matches_with_and_without_gates([])
    assert matched > 0 and skipped > 0


@pytest.mark.parametrize("pattern", ["proc_creation_win_*net*.yml", "proc_creation_win_w*.yml"])
def test_sigmahq_process_creation_rules_match_the_same_records_with_gates(pattern: str) -> None:
    rules = sorted(PROCESS_CREATION.glob(pattern))
    hunt = Hunt(HuntOptions(rules=rules))
    gates = text_gates(hunt.ruleset.index)
    assert gates("microsoft-windows-sysmon/operational", "1") is not None  # gated, not decoded whole
    assert gates("security", "4688") is not None
    skipped, matched = matches_with_and_without_gates(rules)
    assert matched > 10 and skipped > 0
