"""Sigma string values compiled into tests on a field's text (Hayabusa-style fast paths).

A Sigma string (pySigma ``SigmaString``) is a sequence of literal text, ``*`` (any run of characters,
also empty) and ``?`` (exactly one character). pySigma has already applied the spec's escaping
(``\\*`` literal star, ``\\\\*`` literal backslash followed by a wildcard), and turned ``contains`` /
``startswith`` / ``endswith`` into wildcards. Here each value becomes a `TextPattern`:

- no wildcard: ``EXACT`` (``==``); ``lit*``: ``PREFIX``; ``*lit``: ``SUFFIX``; ``*lit*``: ``CONTAINS``;
  ``*`` alone: ``ANY`` (every value, also the empty string);
- only ``*`` wildcards otherwise (``a*b*c``): ``PIECES``, matched with ``str.startswith``,
  ``str.endswith`` and ordered ``str.find`` (leftmost-first search is exact for ``*``-only globs);
- anything with ``?``: ``WILDCARD``, an anchored RE2 full match in DOTALL mode so that ``*`` and ``?``
  also span or match line breaks, as they do on any other character;
- ``re`` values: ``REGEX``, an unanchored RE2 search (the Sigma regex semantics), flags ``i``, ``m``
  and ``s`` applied inline; they see the field's text as it is (case-sensitive unless ``i``).

Case-insensitive values are lower-cased here and compared with lower-cased field text (`str.lower`
on both sides). `build_text_test` then merges the patterns of OR-ed values on one field into one
test: a frozenset for exact values, ``str.startswith(tuple)`` / ``str.endswith(tuple)``; ``contains``
lists run as a plain loop or, from `CONTAINS_REGEX_FROM` needles on, as one RE2 alternation
(measured on 40-1000 character texts: the loop costs ~0.17 us per needle, the RE2 alternation
~1.6 us flat up to 30 needles; pyahocorasick measured slower than the RE2 alternation at every list
size, so it is not used); from `GLOBS_REGEX_FROM` other wildcard patterns on, those run as one RE2
full match of their alternation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import methodcaller
from typing import TYPE_CHECKING, Any

import re2

from watchpost.matching.model import CompileError
from watchpost.matching.re2_calls import Re2Test, compile_re2
from watchpost.matching.regex_bounds import MAX_REGEX_NESTING, group_nesting
from watchpost.matching.regex_literals import required_regex_literals

if TYPE_CHECKING:
    from sigma.types import SigmaRegularExpression, SigmaString, SpecialChars

TextCall = Callable[[str], object]
"""A test on one text; the result is used for its truth value."""

CONTAINS_REGEX_FROM = 9
"""From this many ``contains`` needles on one field, one RE2 alternation replaces the loop."""

GLOBS_REGEX_FROM = 3
"""From this many wildcard patterns (not plain prefix/suffix/contains) on one field, one RE2 full
match over their alternation replaces trying them one by one."""

_FLAG_LETTERS = {"IGNORECASE": "i", "MULTILINE": "m", "DOTALL": "s"}
"""RE2's inline flag for each pySigma ``SigmaRegularExpressionFlag``, by name (pySigma is imported
only by the functions that read its values: compiled patterns load without it)."""


class PatternKind(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONTAINS = "contains"
    ANY = "any"
    PIECES = "pieces"
    WILDCARD = "wildcard"
    REGEX = "regex"


_COST = {
    PatternKind.ANY: 0,
    PatternKind.EXACT: 1,
    PatternKind.PREFIX: 2,
    PatternKind.SUFFIX: 2,
    PatternKind.CONTAINS: 3,
    PatternKind.PIECES: 4,
    PatternKind.WILDCARD: 8,
    PatternKind.REGEX: 10,
}


@dataclass(frozen=True, slots=True)
class TextPattern:
    """One Sigma string value, compiled. ``text`` is already lower-cased for case-insensitive use."""

    kind: PatternKind
    text: str = ""
    pieces: tuple[str, ...] = ()  # PIECES: prefix, middle parts..., suffix; WILDCARD: literal runs
    regex: Any = None  # WILDCARD / REGEX: a compiled RE2 expression
    source: str = ""  # the value as the rule writes it, for messages
    glob: str = ""  # PIECES / WILDCARD: the equivalent RE2 body, for merging several into one

    def call(self) -> TextCall:
        """This pattern alone as a text test."""
        kind = self.kind
        if kind is PatternKind.EXACT:
            return self.text.__eq__
        if kind is PatternKind.PREFIX:
            return methodcaller("startswith", self.text)
        if kind is PatternKind.SUFFIX:
            return methodcaller("endswith", self.text)
        if kind is PatternKind.CONTAINS:
            return methodcaller("__contains__", self.text)
        if kind is PatternKind.ANY:
            return _any_text
        if kind is PatternKind.PIECES:
            return PiecesTest(self.pieces).__call__
        if kind is PatternKind.WILDCARD:
            return Re2Test(self.regex, full=True).__call__
        if isinstance(self.regex, LengthSearch):
            return self.regex.search
        return Re2Test(self.regex).__call__


def required_texts(pattern: TextPattern) -> frozenset[str] | None:
    """Substrings one of which every text the pattern matches contains (None: none to tell).

    Plain values give their text, wildcard values their longest literal run between wildcards,
    regular expressions what `required_regex_literals` finds (already lower-cased: those are
    compared with lower-cased text only).
    """
    kind = pattern.kind
    if kind in (PatternKind.EXACT, PatternKind.PREFIX, PatternKind.SUFFIX, PatternKind.CONTAINS):
        return frozenset((pattern.text,)) if pattern.text else None
    if kind in (PatternKind.PIECES, PatternKind.WILDCARD):
        longest = max(pattern.pieces, key=len, default="")
        return frozenset((longest,)) if longest else None
    if kind is PatternKind.REGEX:
        return required_regex_literals(pattern.regex.pattern)
    return None


def _any_text(text: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class PiecesTest:
    """``prefix*middle*...*suffix`` without ``?``: anchored ends, middle parts found in order."""

    pieces: tuple[str, ...]

    def __call__(self, text: str) -> bool:
        pieces = self.pieces
        prefix = pieces[0]
        suffix = pieces[-1]
        end = len(text) - len(suffix)
        start = len(prefix)
        if end < start or not text.startswith(prefix) or not text.endswith(suffix):
            return False
        for middle in pieces[1:-1]:
            found = text.find(middle, start, end)
            if found < 0:
                return False
            start = found + len(middle)
        return True


def _tokens(value: SigmaString) -> list[str | SpecialChars]:
    """Literal runs and wildcards of ``value``; adjacent ``*`` collapsed; placeholders rejected."""
    from sigma.types import Placeholder, SpecialChars

    tokens: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise CompileError(
                f"unresolved placeholder %{part.name}% in value {str(value)!r}: "
                "define it in the placeholder file (expand modifier)"
            )
        if isinstance(part, str):
            if tokens and isinstance(tokens[-1], str):
                tokens[-1] += part
            elif part:
                tokens.append(part)
        elif isinstance(part, SpecialChars):
            if part is SpecialChars.WILDCARD_MULTI and tokens and tokens[-1] is part:
                continue
            tokens.append(part)
        else:
            raise CompileError(f"unknown part {part!r} in string value {str(value)!r}")
    return tokens


def pattern_from_string(value: SigmaString, cased: bool, anywhere: bool = False) -> TextPattern:
    """The fastest pattern that matches exactly what the Sigma string ``value`` matches.

    ``anywhere`` (keyword searches) lets the value occur anywhere in the text, as with ``contains``.
    """
    from sigma.types import SpecialChars

    source = str(value)
    tokens = _tokens(value)
    if anywhere:
        multi = SpecialChars.WILDCARD_MULTI
        tokens = [*(() if tokens[:1] == [multi] else (multi,)), *tokens]
        if tokens[-1] is not multi:
            tokens.append(multi)
    if not cased:
        tokens = [token.lower() if isinstance(token, str) else token for token in tokens]
    if SpecialChars.WILDCARD_SINGLE in tokens:
        return _wildcard_pattern(tokens, source)
    segments = [""]
    for token in tokens:
        if isinstance(token, str):
            segments[-1] = token
        else:
            segments.append("")
    if len(segments) == 1:
        return TextPattern(PatternKind.EXACT, text=segments[0], source=source)
    if len(segments) == 2:
        prefix, suffix = segments
        if not prefix and not suffix:
            return TextPattern(PatternKind.ANY, source=source)
        if not suffix:
            return TextPattern(PatternKind.PREFIX, text=prefix, source=source)
        if not prefix:
            return TextPattern(PatternKind.SUFFIX, text=suffix, source=source)
    elif len(segments) == 3 and not segments[0] and not segments[2]:
        return TextPattern(PatternKind.CONTAINS, text=segments[1], source=source)
    return TextPattern(
        PatternKind.PIECES, pieces=tuple(segments), source=source, glob=_glob_regex(tokens)
    )


def _glob_regex(tokens: Sequence[str | SpecialChars]) -> str:
    """RE2 body for a wildcard value (full match, with the DOTALL flag)."""
    from sigma.types import SpecialChars

    parts = []
    for token in tokens:
        if token is SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif token is SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        else:
            parts.append(re2.escape(token))
    return "".join(parts)


def _wildcard_pattern(tokens: Sequence[str | SpecialChars], source: str) -> TextPattern:
    glob = _glob_regex(tokens)
    regex = compile_re2(f"(?s){glob}", f"wildcard value '{source}'")
    runs = tuple(token for token in tokens if isinstance(token, str))  # for `required_texts` only
    return TextPattern(PatternKind.WILDCARD, pieces=runs, regex=regex, source=source, glob=glob)


def pattern_from_regex(value: SigmaRegularExpression) -> TextPattern:
    """A Sigma ``re`` value: unanchored RE2 search with its ``i``/``m``/``s`` flags inline."""
    from sigma.types import Placeholder

    for part in value.regexp.s:
        if isinstance(part, Placeholder):
            raise CompileError(
                f"unresolved placeholder %{part.name}% in regular expression '{value.regexp}': "
                "define it in the placeholder file (expand modifier)"
            )
    expression = str(value.regexp)
    nesting = group_nesting(expression)
    if nesting > MAX_REGEX_NESTING:
        raise CompileError(f"regular expression nests groups {nesting} deep (at most {MAX_REGEX_NESTING})")
    letters = "".join(sorted(_FLAG_LETTERS[flag.name] for flag in value.flags))
    pattern = f"(?{letters}){expression}" if letters else expression
    regex = compile_re2(pattern, f"regular expression '{expression}'")
    return TextPattern(PatternKind.REGEX, regex=length_search(pattern) or regex, source=expression)


_LENGTH_ONLY = re2.compile(r"(?:\(\?([ims]+)\))?\.\{(\d+),\}")


def length_search(pattern: str) -> LengthSearch | None:
    """`LengthSearch` for a pattern that is only ``.{n,}`` (flags allowed), else None."""
    found = _LENGTH_ONLY.fullmatch(pattern)
    if found is None:
        return None
    return LengthSearch(int(found.group(2)), "s" in (found.group(1) or ""), pattern)


@dataclass(frozen=True, slots=True)
class LengthSearch:
    """The RE2 search ``.{n,}`` without a regex: some run of ``least`` characters with no line
    break in it (any ``least`` characters with the ``s`` flag). RE2 spent ~0.1 ms per long
    command line on the counted repetition ("Unusually Long PowerShell CommandLine")."""

    least: int
    dotall: bool
    pattern: str

    def search(self, text: str) -> bool:
        least = self.least
        if len(text) < least:
            return False
        if self.dotall or "\n" not in text:
            return True
        return any(len(line) >= least for line in text.split("\n"))


def literal_pattern(text: str, anywhere: bool = False) -> TextPattern:
    """A fixed string form (numbers, booleans): equal to the text, or contained in it (keywords)."""
    if anywhere:
        return TextPattern(PatternKind.CONTAINS, text=text, source=text)
    return TextPattern(PatternKind.EXACT, text=text, source=text)


@dataclass(frozen=True, slots=True)
class TextTest:
    """OR-ed patterns of one field merged into one call. ``exact`` is set when all are EXACT."""

    call: TextCall
    exact: frozenset[str] | None
    cost: int
    patterns: tuple[TextPattern, ...]


@dataclass(frozen=True, slots=True)
class ContainsAny:
    """A short list of ``contains`` needles, tried one after the other."""

    needles: tuple[str, ...]

    def __call__(self, text: str) -> bool:
        for needle in self.needles:  # noqa: SIM110 - a loop beats any() on this hot path
            if needle in text:
                return True
        return False


@dataclass(frozen=True, slots=True)
class MixedTest:
    """Patterns of several kinds on one field: cheap checks first, regular expressions last."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    contains: TextCall | None
    others: tuple[TextCall, ...]

    def __call__(self, text: str) -> bool:
        if text in self.exact:
            return True
        if self.prefixes and text.startswith(self.prefixes):
            return True
        if self.suffixes and text.endswith(self.suffixes):
            return True
        if self.contains is not None and self.contains(text):
            return True
        for other in self.others:  # noqa: SIM110 - a loop beats any() on this hot path
            if other(text):
                return True
        return False


def contains_any(needles: tuple[str, ...]) -> TextCall:
    """A test that is true when one of ``needles`` occurs in the text."""
    if len(needles) == 1:
        return methodcaller("__contains__", needles[0])
    if len(needles) < CONTAINS_REGEX_FROM:
        return ContainsAny(needles).__call__
    alternation = "|".join(re2.escape(needle) for needle in needles)
    return Re2Test(compile_re2(alternation, "contains list")).__call__


def _globs_calls(globs: Sequence[TextPattern]) -> tuple[TextCall, ...]:
    """Wildcard patterns one by one, or from `GLOBS_REGEX_FROM` on as one RE2 full match."""
    if len(globs) < GLOBS_REGEX_FROM:
        return tuple(pattern.call() for pattern in globs)
    alternation = "|".join(f"(?:{pattern.glob})" for pattern in globs)
    return (Re2Test(compile_re2(f"(?s){alternation}", "wildcard value list"), full=True).__call__,)


def _regex_calls(regexes: Sequence[TextPattern]) -> tuple[TextCall, ...]:
    """Regular expressions of one field: length checks apart, the others as one RE2 search of
    their alternation (``(?:a)|(?:b)`` has a match exactly when ``a`` or ``b`` has one; inline
    flags stay inside their group): one call instead of one per expression ("Obfuscated IP Via
    CLI" ORs six on CommandLine). Kept apart if RE2 refuses the alternation (size)."""
    merged: list[TextPattern] = []
    apart: list[TextPattern] = []
    for pattern in regexes:
        plain = not isinstance(pattern.regex, LengthSearch) and "\\Q" not in pattern.regex.pattern
        (merged if plain else apart).append(pattern)
    if len(merged) < 2:
        return tuple(pattern.call() for pattern in regexes)
    alternation = "|".join(f"(?:{pattern.regex.pattern})" for pattern in merged)
    try:
        search = Re2Test(compile_re2(alternation, "regular expression list")).__call__
    except CompileError:
        return tuple(pattern.call() for pattern in regexes)
    return (*(pattern.call() for pattern in apart), search)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def build_text_test(patterns: Sequence[TextPattern]) -> TextTest:
    """One test that is true when any of ``patterns`` matches."""
    if not patterns:
        raise CompileError("no values to match")
    by_kind: dict[PatternKind, list[TextPattern]] = {}
    for pattern in patterns:
        by_kind.setdefault(pattern.kind, []).append(pattern)
    cost = max(_COST[kind] for kind in by_kind) + len(patterns) // 16
    if PatternKind.ANY in by_kind:
        return TextTest(_any_text, None, 0, tuple(patterns))
    exact = frozenset(p.text for p in by_kind.get(PatternKind.EXACT, ()))
    if len(by_kind) == 1 and exact:
        call: TextCall = next(iter(exact)).__eq__ if len(exact) == 1 else exact.__contains__
        return TextTest(call, exact, cost, tuple(patterns))
    prefixes = _unique(p.text for p in by_kind.get(PatternKind.PREFIX, ()))
    suffixes = _unique(p.text for p in by_kind.get(PatternKind.SUFFIX, ()))
    needles = _unique(p.text for p in by_kind.get(PatternKind.CONTAINS, ()))
    globs = [*by_kind.get(PatternKind.PIECES, ()), *by_kind.get(PatternKind.WILDCARD, ())]
    others = (
        *_globs_calls(globs),
        *_regex_calls(by_kind.get(PatternKind.REGEX, ())),
    )
    if len(by_kind) == 1:
        if prefixes:
            call = methodcaller("startswith", prefixes)
        elif suffixes:
            call = methodcaller("endswith", suffixes)
        elif needles:
            call = contains_any(needles)
        elif len(others) == 1:
            call = others[0]
        else:
            call = MixedTest(frozenset(), (), (), None, others).__call__
        return TextTest(call, None, cost, tuple(patterns))
    contains = contains_any(needles) if needles else None
    mixed = MixedTest(exact, prefixes, suffixes, contains, others)
    return TextTest(mixed.__call__, None, cost, tuple(patterns))
