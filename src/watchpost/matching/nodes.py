"""The compiled condition tree: a base for all matcher nodes and the boolean operators.

Every node is an immutable (frozen, slotted) dataclass with ``matches(event) -> bool``. Nodes also
answer two load-time questions the engine uses to index rules:

- `Node.required_equalities`: field -> lower-cased string forms, one of which every matching event
  must have in that field (for a multi-valued field: in at least one element). A rule with
  ``{"EventID": {"1"}}`` can be skipped for every event whose EventID is not 1;
- `Node.required_literals`: (field, lower-case literal) pairs, one of which every matching event
  has: the literal occurs in the lower-cased text of that field (of one element, for a list).
  None means no such guarantee. The engine's literal prefilter (`matching.literal_prefilter`)
  skips a rule for an event that contains none of its literals;
- `Node.required_literal_sets`: several such sets that must *all* be met (one per child of an
  AND that has literals): the prefilter checks the others after the most selective one;
- `Node.referenced_fields`: the fields the node reads (keyword searches read every field and are
  reported by `Node.searches_keywords`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import prod

from watchpost.events import Event

Equalities = Mapping[str, frozenset[str]]

NO_EQUALITIES: Equalities = {}

MAX_LITERAL_SETS = 8
"""An OR states at most this many literal sets (one per combination of its branches' sets)."""

Literals = frozenset[tuple[str, str]]
"""(field, lower-case literal) pairs: a matching event has at least one (see `required_literals`)."""


class Node:
    """Base of compiled matcher nodes."""

    __slots__ = ()

    def matches(self, event: Event) -> bool:
        raise NotImplementedError

    def cost(self) -> int:
        """Rough relative evaluation cost; AND/OR evaluate cheap children first."""
        return 1

    def required_equalities(self) -> Equalities:
        return NO_EQUALITIES

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> Literals | None:
        """See the module text; literals of the fields in ``ignore`` are not offered."""
        return None

    def required_literal_sets(self, ignore: frozenset[str] = frozenset()) -> tuple[Literals, ...]:
        """Literal sets of `required_literals` kind that a matching event meets every one of."""
        found = self.required_literals(ignore)
        return () if found is None else (found,)

    def referenced_fields(self) -> frozenset[str]:
        return frozenset()

    def searches_keywords(self) -> bool:
        return False


def _ordered(children: tuple[Node, ...]) -> tuple[Node, ...]:
    return tuple(sorted(children, key=lambda child: child.cost()))


@dataclass(frozen=True, slots=True)
class AllOf(Node):
    """AND: every child matches (children sorted cheapest first)."""

    children: tuple[Node, ...]
    _tests: tuple[Callable[[Event], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", _ordered(self.children))
        object.__setattr__(self, "_tests", tuple(child.matches for child in self.children))

    def matches(self, event: Event) -> bool:
        for test in self._tests:  # noqa: SIM110 - a loop beats all() on this hot path
            if not test(event):
                return False
        return True

    def cost(self) -> int:
        return sum(child.cost() for child in self.children)

    def required_equalities(self) -> Equalities:
        # Each child's requirement holds; for a field required by several children the smallest
        # set is kept (intersecting would be wrong for multi-valued fields: [a, b] meets {a} and {b}).
        merged: dict[str, frozenset[str]] = {}
        for child in self.children:
            for name, values in child.required_equalities().items():
                known = merged.get(name)
                if known is None or len(values) < len(known):
                    merged[name] = values
        return merged

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> Literals | None:
        # Every child's literals are required; the most selective set is enough.
        best: Literals | None = None
        for child in self.children:
            found = child.required_literals(ignore)
            if found is not None and (best is None or literal_selectivity(found) > literal_selectivity(best)):
                best = found
        return best

    def required_literal_sets(self, ignore: frozenset[str] = frozenset()) -> tuple[Literals, ...]:
        # Every child must match, so every child's requirement holds.
        found = (literals for child in self.children for literals in child.required_literal_sets(ignore))
        return tuple(dict.fromkeys(found))

    def referenced_fields(self) -> frozenset[str]:
        return frozenset().union(*(child.referenced_fields() for child in self.children))

    def searches_keywords(self) -> bool:
        return any(child.searches_keywords() for child in self.children)


def literal_selectivity(literals: Literals) -> tuple[int, int]:
    """Longer shortest literal first, then fewer literals."""
    return min(len(text) for _, text in literals), -len(literals)


@dataclass(frozen=True, slots=True)
class AnyOf(Node):
    """OR: some child matches (children sorted cheapest first)."""

    children: tuple[Node, ...]
    _tests: tuple[Callable[[Event], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", _ordered(self.children))
        object.__setattr__(self, "_tests", tuple(child.matches for child in self.children))

    def matches(self, event: Event) -> bool:
        for test in self._tests:  # noqa: SIM110 - a loop beats any() on this hot path
            if test(event):
                return True
        return False

    def cost(self) -> int:
        return sum(child.cost() for child in self.children)

    def required_equalities(self) -> Equalities:
        # A field is required only if every alternative requires it; its values are the union.
        if not self.children:
            return NO_EQUALITIES
        requirements = [child.required_equalities() for child in self.children]
        common = set(requirements[0]).intersection(*requirements[1:])
        return {
            name: frozenset().union(*(requirement[name] for requirement in requirements))
            for name in common
        }

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> Literals | None:
        # Only when every alternative requires literals: then one of all of them is required.
        if not self.children:
            return None
        found: set[tuple[str, str]] = set()
        for child in self.children:
            literals = child.required_literals(ignore)
            if literals is None:
                return None
            found |= literals
        return frozenset(found)

    def required_literal_sets(self, ignore: frozenset[str] = frozenset()) -> tuple[Literals, ...]:
        # (a and b) or c = (a or c) and (b or c): one set per choice of a set in every branch,
        # as long as there are few such choices; else the union of each branch's best set.
        choices = [child.required_literal_sets(ignore) for child in self.children]
        if not choices or not all(choices):
            return ()
        if prod(len(sets) for sets in choices) > MAX_LITERAL_SETS:
            union = self.required_literals(ignore)
            return () if union is None else (union,)
        combined: list[Literals] = [frozenset()]
        for sets in choices:
            combined = [done | literals for done in combined for literals in sets]
        return tuple(dict.fromkeys(combined))

    def referenced_fields(self) -> frozenset[str]:
        return frozenset().union(*(child.referenced_fields() for child in self.children))

    def searches_keywords(self) -> bool:
        return any(child.searches_keywords() for child in self.children)


@dataclass(frozen=True, slots=True)
class Not(Node):
    """NOT: the child does not match. Requires nothing of the event."""

    child: Node

    def matches(self, event: Event) -> bool:
        return not self.child.matches(event)

    def cost(self) -> int:
        return self.child.cost()

    def referenced_fields(self) -> frozenset[str]:
        return self.child.referenced_fields()

    def searches_keywords(self) -> bool:
        return self.child.searches_keywords()


@dataclass(frozen=True, slots=True)
class Nothing(Node):
    """A value that matches no event: a placeholder no one defined (an empty value list)."""

    reason: str

    def matches(self, event: Event) -> bool:
        return False
