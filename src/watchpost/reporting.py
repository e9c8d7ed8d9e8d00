"""The closing summary and load-problem listing a hunt prints on standard error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from watchpost.rules.model import LEVELS, RuleProblem
from watchpost.sinks.terminal_text import sanitise_terminal

if TYPE_CHECKING:
    from watchpost.hunting.engine import Hunt

SHOW_AT_MOST = 20
SHOW_FILES = 10


def print_load_problems(
    problems: Sequence[RuleProblem], err: IO[str], quiet: bool, prefix: str = "rule skipped"
) -> None:
    """Rules that cannot run (or run with a caveat): the first few in full, then a count."""
    if not problems or quiet:
        return
    for problem in problems[:SHOW_AT_MOST]:
        err.write(f"{prefix}: {sanitise_terminal(problem.describe(), 500)}\n")
    if len(problems) > SHOW_AT_MOST:
        more = len(problems) - SHOW_AT_MOST
        err.write(f"... and {more} more rules skipped (see `watchpost rules check`)\n")


def print_rules_summary(engine: Hunt, err: IO[str]) -> None:
    """How many rules ran (detection and correlation), how many could not and why, and how long
    loading them took (apart from the events' throughput)."""
    ruleset = engine.ruleset
    skipped = ruleset.problems
    ran = len(ruleset.detections) + len(ruleset.correlations)
    why = ""
    if skipped:
        reasons = Counter(_reason_kind(problem.reason) for problem in skipped)
        why = " (" + ", ".join(f"{count} {reason}" for reason, count in reasons.most_common(3)) + ")"
    err.write(f"rules: {ran} ran ({len(ruleset.detections)} detection, {len(ruleset.correlations)} "
              f"correlation), {len(skipped)} could not run{why}; loaded in "
              f"{engine.stats.load_seconds:.1f}s\n")


def _reason_kind(reason: str) -> str:
    """The first words of a rule problem's reason, to count problems of one kind together."""
    head = reason.split(":", 1)[0].strip()
    return sanitise_terminal(head if len(head) <= 60 else head[:57] + "...", 60)


def print_summary(engine: Hunt, err: IO[str]) -> None:
    """Files and events read, what was skipped and why, alerts by level and rule, elapsed time."""
    stats = engine.stats
    problems = engine.problems
    read_problems = problems.of_stage("read")
    for problem in read_problems[:SHOW_AT_MOST]:
        err.write(f"skipped: {sanitise_terminal(problem.describe(), 500)}\n")
    if problems.count("read") > SHOW_AT_MOST:
        err.write(f"... and {problems.count('read') - SHOW_AT_MOST} more unreadable records or files\n")
        by_file = ", ".join(f"{sanitise_terminal(path, 200)} {count}"
                            for path, count in problems.by_path.most_common(SHOW_FILES))
        err.write(f"problems by file: {by_file}\n")
    for problem in problems.of_stage("kept")[:SHOW_AT_MOST]:
        err.write(f"kept: {sanitise_terminal(problem.describe(), 500)}\n")
    for problem in problems.of_stage("correlation")[:SHOW_AT_MOST]:
        err.write(f"correlation: {sanitise_terminal(problem.describe(), 500)}\n")
    print_rules_summary(engine, err)
    rate = stats.events / stats.elapsed if stats.elapsed > 0 else 0.0
    failed = f" ({stats.sources_failed} could not be read)" if stats.sources_failed else ""
    kept = (f", {problems.count('kept')} notes on records kept"
            if problems.count("kept") else "")
    undecoded = (f"; {stats.undecoded} not decoded: no loaded rule can match them"
                 if stats.undecoded else "")
    err.write(
        f"read {stats.sources} inputs{failed}, {stats.events} events ({stats.events_in_range} in range"
        f"{undecoded}) "
        f"in {stats.elapsed:.1f}s ({rate:,.0f} events/s); skipped {problems.count('read')} unreadable{kept}\n"
    )
    if stats.stopped is not None:
        err.write(f"INCOMPLETE RUN (stopped by {stats.stopped}): {stats.sources_done} of {stats.sources} "
                  f"inputs read to the end"
                  + (f"; alerts are complete up to {stats.settled.isoformat()}" if stats.settled else "")
                  + "\n")
        if stats.unfinished:
            names = ", ".join(sanitise_terminal(name, 200) for name in stats.unfinished[:SHOW_FILES])
            err.write(f"not read to the end: {names}\n")
    levels = ", ".join(f"{level} {stats.alerts_by_level[level]}" for level in reversed(LEVELS)
                       if stats.alerts_by_level[level])
    err.write(f"{stats.alerts} alerts" + (f" ({levels})" if levels else "") + "\n")
    merged = engine.merging.counts
    if merged.merged or merged.repeats:
        err.write(f"  {merged.merged} alerts merged into the alert of the same activity in another log, "
                  f"{merged.repeats} exact repeats removed (-X)\n")
    for title, count in stats.alerts_by_rule.most_common(SHOW_AT_MOST):
        err.write(f"  {count:6d}  {sanitise_terminal(title, 200)}\n")
    if len(stats.alerts_by_rule) > SHOW_AT_MOST:
        rest = stats.alerts - sum(count for _, count in stats.alerts_by_rule.most_common(SHOW_AT_MOST))
        err.write(f"  {rest:6d}  ... from {len(stats.alerts_by_rule) - SHOW_AT_MOST} more rules\n")
