"""Facts about a run that reports show beside the alerts (plain data: sinks import no engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class RunInfo:
    """What was hunted and how much was read; filled in by the caller when the run ends."""

    inputs: tuple[str, ...] = ()
    rules: int = 0
    rules_skipped: int = 0
    sources: int = 0
    events: int = 0
    unreadable: int = 0
    elapsed: float = 0.0
    version: str = ""
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
