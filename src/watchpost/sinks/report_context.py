"""How a hunt was asked for, for reports to record beside the alerts (plain data, like `RunInfo`):
the command line as given (options that differ from their defaults), the filters among them,
and the rules that ran."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleRun:
    """One rule the hunt ran: what the report lists."""

    id: str
    title: str
    level: str
    kind: str
    path: str


@dataclass(frozen=True)
class HuntDescription:
    command_line: str = ""
    options: tuple[tuple[str, str], ...] = ()
    """Each option given that changes what is hunted or shown (``--min-level high``...)."""
    rules: tuple[RuleRun, ...] = ()
