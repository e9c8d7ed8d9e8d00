"""The exceptions the API raises when a hunt cannot do what it was asked (never for bad log content,
which is a `watchpost.problems.Problem`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchpost.rules.model import RuleProblem


class WatchpostError(Exception):
    """Something the caller asked for cannot be done; the message says what and where."""


class InputNotFound(WatchpostError, FileNotFoundError):
    """A log or rule path given does not exist."""

    def __init__(self, path: str, what: str = "input") -> None:
        super().__init__(f"no such {what} file or folder: {path}")
        self.path = path


class NoRunnableRules(WatchpostError):
    """No rule of the given rule set can run (or, with ``strict``, some rule cannot)."""

    def __init__(self, message: str, problems: Sequence[RuleProblem],
                 notes: Sequence[RuleProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)
        self.notes = tuple(notes)
        """Why rules were left out on purpose (rule filters matching nothing, noisy rules)."""
