"""Property tests: the literals the prefilter relies on occur in every text or event that matches.

`required_regex_literals` (regular expressions), wildcard values and keyword searches all state
literals one of which a match must contain; if they were wrong, the prefilter would drop a match.
Each property is checked against the real matcher (RE2, the compiled nodes).
"""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sigma.types import SigmaString, SpecialChars

from tests.matching.helpers import compile_detection, event
from watchpost.matching.keyword_search import ANY_FIELD, lowered_joined
from watchpost.matching.regex_literals import required_regex_literals
from watchpost.matching.string_patterns import (
    PatternKind,
    length_search,
    pattern_from_string,
    required_texts,
)

# Letters that overlap often, case pairs, characters RE2 folds specially under (?i) (long s, Kelvin
# sign), non-ASCII letters whose lower-case form differs or is longer, and metacharacters.
TEXT_ALPHABET = "abcsSkK\u017f\u212a\u0130\u00e4\u00c4.-\\{},\n "

letters = st.sampled_from(list("abcsSkK"))
atoms = st.one_of(
    letters, letters, letters,
    st.sampled_from(["\u017f", "\u212a", "\u00e4", "\\.", "\\\\", "\\-", "\\{", ".", "\\d", "\\w",
                     "\\s", "\\x41", "[a-c]", "[^s]", "[]a]", "\\b", "^", "$", "{,2}", "\\pL"]),
)
quantifiers = st.sampled_from(["", "", "", "", "*", "+", "?", "{2}", "{0,1}", "{1,}", "+?", "*?"])


@st.composite
def regexes(draw: st.DrawFn, depth: int = 0) -> str:
    """Small RE2 patterns: concatenations of quantified atoms and groups, maybe alternations."""
    branches = []
    for _ in range(draw(st.integers(1, 3 if depth < 2 else 1))):
        parts = []
        for _ in range(draw(st.integers(0, 8))):
            if depth < 2 and draw(st.integers(0, 5)) == 0:
                opener = draw(st.sampled_from(["(", "(?:", "(?P<g>", "(?i:", "(?i)"]))
                part = "(?i)" if opener == "(?i)" else f"{opener}{draw(regexes(depth + 1))})"
            else:
                part = draw(atoms)
            parts.append(part + draw(quantifiers))
        branches.append("".join(parts))
    flags = draw(st.sampled_from(["", "", "(?i)", "(?s)"])) if depth == 0 else ""
    return flags + "|".join(branches)


def compiled(pattern: str) -> object:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


def texts_for(pattern: str) -> st.SearchStrategy[str]:
    """Texts the pattern likely matches (Python's reading of it), and arbitrary ones."""
    arbitrary = st.text(alphabet=TEXT_ALPHABET, max_size=16)
    try:
        re.compile(pattern)
    except (re.error, OverflowError):
        return arbitrary
    return st.one_of(st.from_regex(pattern), arbitrary)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_every_text_a_regex_matches_holds_one_of_its_literals(data: st.DataObject) -> None:
    pattern = data.draw(regexes())
    assume(compiled(pattern) is not None)
    check_regex_literals(pattern, [data.draw(texts_for(pattern)) for _ in range(8)])


@pytest.mark.parametrize(("pattern", "text"), [
    ("(?i)class", "CLA\u017f\u017f"),  # the long s folds with s under (?i); str.lower keeps it
    ("(?:abcd)*zz", "zz"),  # an optional group requires nothing
    ("(?:abcd){0,2}zz", "zz"),
    ("ab+cde", "abbcde"),  # a repeated atom ends the run
    ("(?i:abc)|xyz", "xyz"),
    ("(?i)kab", "\u212aAB"),  # the Kelvin sign folds with k; str.lower gives k
])
def test_regex_literals_hold_in_tricky_matches(pattern: str, text: str) -> None:
    check_regex_literals(pattern, [text])


def check_regex_literals(pattern: str, texts: list[str]) -> None:
    regex = compiled(pattern)
    assert regex is not None
    literals = required_regex_literals(pattern)
    if literals is None:
        return
    assert literals and all(literal.isascii() and literal == literal.lower() for literal in literals)
    for text in texts:
        if regex.search(text) is not None:  # type: ignore[attr-defined]
            lowered = text.lower()
            assert any(literal in lowered for literal in literals), (pattern, text, literals)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("(?i)mimikatz", {"mimikatz"}),
    ("net\\.exe\\s+use", {"net.exe"}),
    ("(?i)\\\\sekurlsa::", {"ekurl"}),  # s ends a run under (?i): RE2 folds it with U+017F
    ("ab+cde", {"cde"}),
    ("(abc|defg)x", {"abc", "defg"}),
    ("x{,3}yz", {"x{,3}yz"}),  # not a repetition for RE2: literal text
    ("(?:foo|bar)?bazz", {"bazz"}),
    ("abc|de", None),  # a branch without a literal
    ("(abc)*", None),
    ("\\Qabc\\E", None),
    ("[a-z]+", None),
])
def test_regex_literals_of_known_patterns(pattern: str, expected: set[str] | None) -> None:
    found = required_regex_literals(pattern)
    assert (None if found is None else set(found)) == expected
    regex = compiled(pattern)
    assert regex is not None


Token = str | SpecialChars
wildcard_tokens = st.lists(
    st.one_of(st.text(alphabet="abAB\u0130\u00c4.", min_size=1, max_size=4),
              st.just(SpecialChars.WILDCARD_MULTI), st.just(SpecialChars.WILDCARD_SINGLE)),
    min_size=1, max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(wildcard_tokens, st.lists(st.text(alphabet="abAB\u0130\u00c4.i\u0307", max_size=10), max_size=6),
       st.booleans())
def test_every_text_a_wildcard_matches_holds_its_literal(
    tokens: list[Token], texts: list[str], cased: bool,
) -> None:
    value = SigmaString()
    value.s = tuple(tokens)
    pattern = pattern_from_string(value, cased)
    literals = required_texts(pattern)
    if pattern.kind is PatternKind.WILDCARD:
        runs = [token for token in tokens if isinstance(token, str)]
        assert (literals is None) == (not runs)
    call = pattern.call()
    candidates = [*texts, "".join(t if isinstance(t, str) else "b" for t in tokens)]
    for text in candidates:
        seen = text if cased else text.lower()
        if literals and call(seen):
            assert any(literal in seen for literal in literals), (tokens, text)


KEYWORD_RULES = [
    "keywords:\n- mimikatz\n- 'sekurlsa::'\ncondition: keywords",
    "keywords:\n- 'a?c*kiwi'\ncondition: keywords",
    "keywords:\n  '|re': '(?i)inv(oke|ite)-[a-z]+'\ncondition: keywords",
    "keywords:\n  '|cased': 'EVIL.exe'\ncondition: keywords",
    "selection:\n  Image|re: '\\\\(ps|cmd)exec\\.exe$'\ncondition: selection",
    "selection:\n  CommandLine: '*-e? *'\ncondition: selection",
]
field_texts = st.text(alphabet="aAbc-:.\\ \u0130\u017f", max_size=6).map(lambda s: s)
pieces = st.sampled_from(["mimikatz", "SEKURLSA::", "abckiwi", "Invoke-x", "INVITE-q", "EVIL.exe",
                          "evil.exe", "\\psexec.exe", "\\CMDexec.exe", " -ep x", "", "x"])


@st.composite
def field_values(draw: st.DrawFn) -> object:
    text = draw(field_texts) + draw(pieces) + draw(field_texts)
    return draw(st.sampled_from([text, [text, draw(field_texts)], None, 7]))


@pytest.mark.parametrize("detection", KEYWORD_RULES)
@settings(max_examples=150, deadline=None)
@given(values=st.fixed_dictionaries({}, optional={
    "CommandLine": field_values(), "Image": field_values(), "Other": field_values(),
}))
def test_every_matching_event_holds_one_of_the_rules_literals(
    detection: str, values: dict[str, object],
) -> None:
    matcher = compile_detection(detection)
    literals = matcher.required_literals()  # type: ignore[attr-defined]
    assert literals is not None  # each of these rules offers literals to the prefilter
    subject = event(**values)
    if not matcher.matches(subject):
        return
    joined = lowered_joined(subject)
    assert any(
        literal in joined if name == ANY_FIELD else any(
            literal in text.lower() for text in _texts(subject.fields.get(name)))
        for name, literal in literals
    ), (detection, values, literals)


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return [str(value)]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6), st.sampled_from(["", "(?i)", "(?s)", "(?m)", "(?is)"]),
       st.text(alphabet="ab\n\r\u00e4 ", max_size=14))
def test_length_only_regexes_run_without_re2_and_agree_with_it(least: int, flags: str, text: str) -> None:
    pattern = f"{flags}.{{{least},}}"
    fast = length_search(pattern)
    assert fast is not None
    assert bool(fast.search(text)) == (compiled(pattern).search(text) is not None)  # type: ignore[attr-defined]
    assert length_search(f"a{pattern}") is None and length_search(f"{flags}.{{{least},9}}") is None
