"""`Re2Test` (RE2 called without google-re2's Python wrapper) agrees with the wrapper's
``search``/``fullmatch`` and survives pickling (the rule cache); OR-ed regular expressions of one
field merged into one alternation match exactly when one of them does."""

from __future__ import annotations

import pickle

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sigma.types import SigmaRegularExpression

from tests.matching.test_literal_requirements import TEXT_ALPHABET, compiled, regexes, texts_for
from watchpost.matching.re2_calls import Re2Test
from watchpost.matching.string_patterns import build_text_test, pattern_from_regex


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_re2_test_agrees_with_search_and_fullmatch(data: st.DataObject) -> None:
    pattern = data.draw(regexes())
    regex = compiled(pattern)
    assume(regex is not None)
    search, full = Re2Test(regex), Re2Test(regex, full=True)
    for _ in range(6):
        text = data.draw(st.one_of(texts_for(pattern), st.text(alphabet=TEXT_ALPHABET + "\u00e9\U0001f600")))
        assert search(text) is (regex.search(text) is not None), (pattern, text)  # type: ignore[attr-defined]
        assert full(text) is (regex.fullmatch(text) is not None), (pattern, text)  # type: ignore[attr-defined]


def test_re2_test_pickles_as_its_expression() -> None:
    regex = compiled("(?i)n[e\u00e9]t\\s+use")
    test = Re2Test(regex, full=False)
    copy = pickle.loads(pickle.dumps(test.__call__))
    assert copy("x NÉT  USE y") and not copy("net") and copy.__self__.regex.pattern == regex.pattern  # type: ignore[attr-defined]
    whole = pickle.loads(pickle.dumps(Re2Test(regex, full=True)))
    assert whole("net use") and not whole("a net use")


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_regexes_of_one_field_merged_match_when_one_of_them_does(data: st.DataObject) -> None:
    patterns = [data.draw(regexes()) for _ in range(data.draw(st.integers(2, 4)))]
    assume(all(compiled(pattern) is not None for pattern in patterns))
    compiled_patterns = [pattern_from_regex(SigmaRegularExpression(pattern)) for pattern in patterns]
    merged = build_text_test(compiled_patterns).call
    for _ in range(6):
        likely = [texts_for(pattern) for pattern in patterns]
        text = data.draw(st.one_of(*likely, st.text(alphabet=TEXT_ALPHABET)))
        expected = any(compiled(pattern).search(text) is not None for pattern in patterns)  # type: ignore[attr-defined]
        assert bool(merged(text)) is expected, (patterns, text)


def test_multiline_and_case_flags_stay_with_their_own_expression() -> None:
    patterns = [pattern_from_regex(SigmaRegularExpression(p)) for p in ("(?m)^b", "(?i)xY", "^c")]
    merged = build_text_test(patterns).call
    assert merged("a\nb") and merged("XY") and merged("c")
    assert not merged("a\nc") and not merged("xz")
