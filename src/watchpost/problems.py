"""Problems met while reading logs or loading rules: reported, counted, never silently dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that could not be processed.

    ``stage`` is ``"read"`` (a log record, line or file skipped), ``"kept"`` (a record read and
    kept with something set to a default: a time it lacks becomes 1970-01-01), ``"rule"`` (a
    rule that cannot run) or ``"correlation"`` (late or dropped events); ``path`` names the
    file, ``place`` the record, line or rule inside it (None when the whole file is concerned).
    """

    stage: str
    path: str
    place: str | None
    reason: str

    def describe(self) -> str:
        where = self.path if self.place is None else f"{self.path} ({self.place})"
        return f"{where}: {self.reason}"


@dataclass
class ProblemLog:
    """Collects problems; keeps the first ``keep`` in full and counts all of them by stage."""

    keep: int = 10_000
    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)

    def add(self, stage: str, path: str, place: str | None, reason: str) -> None:
        self.counts[stage] += 1
        self.by_path[path] += 1
        if len(self.problems) < self.keep:
            self.problems.append(Problem(stage, path, place, reason))

    def count(self, stage: str | None = None) -> int:
        if stage is None:
            return sum(self.counts.values())
        return self.counts[stage]

    def of_stage(self, stage: str) -> list[Problem]:
        return [p for p in self.problems if p.stage == stage]
