"""Compiled, immutable matchers: what the engine runs on every event."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from watchpost.events import Event
from watchpost.matching.nodes import Literals, Node
from watchpost.rules.model import LogsourceGate, RuleMeta


class CompileError(ValueError):
    """A rule (or a value in it) that cannot be turned into a matcher; the message says why."""


class Matcher(Protocol):
    """A compiled condition. Immutable; safe to share between threads and rules."""

    def matches(self, event: Event) -> bool: ...


@dataclass(frozen=True, slots=True)
class RuleMatcher:
    """A rule's compiled condition: `matches` plus the introspection the engine indexes rules by."""

    root: Node
    matches: Callable[[Event], bool] = dataclasses.field(init=False, repr=False, compare=False)
    """``matches(event) -> bool``: the root node's own method, without a wrapper call."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", self.root.matches)

    def required_equalities(self) -> dict[str, frozenset[str]]:
        """Field -> lower-cased string forms; every matching event has one of them in that field.

        E.g. ``{"EventID": frozenset({"4688"}), "Channel": frozenset({"security"})}`` for a rule whose
        condition ANDs those equalities at the top. For a multi-valued field, at least one element is
        in the set. Fields under NOT, or not required by every OR alternative, are left out; an empty
        dict means "no index restriction".
        """
        return dict(self.root.required_equalities())

    def required_literals(self, ignore: frozenset[str] = frozenset()) -> frozenset[tuple[str, str]] | None:
        """(field, lower-case literal) pairs one of which every matching event has in that field's
        lower-cased text (see `Node.required_literals`); None when the condition guarantees none.
        Fields in ``ignore`` (those an index already selects on) are not offered."""
        return self.root.required_literals(ignore)

    def required_literal_sets(self, ignore: frozenset[str] = frozenset()) -> tuple[Literals, ...]:
        """Sets of such pairs that a matching event meets every one of (one per AND-ed part with
        literals; `Node.required_literal_sets`); empty when there are none."""
        return self.root.required_literal_sets(ignore)

    def referenced_fields(self) -> frozenset[str]:
        """Fields the condition reads by name (keyword searches read all fields besides)."""
        return self.root.referenced_fields()

    def searches_keywords(self) -> bool:
        """True when the condition contains keyword (field-less) searches."""
        return self.root.searches_keywords()


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """One logsource variant of a rule: the events it may see and the condition they must meet."""

    label: str
    gate: LogsourceGate
    matcher: Matcher


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A detection rule ready to run: its description and its variants (any one may match)."""

    meta: RuleMeta
    variants: tuple[CompiledVariant, ...]

    def matches(self, event: Event) -> bool:
        hint = event.logsource
        for variant in self.variants:  # noqa: SIM110 - a loop beats any() on this hot path
            if variant.gate.admits(hint) and variant.matcher.matches(event):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Match:
    """One event satisfying one detection rule: what matching hands to correlation."""

    rule: RuleMeta
    event: Event
