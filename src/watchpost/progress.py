"""A live progress line on standard error while a hunt runs: inputs, events read, events/s, alerts.

It is drawn by rich's refresh thread a few times a second from the engine's counters
(`HuntStats`); the hunt's own loop does no extra work for it. It is shown only when standard error
is a terminal, not with ``--quiet``, and not when alerts stream to that same terminal (the line
and the alerts would tear each other); it disappears when the hunt ends, before the closing summary.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # rich takes ~0.1-0.25 s to import: only a hunt that shows the line loads it
    from rich.console import Console
    from rich.text import Text

REFRESHES_PER_SECOND = 4


class Counters(Protocol):
    """The counters the line shows (`watchpost.engine.HuntStats` has them)."""

    sources: int
    events: int
    alerts: int


class ProgressLine:
    """The renderable: rich calls `__rich__` on each refresh."""

    def __init__(self, stats: Counters) -> None:
        self._stats = stats
        self._started = time.monotonic()
        self._events_at_start = stats.events

    def __rich__(self) -> Text:
        from rich.text import Text

        return Text(self.describe(), style="dim")

    def describe(self) -> str:
        stats = self._stats
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = (stats.events - self._events_at_start) / elapsed
        done = getattr(stats, "sources_done", None)  # shown when the engine counts finished inputs
        files = f"{done}/{stats.sources}" if isinstance(done, int) else f"{stats.sources}"
        return (f"hunting… inputs {files} · events {stats.events:,} · {rate:,.0f} events/s · "
                f"alerts {stats.alerts:,} · {elapsed:,.0f}s")


class HuntProgress(AbstractContextManager["HuntProgress"]):
    """Shows a `ProgressLine` on ``console`` while the ``with`` block runs; erased at the end."""

    def __init__(self, stats: Counters, console: Console) -> None:
        from rich.live import Live

        self.line = ProgressLine(stats)
        self._live = Live(self.line, console=console, refresh_per_second=REFRESHES_PER_SECOND,
                          transient=True, redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> HuntProgress:
        self._live.start(refresh=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._live.stop()


def is_terminal(stream: IO[Any]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def hunt_progress(stats: Counters, err: IO[str], *, quiet: bool,
                  alerts_to_err_terminal: bool) -> AbstractContextManager[Any]:
    """A `HuntProgress` when it should show, else a context that does nothing.

    ``alerts_to_err_terminal``: alerts stream, as they come, to the terminal ``err`` is on.
    """
    if quiet or alerts_to_err_terminal or not is_terminal(err):
        return nullcontext()
    from rich.console import Console

    return HuntProgress(stats, Console(file=err, highlight=False, markup=False, emoji=False))
