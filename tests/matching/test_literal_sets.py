"""The prefilter's literal sets: every part of an AND states its own, and the prefilter keeps a
variant only when all of them are met - never dropping an event the matcher matches."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.matching.helpers import compile_detection, event
from watchpost.events import Event
from watchpost.matching import RuleMatcher
from watchpost.matching.keyword_search import ANY_FIELD
from watchpost.matching.literal_prefilter import LiteralPrefilter
from watchpost.matching.nodes import literal_selectivity

DETECTION = """
sel_image: {Image|endswith: ['\\\\tool.exe', '\\\\other.exe']}
sel_cmd: {CommandLine|contains: ['--dump', '--steal']}
sel_parent: {ParentImage|re: '(?i)\\\\(?:cmd|pwsh)\\.exe$'}
filter: {User: 'SYSTEM'}
condition: all of sel_* and not filter
"""


def requirement(matcher: RuleMatcher) -> list[frozenset[tuple[str, str]]]:
    """As the rule index orders it: the most selective set first."""
    sets = matcher.required_literal_sets(frozenset({"Channel", "EventID"}))
    if not sets:
        return []
    first = max(sets, key=literal_selectivity)
    return [first, *(s for s in sets if s is not first)]


def passes(prefilter: LiteralPrefilter, item: Event) -> bool:
    return 0 in prefilter.passing(item, prefilter.fields_for([0]), frozenset({0}))


def test_every_and_part_with_literals_states_a_set() -> None:
    sets = compile_detection(DETECTION).required_literal_sets()
    assert set(sets) == {
        frozenset({("Image", "\\tool.exe"), ("Image", "\\other.exe")}),
        frozenset({("CommandLine", "--dump"), ("CommandLine", "--steal")}),
        frozenset({("ParentImage", ".exe")}),  # the regex's most selective run
    }
    single = compile_detection("sel: {Image|endswith: '\\\\x.exe'}\ncondition: sel\n")
    assert single.required_literal_sets() == (frozenset({("Image", "\\x.exe")}),)
    assert compile_detection("sel: {Image|re: '.'}\ncondition: sel\n").required_literal_sets() == ()


def test_a_variant_missing_one_set_is_dropped_and_a_match_is_kept() -> None:
    matcher = compile_detection(DETECTION)
    prefilter = LiteralPrefilter([requirement(matcher)])
    hit = event(Image="C:\\T\\TOOL.EXE", CommandLine="tool --DUMP x", ParentImage="C:\\W\\Cmd.exe",
                User="bob")
    assert matcher.matches(hit) and passes(prefilter, hit)
    for field, value in (("CommandLine", "tool --list"), ("ParentImage", "C:\\W\\cmd.com")):
        miss = event(**{**hit.fields, field: value})
        assert not passes(prefilter, miss) and not matcher.matches(miss)


def test_other_sets_are_met_in_lists_and_keywords_in_any_field() -> None:
    matcher = compile_detection(DETECTION.replace("condition: all of sel_*", "keywords: ['mimi', 'kiwi']\n"
                                                  "condition: keywords and all of sel_*"))
    prefilter = LiteralPrefilter([requirement(matcher)])
    hit = event(Image="C:\\T\\TOOL.EXE", CommandLine=[7, None, "tool --DUMP x"],
                ParentImage=["C:\\W\\Cmd.exe"], Other=["a", "MIMI"])
    assert matcher.matches(hit) and passes(prefilter, hit)
    miss = event(**{**hit.fields, "Other": ["a", 5]})
    assert not matcher.matches(miss) and not passes(prefilter, miss)


words = st.sampled_from(["--dump", "--DUMP", "--steal", "\\tool.exe", "\\TOOL.EXE", "\\other.exe",
                         "\\cmd.exe", "\\PWSH.exe", "mimi", "kiwi", "x", ""])
texts = st.lists(words, max_size=3).map("".join)
elements = st.one_of(texts, st.none(), st.integers(0, 9))
values: st.SearchStrategy[Any] = st.one_of(
    texts, st.lists(elements, max_size=3), st.integers(0, 99), st.none(), st.booleans()
)
FIELDS = ("Image", "CommandLine", "ParentImage", "User", "Other")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), values), st.sampled_from(["", "kw"]))
def test_the_prefilter_never_drops_a_match(fields: dict[str, Any], keywords: str) -> None:
    detection = DETECTION
    if keywords:
        detection = detection.replace("condition: all of sel_*", "keywords: ['mimi', 'kiwi']\n"
                                      "condition: keywords and all of sel_*")
    matcher = compile_detection(detection)
    sets = requirement(matcher)
    assert len(sets) == (4 if keywords else 3)
    assert any(field == ANY_FIELD for literals in sets for field, _ in literals) == bool(keywords)
    item = event(**fields)
    prefilter = LiteralPrefilter([sets])
    if matcher.matches(item):
        assert passes(prefilter, item), fields


def test_an_or_of_ands_states_one_set_per_combination_of_its_branches_sets() -> None:
    matcher = compile_detection("""
    sel_1:
        Image|contains: '\\\\windows\\\\'
        CommandLine|contains: ['\\\\..\\\\windows\\\\', '\\\\..\\\\..\\\\']
    sel_2: {CommandLine|contains: '.exe\\\\..\\\\'}
    filter: {CommandLine|contains: '\\\\google\\\\'}
    condition: 1 of sel_* and not filter
    """)
    assert set(matcher.required_literal_sets()) == {
        frozenset({("Image", "\\windows\\"), ("CommandLine", ".exe\\..\\")}),
        frozenset({("CommandLine", "\\..\\windows\\"), ("CommandLine", "\\..\\..\\"),
                   ("CommandLine", ".exe\\..\\")}),
    }
    prefilter = LiteralPrefilter([requirement(matcher)])
    common = event(Image="C:\\Windows\\System32\\cmd.exe", CommandLine="cmd /c dir")
    assert not passes(prefilter, common) and not matcher.matches(common)
    hits = (event(Image="C:\\Windows\\x.exe", CommandLine="a\\..\\..\\b"), event(CommandLine="A.EXE\\..\\b"))
    for hit in hits:
        assert matcher.matches(hit) and passes(prefilter, hit)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), values), min_size=2, max_size=10), st.integers(1, 4))
@example([{"Image": "ab\\tool.exe"}, {"Image": "ab\\other.exe"}, {"Image": "ab\\x.exe"}], 2)
def test_remembered_literals_of_a_value_are_those_searched_afresh(
    sequence: list[dict[str, Any]], remembered: int
) -> None:
    import watchpost.matching.literal_prefilter as module

    sets = requirement(compile_detection(DETECTION))
    remembering = LiteralPrefilter([sets])
    scans = remembering.fields_for([0])
    saved = module.REMEMBERED_VALUES
    module.REMEMBERED_VALUES = remembered
    try:
        for fields in sequence:
            afresh = LiteralPrefilter([sets]).literals_in(event(**fields), scans)
            assert remembering.literals_in(event(**fields), scans) == afresh
            assert len(remembering.found) <= remembered
    finally:
        module.REMEMBERED_VALUES = saved
