"""Leaf matchers: one test on one field (keyword searches are in `keyword_search`).

Conventions shared by all leaves (see `watchpost.matching.event_values` for string forms):

- a missing field and a field whose value is None have no value: no leaf matches them except
  `NullValue` (``field: null``) and `FieldExists` (``exists`` only asks whether the name is present);
- a multi-valued field (list) matches when any element matches;
- case-insensitive tests get the field's text lower-cased once per event (`Event.lowered`) for scalar
  strings, and element by element for lists.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from ipaddress import IPv4Network, IPv6Network

from watchpost.events import Event
from watchpost.matching.event_values import (
    Number,
    datetime_of,
    ip_of,
    number_of,
    scalars_of,
    text_of,
    texts_of,
)
from watchpost.matching.nodes import NO_EQUALITIES, Equalities, Literals, Node
from watchpost.matching.string_patterns import TextCall, TextTest, required_texts


@dataclass(frozen=True, slots=True)
class FieldText(Node):
    """String patterns (exact/prefix/suffix/contains/wildcard/regex, numbers, booleans) on a field."""

    field: str
    cased: bool
    test: TextTest
    _call: TextCall = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_call", self.test.call)

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        if type(value) is str:
            return bool(self._call(value if self.cased else event.lowered(self.field, value)))
        if value is None:
            return False
        call = self._call
        if type(value) is list:
            cased = self.cased
            for text in texts_of(value):  # noqa: SIM110 - a loop beats any() on this hot path
                if call(text if cased else text.lower()):
                    return True
            return False
        scalar = text_of(value)
        return scalar is not None and bool(call(scalar if self.cased else scalar.lower()))

    def cost(self) -> int:
        return self.test.cost

    def required_equalities(self) -> Equalities:
        exact = self.test.exact
        if exact is None:
            return NO_EQUALITIES
        if self.cased:
            exact = frozenset(value.lower() for value in exact)
        return {self.field: exact}

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> Literals | None:
        if self.field in ignore:
            return None
        found = pattern_literals(self.test, self.cased)
        return None if found is None else frozenset((self.field, literal) for literal in found)

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


def pattern_literals(test: TextTest, cased: bool) -> frozenset[str] | None:
    """Lower-case literals one of which occurs in the lower-cased text any of ``test``'s
    patterns matches (None when some pattern requires none)."""
    found: set[str] = set()
    for pattern in test.patterns:
        literals = required_texts(pattern)
        if not literals:
            return None
        for literal in literals:
            if cased:  # the lower-cased text holds the lower-cased literal when it is ASCII
                if not literal.isascii():
                    return None
                literal = literal.lower()
            found.add(literal)
    return frozenset(found) if found else None


@dataclass(frozen=True, slots=True)
class NullValue(Node):
    """``field: null``: the field is missing, None, or an empty list. An empty string is a value."""

    field: str

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        return value is None or (type(value) is list and not value)

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


@dataclass(frozen=True, slots=True)
class FieldExists(Node):
    """``field|exists: true/false``: whether the event has the field at all, whatever its value."""

    field: str
    exists: bool

    def matches(self, event: Event) -> bool:
        return (self.field in event.fields) is self.exists

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class FieldInNetworks(Node):
    """``cidr``: the field's text is an IP address inside one of the networks (v4 or v6).

    An IPv4-mapped IPv6 address (``::ffff:10.1.2.3``) is also tried as its IPv4 address. Values that
    are not IP addresses do not match.
    """

    field: str
    networks: tuple[Network, ...]

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        if value is None:
            return False
        for text in texts_of(value):
            address = ip_of(text)
            if address is None:
                continue
            mapped = getattr(address, "ipv4_mapped", None)
            for network in self.networks:
                if address in network or (mapped is not None and mapped in network):
                    return True
        return False

    def cost(self) -> int:
        return 5

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


class Comparison(Enum):
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    EQ = "=="
    NEQ = "!="


_OPERATORS: dict[Comparison, Callable[[Number, Number], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LTE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GTE: operator.ge,
    Comparison.EQ: operator.eq,
    Comparison.NEQ: operator.ne,
}


@dataclass(frozen=True, slots=True)
class NumberCompare(Node):
    """``gt``/``gte``/``lt``/``lte``: the field, read as a number, compares true with the bound.

    Non-numeric values do not match (see `event_values.number_of` for what reads as a number).
    """

    field: str
    comparison: Comparison
    bound: Number

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        if value is None:
            return False
        compare = _OPERATORS[self.comparison]
        for item in scalars_of(value):
            number = number_of(item)
            if number is not None and compare(number, self.bound):
                return True
        return False

    def cost(self) -> int:
        return 3

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


class TimePart(Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def time_part_of(moment: datetime, part: TimePart) -> int:
    """One part of a date-time as the Sigma time modifiers define it (week: ISO 8601 week number)."""
    if part is TimePart.MINUTE:
        return moment.minute
    if part is TimePart.HOUR:
        return moment.hour
    if part is TimePart.DAY:
        return moment.day
    if part is TimePart.WEEK:
        return moment.isocalendar().week
    if part is TimePart.MONTH:
        return moment.month
    return moment.year


@dataclass(frozen=True, slots=True)
class TimePartCompare(Node):
    """``minute``/``hour``/``day``/``week``/``month``/``year`` (optionally with ``gt`` & co.).

    The field's value is read as a date-time (`event_values.datetime_of`); the part is compared as
    written in the value, without time zone conversion. Values that are no date-time do not match.
    """

    field: str
    part: TimePart
    comparison: Comparison
    bound: int

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        if value is None:
            return False
        compare = _OPERATORS[self.comparison]
        for item in scalars_of(value):
            moment = datetime_of(item)
            if moment is not None and compare(time_part_of(moment, self.part), self.bound):
                return True
        return False

    def cost(self) -> int:
        return 6

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field,))


class FieldRelation(Enum):
    EQUALS = "equals"
    STARTSWITH = "startswith"
    ENDSWITH = "endswith"
    CONTAINS = "contains"


@dataclass(frozen=True, slots=True)
class FieldReference(Node):
    """``fieldref``: the field's value equals (starts with, ends with, contains) another field's value.

    Compared as lower-cased string forms (Sigma strings are case-insensitive). With multi-valued
    fields any pair of values may match; a missing or None field on either side does not match.
    """

    field: str
    other: str
    relation: FieldRelation

    def matches(self, event: Event) -> bool:
        value = event.fields.get(self.field)
        reference = event.fields.get(self.other)
        if value is None or reference is None:
            return False
        wanted = [text.lower() for text in texts_of(reference)]
        relation = self.relation
        for text in texts_of(value):
            text = text.lower()
            for other in wanted:
                if relation is FieldRelation.EQUALS:
                    hit = text == other
                elif relation is FieldRelation.STARTSWITH:
                    hit = text.startswith(other)
                elif relation is FieldRelation.ENDSWITH:
                    hit = text.endswith(other)
                else:
                    hit = other in text
                if hit:
                    return True
        return False

    def cost(self) -> int:
        return 4

    def referenced_fields(self) -> frozenset[str]:
        return frozenset((self.field, self.other))
