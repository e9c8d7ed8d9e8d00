"""`Re2Test` (RE2 called without google-re2's Python wrapper) agrees with the wrapper's
``search``/``fullmatch`` and survives pickling (the rule cache)."""

from __future__ import annotations

import pickle

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.matching.test_literal_requirements import TEXT_ALPHABET, compiled, regexes, texts_for
from watchpost.matching.re2_calls import Re2Test


@settings(max_examples=300, deadline=None)
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
