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
from typing import Any, NamedTuple

import ahocorasick

from watchpost.events import Event
from watchpost.matching.event_values import text_of, texts_of
from watchpost.matching.keyword_gate import keyword_gate
from watchpost.matching.keyword_search import ANY_FIELD, lowered_joined
from watchpost.matching.literal_checks import LiteralSetCheck

_number = itemgetter(1)  # (end, literal number) -> literal number

REMEMBERED_VALUES = 20_000
"""Most (field, value) pairs whose literal numbers are remembered (then forgotten all at once):
images, users, providers, call traces repeat from event to event, and a dict look-up costs a
fraction of an automaton search (~1-6 us per field on the EVTX samples)."""

REMEMBERED_LENGTH = 1_000
"""Longer values (script blocks) are rarely seen twice and are not remembered."""


class FieldScans(NamedTuple):
    """The automaton searches to run for the events of one index key."""

    fields: tuple[tuple[str, Callable[[str], Iterable[tuple[int, int]]]], ...]
    keyword: bool  # search the keyword literals in the joined text of all fields


Requirement = Sequence[frozenset[tuple[str, str]]]
"""A variant's literal sets, each met by every matching event; the first is the one that selects."""


class LiteralPrefilter:
    """Built once from each variant's requirement (by position); `passing` runs per event.

    A variant becomes a candidate when a literal of its first set occurs (the automata find the
    literals; `variants_by_literal` maps them to variants); it stays one only if every other set
    of its requirement has a literal in the event too (the other parts of an AND, checked
    directly with `LiteralSetCheck` for these few variants: on the EVTX samples this removes 2.1
    of the 2.9 candidates per event that the first set lets in). Those checks are made the
    first time their variant is let in (`checks_of`): most variants never are in a run, and
    making all ~6,000 checks (RE2 alternations among them) took ~0.1 s of every start.
    """

    def __init__(self, requirements: Sequence[Requirement]) -> None:
        ids: dict[tuple[str, str], int] = {}
        by_literal: dict[int, set[int]] = {}
        others: dict[int, Requirement] = {}
        for position, requirement in enumerate(requirements):
            if not requirement:
                continue
            for pair in requirement[0]:
                by_literal.setdefault(ids.setdefault(pair, len(ids)), set()).add(position)
            if len(requirement) > 1:
                others[position] = requirement[1:]
        self.variants_by_literal: tuple[frozenset[int], ...] = tuple(
            frozenset(by_literal[number]) for number in range(len(ids))
        )
        self.other_sets = others  # position -> the literal sets after the first
        self._checks: dict[int, tuple[LiteralSetCheck, ...]] = {}  # made by `checks_of`
        self.filtered = frozenset(n for n, requirement in enumerate(requirements) if requirement)
        self.fields_of = {
            n: frozenset(field for field, _ in requirement[0])
            for n, requirement in enumerate(requirements) if requirement
        }
        words: dict[str, list[tuple[str, int]]] = {}
        for (field, literal), number in ids.items():
            words.setdefault(field, []).append((literal, number))
        self._words = words
        self.automata: dict[str, Any] = {}  # made by `automaton`, a field's when first scanned
        self.found: dict[tuple[str, str], frozenset[int]] = {}  # see REMEMBERED_VALUES
        self.keyword_gate = keyword_gate(literal for field, literal in ids if field == ANY_FIELD)

    def fields_for(self, positions: Iterable[int]) -> FieldScans:
        """What to scan for events whose candidates are ``positions``: the fields of their first
        literal sets, each with its automaton's search, and whether keyword literals count."""
        fields: set[str] = set()
        for position in positions:
            fields |= self.fields_of.get(position, frozenset())
        keyword = ANY_FIELD in fields
        fields.discard(ANY_FIELD)
        automaton = self.automaton
        return FieldScans(tuple((field, automaton(field).iter) for field in sorted(fields)), keyword)

    def automaton(self, field: str) -> Any:
        """The Aho-Corasick automaton of ``field``'s literals (numbered), made on first use: a
        run scans only the fields its events' candidates require (~20 of 163 for Sysmon process
        creations; making all took ~0.06 s of every start)."""
        found = self.automata.get(field)
        if found is None:
            found = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for literal, number in self._words[field]:
                found.add_word(literal, number)
            found.make_automaton()
            self.automata[field] = found
        return found

    def passing(self, event: Event, scans: FieldScans, among: frozenset[int]) -> set[int]:
        """Positions in ``among`` of filtered variants whose literal sets all have a literal in
        ``event`` (the first sets' literals are looked for as ``scans`` says)."""
        hits = self.literals_in(event, scans)
        if not hits:
            return set()
        by_literal = self.variants_by_literal
        passing = set().union(*(by_literal[number] for number in hits))
        passing &= among
        others = self.other_sets
        made = self._checks
        for position in [n for n in passing if n in others]:
            checks = made.get(position)
            if checks is None:
                checks = self.checks_of(position)
            for check in checks:
                if not check(event):
                    passing.discard(position)
                    break
        return passing

    def checks_of(self, position: int) -> tuple[LiteralSetCheck, ...]:
        """The checks of the variant's other literal sets, cheapest first (made once)."""
        checks = self._checks.get(position)
        if checks is None:
            sets = self.other_sets.get(position, ())
            checks = self._checks[position] = tuple(map(LiteralSetCheck, _cheapest_first(sets)))
        return checks

    def literals_in(self, event: Event, scans: FieldScans) -> set[int]:
        """Numbers of the literals that occur in ``event``'s scanned fields."""
        hits: set[int] = set()
        values = event.fields
        lowered = event.lowered
        found = self.found
        for field, iterate in scans.fields:
            value = values.get(field)
            if value is None:
                continue
            if type(value) is str:
                key = (field, value)
                numbers = found.get(key)
                if numbers is None:
                    numbers = frozenset(map(_number, iterate(lowered(field, value))))
                    if len(value) <= REMEMBERED_LENGTH:
                        if len(found) >= REMEMBERED_VALUES:
                            found.clear()
                        found[key] = numbers
                hits |= numbers
            elif type(value) is list:
                for text in texts_of(value):
                    hits.update(map(_number, iterate(text.lower())))
            else:
                scalar = text_of(value)
                if scalar is not None:
                    hits.update(map(_number, iterate(scalar.lower())))
        if scans.keyword:
            gate = self.keyword_gate
            if gate is None or gate.passes(event):
                hits.update(map(_number, self.automaton(ANY_FIELD).iter(lowered_joined(event))))
        return hits


def _cheapest_first(sets: Iterable[frozenset[tuple[str, str]]]) -> list[frozenset[tuple[str, str]]]:
    """Fewer literals first (fewer tests), then longer ones (rarer)."""
    return sorted(sets, key=lambda literals: (len(literals), -min(len(text) for _, text in literals)))
