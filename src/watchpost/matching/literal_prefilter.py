"""A multi-pattern prefilter: which rule variants can match an event, from the literals it holds.

Most Sigma rules require some literal in some field (``CommandLine|contains: 'net use'``,
``Image|endswith: '\\netstat.exe'``): `Node.required_literals` states, per variant, pairs
(field, literal) one of which every matching event has in the field's lower-cased text. This
module builds one Aho-Corasick automaton per field over all those literals; for an event it scans
each field once (C speed, whatever the number of rules) and returns the variants whose literal
requirement is met. Keyword literals (pseudo-field `ANY_FIELD`) are searched once in the joined
lower-cased text of all fields, the text keyword rules search anyway. Variants without a
requirement are always candidates. The prefilter only
removes variants that cannot match, so results are those of evaluating every candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

import ahocorasick
import re2

from watchpost.events import Event
from watchpost.matching.event_values import text_of, texts_of
from watchpost.matching.keyword_search import ANY_FIELD, lowered_joined
from watchpost.matching.model import CompileError
from watchpost.matching.re2_calls import Re2Test, compile_re2

_number = itemgetter(1)  # (end, literal number) -> literal number

Requirement = frozenset[tuple[str, str]] | None


class LiteralPrefilter:
    """Built once from each variant's requirement (by position); `passing` runs per event."""

    def __init__(self, requirements: Sequence[Requirement]) -> None:
        ids: dict[tuple[str, str], int] = {}
        by_literal: list[set[int]] = []
        for position, requirement in enumerate(requirements):
            for pair in requirement or ():
                number = ids.get(pair)
                if number is None:
                    number = ids[pair] = len(by_literal)
                    by_literal.append(set())
                by_literal[number].add(position)
        self.variants_by_literal: tuple[frozenset[int], ...] = tuple(frozenset(v) for v in by_literal)
        self.filtered = frozenset(n for n, requirement in enumerate(requirements) if requirement)
        self.fields_of = {
            n: frozenset(field for field, _ in requirement)
            for n, requirement in enumerate(requirements) if requirement
        }
        automata: dict[str, Any] = {}
        for (field, literal), number in ids.items():
            automaton = automata.get(field)
            if automaton is None:
                automaton = automata[field] = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            automaton.add_word(literal, number)
        for automaton in automata.values():
            automaton.make_automaton()
        self.automata = automata
        self.keyword_gate = _any_literal_search(literal for field, literal in ids if field == ANY_FIELD)

    def fields_for(self, positions: Iterable[int]) -> tuple[str, ...]:
        """The fields worth scanning for events whose candidates are ``positions``."""
        fields: set[str] = set()
        for position in positions:
            fields |= self.fields_of.get(position, frozenset())
        return tuple(sorted(fields))

    def passing(self, event: Event, fields: Sequence[str]) -> set[int]:
        """Positions of filtered variants whose literals occur in ``event`` (among ``fields``)."""
        hits: set[int] = set()
        values = event.fields
        automata = self.automata
        for field in fields:
            if field == ANY_FIELD:
                text = lowered_joined(event)
                gate = self.keyword_gate
                if gate is None or gate(text):
                    hits.update(map(_number, automata[field].iter(text)))
                continue
            value = values.get(field)
            if value is None:
                continue
            iterate = automata[field].iter
            if type(value) is str:
                hits.update(map(_number, iterate(event.lowered(field, value))))
            elif type(value) is list:
                for text in texts_of(value):
                    hits.update(map(_number, iterate(text.lower())))
            else:
                scalar = text_of(value)
                if scalar is not None:
                    hits.update(map(_number, iterate(scalar.lower())))
        by_literal = self.variants_by_literal
        return set().union(*(by_literal[number] for number in hits)) if hits else set()


def _any_literal_search(literals: Iterable[str]) -> Callable[[str], object] | None:
    """One RE2 search for any of ``literals``: on long texts (all fields joined) it is ~3x faster
    than the automaton, which then only runs on texts that hold a literal. None if RE2 refuses."""
    alternation = "|".join(re2.escape(literal) for literal in sorted(set(literals)))
    if not alternation:
        return None
    try:
        regex = compile_re2(alternation, "keyword literals")
    except CompileError:
        return None
    return Re2Test(regex).__call__
