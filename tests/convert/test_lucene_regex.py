"""Sigma regexes translated to Lucene's whole-value dialect find what the engine's RE2 search finds."""

from __future__ import annotations

import pytest
import re2
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from watchpost.backends.lucene_regex import lucene_regex

SAMPLES = ["netstat", "netstat -ano", "/bin/netstat -an", "busybox  netstat", "xnetstat", "ss", "ss -t",
           "sess", "query session", "query sessions /server", "query sessionsx", "qwinsta session\t1",
           "a;x", "x", "yx", "", "net use", "net  use z:", "a\"b", "user@host", "a|b", "^a$"]
REGEXES = [
    r"^(?:\S*/)?(?:busybox\s+)?(?:netstat|ss)(?:\s|$)",  # the pack's Linux netstat/ss rule
    r"\s(?:session|sessions)(?:\s|$)",  # the pack's qwinsta rule
    r"(?:^|[;|])x",
    r"net\s+use",
    r"^net\s+use\s*$",
    r"a|b",
    r"^x|y",  # an anchor in one alternative only: the other one is not anchored
    r"x|(?:y|$)",
    r"\d+\w",
    r"a\"b|user@host",
    r"[^\s;]+x",
]


@pytest.mark.parametrize("regex", REGEXES)
def test_the_translation_matches_the_whole_value_where_the_search_finds(regex: str) -> None:
    translated = lucene_regex(regex)
    # Lucene's escapes of its operator characters (\@, \") are literal characters for RE2 too
    for sample in SAMPLES:
        found = bool(re2.search(regex, sample))
        assert found == bool(re2.fullmatch(translated, sample)), (sample, translated)


@pytest.mark.parametrize("regex", [r"\bnet\b", r"(?m)^x", r"a(?=b)", r"a^b", r"(?i)x"])
def test_what_lucene_cannot_express_is_refused(regex: str) -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="Lucene"):
        lucene_regex(regex)
