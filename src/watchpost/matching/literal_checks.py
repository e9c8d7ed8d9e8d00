"""A literal set checked directly on one event: does one of its (field, literal) pairs occur?

The literal prefilter selects variants with the automata over one literal set per variant; the
variant's other sets (the other parts of an AND, `Node.required_literal_sets`) are checked with
`LiteralSetCheck` only for the few variants the first set lets in, so their literals add no
automaton hits and their fields are not scanned for every event.
"""

from __future__ import annotations

from collections.abc import Iterable

from watchpost.events import Event
from watchpost.matching.event_values import text_of, texts_of
from watchpost.matching.keyword_search import ANY_FIELD, lowered_joined
from watchpost.matching.string_patterns import TextCall, contains_any


class LiteralSetCheck:
    """True when some literal of the set occurs in the lower-cased text of its field (keyword
    literals: in the joined text of all fields, `keyword_search.lowered_joined`)."""

    __slots__ = ("parts",)

    def __init__(self, literals: Iterable[tuple[str, str]]) -> None:
        by_field: dict[str, list[str]] = {}
        for field, literal in sorted(literals):
            by_field.setdefault(field, []).append(literal)
        self.parts: tuple[tuple[str, TextCall], ...] = tuple(
            (field, contains_any(tuple(needles))) for field, needles in by_field.items()
        )

    def __call__(self, event: Event) -> bool:
        values = event.fields
        for field, test in self.parts:
            if field == ANY_FIELD:
                if test(lowered_joined(event)):
                    return True
                continue
            value = values.get(field)
            if value is None:
                continue
            if type(value) is str:
                if test(event.lowered(field, value)):
                    return True
            elif type(value) is list:
                if any(test(text.lower()) for text in texts_of(value)):
                    return True
            else:
                scalar = text_of(value)
                if scalar is not None and test(scalar.lower()):
                    return True
        return False
