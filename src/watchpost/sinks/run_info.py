"""Facts about a run that reports show beside the alerts (plain data: sinks import no engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class RunInfo:
    """What was hunted, with which rules, how much was read, and whether the run completed;
    filled in by the caller when the run ends."""

    inputs: tuple[str, ...] = ()
    rules: int = 0
    """Rules that ran: detection and correlation rules together."""
    rules_skipped: int = 0
    sources: int = 0
    events: int = 0
    unreadable: int = 0
    elapsed: float = 0.0
    version: str = ""
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    detection_rules: int = 0
    correlation_rules: int = 0
    load_seconds: float = 0.0
    sources_done: int = 0
    stopped: str | None = None
    """Why the run ended early (``"SIGINT"``, ``"SIGTERM"``); None when it completed."""
    settled: datetime | None = None
    """Alerts about events up to this time are all in the output (the hunt's watermark)."""
    unfinished: tuple[str, ...] = ()
    """Inputs not read to their end (the first few) when the run stopped early."""

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def partial_note(self) -> str | None:
        """One line saying that the run is incomplete and how far it got; None when complete."""
        if self.stopped is None:
            return None
        settled = f"; alerts are complete up to {self.settled.isoformat()}" if self.settled else ""
        return (f"INCOMPLETE RUN (stopped by {self.stopped}): {self.sources_done} of {self.sources} "
                f"inputs read to the end, {self.events:,} events read{settled}")

    def to_dict(self) -> dict[str, Any]:
        """The run's metadata as written by JSON outputs (``run`` object of docs/alerts.md)."""
        return {
            "complete": self.complete,
            "stopped_by": self.stopped,
            "inputs": list(self.inputs),
            "sources": self.sources,
            "sources_done": self.sources_done,
            "unfinished": list(self.unfinished),
            "settled": self.settled.isoformat() if self.settled else None,
            "events": self.events,
            "unreadable": self.unreadable,
            "rules": {"ran": self.rules, "detection": self.detection_rules,
                      "correlation": self.correlation_rules, "skipped": self.rules_skipped,
                      "load_seconds": round(self.load_seconds, 3)},
            "elapsed_seconds": round(self.elapsed, 3),
            "version": self.version,
            "generated": self.generated.isoformat(),
        }
