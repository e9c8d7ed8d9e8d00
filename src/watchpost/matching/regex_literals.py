"""Literal substrings a regular expression requires, for the literal prefilter.

`required_regex_literals` reads an RE2 pattern (one RE2 has compiled) and returns lower-case
literals such that the lower-cased text of every string the pattern matches (unanchored search)
contains at least one of them - or None when it cannot tell. It is conservative by construction:

- a concatenation offers its runs of plain characters (``net\\.exe`` gives ``net.exe``) and the
  requirements of groups that must occur; the most selective one is kept;
- an alternation (top level or inside a group) requires one of its branches' requirements, so only
  when every branch has one;
- a quantifier that allows zero repetitions removes its atom from the run; ``+`` and ``{n,}``
  keep it but end the run (``ab+c`` matches ``abbc``, which does not contain ``abc``);
- classes, ``.``, anchors, escapes other than escaped punctuation, flag groups and anything not
  recognised end a run; ``\\Q...\\E`` or an unknown construct gives up;
- only ASCII characters enter a literal (``str.lower`` of non-ASCII text can change its length or
  context); when the pattern may be case-insensitive, ``s`` and ``S`` end a run too: RE2 folds
  ``s`` with the long s (U+017F), which ``str.lower`` leaves as it is;
- literals shorter than `MIN_LITERAL` are not worth a prefilter entry and are not offered.
"""

from __future__ import annotations

import re
import string

from watchpost.matching.regex_bounds import MAX_REGEX_NESTING

MIN_LITERAL = 3
"""Shortest literal offered (a shorter one would pass nearly every event)."""

_PUNCTUATION = frozenset(string.punctuation)
_SIMPLE_ESCAPES = frozenset("dDsSwWbBAzntrfvaC")
_REPETITION = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([a-zA-Z-]*)[:)]")

Requirement = frozenset[str] | None


class _Unsupported(Exception):
    """A construct this reader does not know: no requirement."""


def required_regex_literals(pattern: str) -> frozenset[str] | None:
    """Lower-case literals one of which every text the pattern matches contains (or None)."""
    if "\\Q" in pattern:
        return None
    insensitive = any("i" in flags for flags in _FLAGS.findall(pattern))
    parser = _Parser(pattern, insensitive)
    try:
        found = parser.alternation()
    except (_Unsupported, IndexError, RecursionError):
        return None
    if parser.pos != len(pattern) or found is None:
        return None
    return frozenset(literal.lower() for literal in found)


def _selectivity(literals: frozenset[str]) -> tuple[int, int]:
    return min(len(text) for text in literals), -len(literals)


class _Parser:
    """Recursive descent over the pattern text; each level returns its requirement."""

    def __init__(self, text: str, insensitive: bool) -> None:
        self.text = text
        self.pos = 0
        self.breaking = frozenset("sS") if insensitive else frozenset()
        self.depth = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternation(self) -> Requirement:
        branches = [self.concatenation()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self.concatenation())
        found: set[str] = set()
        for branch in branches:
            if branch is None:
                return None
            found |= branch
        return frozenset(found)

    def concatenation(self) -> Requirement:
        candidates: list[frozenset[str]] = []
        run: list[str] = []

        def close() -> None:
            if len(run) >= MIN_LITERAL:
                candidates.append(frozenset(("".join(run),)))
            run.clear()

        while self._peek() not in ("", "|", ")"):
            kind, value = self._atom()
            least = self._repetition()
            if kind == "char":
                assert isinstance(value, str)
                if least is None:
                    run.append(value)
                elif least >= 1:
                    run.append(value)
                    close()
                else:
                    close()
                continue
            close()
            if kind == "group" and isinstance(value, frozenset) and (least is None or least >= 1):
                candidates.append(value)  # its literals are MIN_LITERAL long at least
        close()
        return max(candidates, key=_selectivity) if candidates else None

    def _repetition(self) -> int | None:
        """The least count of the quantifiers after an atom (None: no quantifier)."""
        least: int | None = None
        while True:
            char = self._peek()
            if char in ("*", "?"):
                count = 0
                self.pos += 1
            elif char == "+":
                count = 1
                self.pos += 1
            elif char == "{" and (found := _REPETITION.match(self.text, self.pos)) is not None:
                count = int(found.group(1))
                self.pos = found.end()
            else:
                return least
            least = count if least is None else min(least, count)
            if self._peek() == "?":  # lazy
                self.pos += 1

    def _atom(self) -> tuple[str, str | Requirement]:
        char = self.text[self.pos]
        if char == "(":
            return self._group()
        if char == "[":
            self._skip_class()
            return "other", None
        if char == "\\":
            return self._escape()
        if char in "*+?":
            raise _Unsupported(char)
        if char == "{" and _REPETITION.match(self.text, self.pos):
            raise _Unsupported(char)
        self.pos += 1
        if char in ".^$" or not char.isascii() or char in self.breaking:
            return "other", None
        return "char", char

    def _group(self) -> tuple[str, Requirement]:
        text = self.text
        self.pos += 1
        self.depth += 1
        if self.depth > MAX_REGEX_NESTING:  # no deeper recursion than rules may nest (regex_bounds)
            raise _Unsupported("nesting")
        if text.startswith("?", self.pos):
            flags = _FLAGS.match(text, self.pos - 1)
            if flags is not None:
                self.pos = flags.end()
                if text[self.pos - 1] == ")":
                    self.depth -= 1
                    return "other", None  # flags only: zero width
            elif text.startswith(("?P<", "?<"), self.pos):
                end = text.index(">", self.pos)
                self.pos = end + 1
            else:
                raise _Unsupported("group")
        inner = self.alternation()
        if self._peek() != ")":
            raise _Unsupported("unclosed group")
        self.pos += 1
        self.depth -= 1
        return "group", inner

    def _skip_class(self) -> None:
        text = self.text
        self.pos += 1
        if text[self.pos] == "^":
            self.pos += 1
        if text[self.pos] == "]":
            self.pos += 1
        while text[self.pos] != "]":
            if text[self.pos] == "\\":
                self.pos += 2
            elif text.startswith("[:", self.pos):
                self.pos = text.index(":]", self.pos + 2) + 2
            else:
                self.pos += 1
        self.pos += 1

    def _escape(self) -> tuple[str, str | None]:
        text = self.text
        char = text[self.pos + 1]
        self.pos += 2
        if char in _PUNCTUATION:
            return "char", char
        if char in "pP":
            if self._peek() == "{":
                self.pos = text.index("}", self.pos) + 1
            else:
                self.pos += 1
            return "other", None
        if char == "x":
            if self._peek() == "{":
                self.pos = text.index("}", self.pos) + 1
            else:
                self.pos += 2
            return "other", None
        if char.isdigit():
            while self._peek().isdigit():
                self.pos += 1
            return "other", None
        if char in _SIMPLE_ESCAPES:
            return "other", None
        raise _Unsupported(f"\\{char}")
