"""Keyword (field-less) searches: a value may occur in the string form of any field of the event.

The Sigma specification defines keywords as a search "across an entire event" without saying how;
backends run them as full-text searches. Here a keyword value matches when it occurs anywhere
(implicit ``*`` on both sides, inner wildcards honoured) in the string form of some value of some
field - one field at a time, so a keyword never spans two fields. Regular expressions search each
value unanchored. Keywords are case-insensitive unless ``cased``.

Fast path: when every keyword is a plain substring (no wildcard, no regex, no line break), the
string forms of all fields are joined by line breaks once per event and each keyword rule does one
search in that text; a needle without a line break cannot match across two fields. The joined text
of the most recent event is cached (by identity, so the event's fields must not change between
matching calls - readers build events once).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from watchpost.events import Event
from watchpost.matching.event_values import texts_of
from watchpost.matching.field_matchers import pattern_literals
from watchpost.matching.nodes import Literals, Node
from watchpost.matching.string_patterns import PatternKind, TextCall, TextTest

_SEPARATOR = "\n"


class _JoinedTexts:
    """All string forms of the last event searched, joined (raw and lower-cased)."""

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[Event | None, str, str] = (None, "", "")

    def of(self, event: Event, cased: bool) -> str:
        entry = self._entry
        if entry[0] is not event:
            raw = _SEPARATOR.join(_string_forms(event))
            entry = (event, raw, raw.lower())
            self._entry = entry  # one tuple store: threads see either the old or the new entry
        return entry[1] if cased else entry[2]


def _string_forms(event: Event) -> list[str]:
    """Every string form of every field value, in field order (strings taken as they are; ints,
    common in Windows events, converted here rather than through `texts_of`: 2.5x faster)."""
    forms: list[str] = []
    add = forms.append
    for value in event.fields.values():
        kind = type(value)
        if kind is str:
            add(value)
        elif kind is int:
            add(str(value))
        elif value is not None:
            forms.extend(texts_of(value))
    return forms


_JOINED = _JoinedTexts()

ANY_FIELD = "\x00any field"
"""The pseudo-field of keyword literals in `Node.required_literals`: the literal occurs in the
lower-cased string form of some field (`lowered_joined` holds them all)."""


def lowered_joined(event: Event) -> str:
    """The lower-cased string forms of all of ``event``'s fields, joined by line breaks."""
    return _JOINED.of(event, False)


def joinable(test: TextTest) -> bool:
    """Whether ``test`` can run on the joined text: only plain substrings without line breaks."""
    return all(
        pattern.kind is PatternKind.CONTAINS and _SEPARATOR not in pattern.text for pattern in test.patterns
    )


@dataclass(frozen=True, slots=True)
class KeywordText(Node):
    """Keyword search: the patterns match the string form of any value of any field."""

    cased: bool
    test: TextTest
    _call: TextCall = dataclasses.field(init=False, repr=False, compare=False)
    _joined: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_call", self.test.call)
        object.__setattr__(self, "_joined", joinable(self.test))

    def matches(self, event: Event) -> bool:
        call = self._call
        cased = self.cased
        if self._joined:
            return bool(call(_JOINED.of(event, cased)))
        lowered = event.lowered
        for name, value in event.fields.items():
            if type(value) is str:
                if call(value if cased else lowered(name, value)):
                    return True
            elif value is not None:
                for text in texts_of(value):
                    if call(text if cased else text.lower()):
                        return True
        return False

    def cost(self) -> int:
        return 20 + self.test.cost

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> Literals | None:
        found = pattern_literals(self.test, self.cased)
        return None if found is None else frozenset((ANY_FIELD, literal) for literal in found)

    def searches_keywords(self) -> bool:
        return True
