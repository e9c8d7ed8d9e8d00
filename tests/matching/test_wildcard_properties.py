"""Property tests: the wildcard fast paths agree with a straightforward glob-to-regex reference."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sigma.types import SigmaString, SpecialChars

from watchpost.matching.string_patterns import build_text_test, pattern_from_string

Token = str | SpecialChars

# Few letters (so that patterns and texts overlap often), regex metacharacters, case pairs, a line
# break and non-ASCII letters whose lower-case form is longer or differs.
ALPHABET = "abAB.\\\n[]()+$^|{}\u00e4\u00c4\u0130"

SMALL = "ab"  # most literals and texts: short strings over two letters overlap in tricky ways
literals = st.one_of(
    st.text(alphabet=SMALL, min_size=1, max_size=3), st.text(alphabet=ALPHABET, min_size=1, max_size=4)
)
texts = st.one_of(st.text(alphabet=SMALL, max_size=8), st.text(alphabet=ALPHABET, max_size=12))
tokens = st.lists(
    st.one_of(literals, st.just(SpecialChars.WILDCARD_MULTI), st.just(SpecialChars.WILDCARD_SINGLE)),
    max_size=6,
)
MULTI = SpecialChars.WILDCARD_MULTI


def sigma_string(parts: list[Token]) -> SigmaString:
    value = SigmaString()
    value.s = list(parts)
    return value


def reference_regex(parts: list[Token], lower: bool) -> re.Pattern[str]:
    """fnmatch-like translation: * is any run (also of line breaks), ? exactly one character."""
    out = []
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            assert isinstance(part, str)
            out.append(re.escape(part.lower() if lower else part))
    return re.compile("".join(out), re.DOTALL)


def reference_match(parts: list[Token], text: str, cased: bool) -> bool:
    if cased:
        return reference_regex(parts, lower=False).fullmatch(text) is not None
    return reference_regex(parts, lower=True).fullmatch(text.lower()) is not None


@st.composite
def pattern_and_text(draw: st.DrawFn) -> tuple[list[Token], str]:
    """A pattern and either a random text or one built to fit the pattern (then maybe mutated)."""
    parts = draw(tokens)
    if draw(st.booleans()):
        return parts, draw(texts)
    text = ""
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            text += draw(st.text(alphabet=ALPHABET, max_size=3))
        elif part is SpecialChars.WILDCARD_SINGLE:
            text += draw(st.text(alphabet=ALPHABET, min_size=1, max_size=1))
        else:
            assert isinstance(part, str)
            text += part.swapcase() if draw(st.booleans()) else part
    if text and draw(st.booleans()):  # cut out a slice: near misses, overlapping prefix/suffix
        start = draw(st.integers(0, len(text) - 1))
        text = text[:start] + text[start + draw(st.integers(1, 3)) :]
    return parts, text


def compiled_match(parts: list[Token], text: str, cased: bool) -> bool:
    test = build_text_test([pattern_from_string(sigma_string(parts), cased=cased)])
    return bool(test.call(text if cased else text.lower()))


@settings(max_examples=800, deadline=None)
@given(pattern_and_text(), st.booleans())
@example((["ab", MULTI, "ba"], "aba"), False)  # prefix and suffix must not overlap
@example((["a", MULTI, "b", MULTI, "b"], "ab"), False)  # middle part must not overlap the suffix
@example((["a", MULTI, "aa", MULTI, "a"], "aaaa"), True)
def test_single_pattern_agrees_with_reference(case: tuple[list[Token], str], cased: bool) -> None:
    parts, text = case
    assert compiled_match(parts, text, cased) == reference_match(parts, text, cased)


@settings(max_examples=300, deadline=None)
@given(st.lists(tokens, min_size=1, max_size=14), texts)
def test_merged_value_list_agrees_with_any_of_references(patterns: list[list[Token]], text: str) -> None:
    test = build_text_test([pattern_from_string(sigma_string(parts), cased=False) for parts in patterns])
    expected = any(reference_match(parts, text, cased=False) for parts in patterns)
    assert bool(test.call(text.lower())) == expected


@settings(max_examples=300, deadline=None)
@given(pattern_and_text())
def test_anywhere_patterns_are_contains(case: tuple[list[Token], str]) -> None:
    parts, text = case
    wrapped: list[Token] = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
    test = build_text_test([pattern_from_string(sigma_string(parts), cased=False, anywhere=True)])
    assert bool(test.call(text.lower())) == reference_match(wrapped, text, cased=False)
