"""`watchpost watch` with one hostile kind of line, for the fault run (`tests/watch/fault_run.py`):
an event whose ``Note`` field is `POISON` makes rule matching raise, as a matcher bug met on
hostile input would. Run as ``python -m tests.watch.poisoned_watch`` with `watch`'s arguments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from watchpost.commands.watch import watch
from watchpost.events import Event
from watchpost.hunting.ruleset import RuleIndex

POISON = "POISON-PILL"
_original = RuleIndex.match


def _hostile(self: RuleIndex, event: Event) -> Iterator[Any]:
    if event.fields.get("Note") == POISON:
        raise RecursionError("a hostile line the matcher cannot handle")
    return _original(self, event)


if __name__ == "__main__":
    RuleIndex.match = _hostile  # type: ignore[method-assign]
    watch()
