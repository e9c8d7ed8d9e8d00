"""Compiled, immutable matchers: what the engine runs on every event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from watchpost.events import Event
from watchpost.rules.model import LogsourceGate, RuleMeta


class CompileError(ValueError):
    """A rule (or a value in it) that cannot be turned into a matcher; the message says why."""


class Matcher(Protocol):
    """A compiled condition. Immutable; safe to share between threads and rules."""

    def matches(self, event: Event) -> bool: ...


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
