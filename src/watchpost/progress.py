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

from watchpost.rules.model import COMPILING

if TYPE_CHECKING:  # rich takes ~0.1-0.25 s to import: only a hunt that shows the line loads it
    from rich.console import Console
    from rich.text import Text

REFRESHES_PER_SECOND = 4


class Counters(Protocol):
    """The counters the line shows (`watchpost.hunting.engine.HuntStats` has them)."""

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
        found = getattr(stats, "found", 0)  # matched but not yet put in time order (--jobs)
        alerts = f"alerts {stats.alerts:,}"
        if isinstance(found, int) and found > stats.alerts:
            alerts += f" ({found:,} found, being put in time order)"
        return (f"hunting… inputs {files} · events {stats.events:,} · {rate:,.0f} events/s · "
                f"{alerts} · {elapsed:,.0f}s")


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


RULE_PROGRESS_DELAY = 0.3
"""Seconds a rule set loads before the count is shown (a small pack loads sooner: no flicker)."""
RULE_PROGRESS_INTERVAL = 0.1
"""Least seconds between two redraws of the count."""
_ERASE_LINE = "\r\x1b[2K"


class RuleLoadProgress:
    """``reading rule files N/M``, then ``compiling rules N/M``, on one terminal line.

    Called by the rule loader (a `watchpost.rules.model.LoadProgress`: stage, done, total) as it
    reads each file and compiles each rule; redrawn at most every `RULE_PROGRESS_INTERVAL`
    seconds once loading has taken `RULE_PROGRESS_DELAY`, and erased when the last rule is
    compiled (or by `close`), before anything else is written.
    """

    def __init__(self, err: IO[str], clock: Any = time.monotonic) -> None:
        self._err = err
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        finished = stage == COMPILING and done >= total
        if finished:
            self.close()
            return
        now = self._clock()
        if now - self._started < RULE_PROGRESS_DELAY:
            return
        if self._drawn_at is not None and now - self._drawn_at < RULE_PROGRESS_INTERVAL and done < total:
            return
        self._err.write(f"{_ERASE_LINE}{stage} {done:,}/{total:,}")
        self._err.flush()
        self._drawn_at = now

    def close(self) -> None:
        """Erase the line if it was drawn (safe to call more than once)."""
        if self._drawn_at is not None:
            self._err.write(_ERASE_LINE)
            self._err.flush()
            self._drawn_at = None


def rule_load_progress(err: IO[str], *, quiet: bool) -> RuleLoadProgress | None:
    """The ``progress`` to give `watchpost.hunting.ruleset.load_ruleset`: a `RuleLoadProgress` on a
    terminal ``err``, None when ``err`` is not a terminal or with ``--quiet``."""
    if quiet or not is_terminal(err):
        return None
    return RuleLoadProgress(err)
