"""Whether any keyword literal can occur in an event, before the keyword automaton runs.

Keyword literals (pseudo-field `ANY_FIELD`) may occur in any field. One RE2 search of their
alternation over the joined lower-cased text of all fields (~3.8 us on EVTX sample events) is
cheaper than the automaton, which then runs only on events that hold a literal. "Mimikatz Use"
alone makes every Windows event pay for that search, and most of an event's values repeat from
event to event (computer, provider, level, image paths, user names): values already searched
without a hit are remembered (`clean`, at most `REMEMBERED` of them, then forgotten all at once)
and only the others are joined and searched.

Exact: a keyword literal lies within one field's string form (the automaton's hits that matter
do, see `keyword_search`), so an event holds one only if one of its values does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import re2

from watchpost.events import Event
from watchpost.matching.event_values import texts_of
from watchpost.matching.model import CompileError
from watchpost.matching.re2_calls import Re2Test, compile_re2

REMEMBERED = 20_000
"""Most values remembered as holding no keyword literal (then the memory starts afresh)."""


class KeywordGate:
    """``passes(event)``: False only when no value of the event holds a keyword literal."""

    __slots__ = ("search", "clean")

    def __init__(self, search: Re2Test) -> None:
        self.search = search
        self.clean: set[Any] = set()  # str and int values (exact types) without a literal

    def passes(self, event: Event) -> bool:
        clean = self.clean
        texts: list[str] = []
        keys: list[Any] = []
        for value in event.fields.values():
            kind = type(value)
            if kind is str:
                if value not in clean:
                    texts.append(value)
                    keys.append(value)
            elif kind is int:
                if value not in clean:
                    texts.append(str(value))
                    keys.append(value)
            elif value is not None:
                texts.extend(texts_of(value))  # lists, booleans, floats: not remembered
        if not texts:
            return False
        if self.search("\n".join(texts).lower()):
            return True
        if len(clean) + len(keys) > REMEMBERED:
            clean.clear()
        clean.update(keys)
        return False


def keyword_gate(literals: Iterable[str]) -> KeywordGate | None:
    """The gate for these lower-case literals; None when there are none or RE2 refuses them."""
    alternation = "|".join(re2.escape(literal) for literal in sorted(set(literals)))
    if not alternation:
        return None
    try:
        regex = compile_re2(alternation, "keyword literals")
    except CompileError:
        return None
    return KeywordGate(Re2Test(regex))
