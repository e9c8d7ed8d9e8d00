"""Rule descriptions the rest of the engine uses without importing pySigma.

`RuleMeta` is what alerts and sinks see of a rule. `LogsourceGate` says which events a rule variant
may see, by the readers' logsource hints; Windows channel and EventID restrictions are not gates but
conditions added to the rule by the logsource pipelines (see `watchpost.rules.logsources`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from watchpost.events import LogsourceHint


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """A rule's identity and descriptive fields, as alerts report them."""

    id: str
    title: str
    level: str
    path: str
    tags: tuple[str, ...] = ()
    status: str | None = None
    description: str | None = None
    author: str | None = None
    falsepositives: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    name: str | None = None
    logsource: tuple[tuple[str, str], ...] = ()
    kind: str = "detection"  # "detection" | "correlation"
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LogsourceGate:
    """Logsource terms an event's hint must agree with (None: no restriction)."""

    product: str | None = None
    service: str | None = None
    category: str | None = None

    def admits(self, hint: LogsourceHint) -> bool:
        return (
            (self.product is None or self.product == hint.product)
            and (self.service is None or self.service == hint.service)
            and (self.category is None or self.category == hint.category)
        )


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule that cannot run (or a part of it), with the reason."""

    path: str
    rule: str | None
    reason: str

    def describe(self) -> str:
        who = f" [{self.rule}]" if self.rule else ""
        return f"{self.path}{who}: {self.reason}"


LEVELS = ("informational", "low", "medium", "high", "critical")


def level_rank(level: str | None) -> int:
    """Order of a Sigma level (unknown levels rank lowest)."""
    try:
        return LEVELS.index((level or "").lower())
    except ValueError:
        return -1


@dataclass
class LoadReport:
    """What loading a set of rule files found."""

    files: int = 0
    rules: int = 0
    problems: list[RuleProblem] = field(default_factory=list)
    notes: list[RuleProblem] = field(default_factory=list)  # rules that run, with a caveat


READING = "reading rule files"
COMPILING = "compiling rules"

LoadProgress = Callable[[str, int, int], None]
"""Told ``(stage, done, total)`` while a rule set loads: `READING` counts files, then
`COMPILING` counts rules (see `watchpost.hunting.ruleset.load_ruleset`)."""


def failure_reason(error: BaseException) -> str:
    """Why reading or compiling a rule failed unexpectedly, in one line for a rule problem."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read (RecursionError)"
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
