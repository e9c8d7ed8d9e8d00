"""What `watchpost search` and `watchpost metrics` share with `hunt`: the inputs read through the
same readers (`watchpost.readers.registry`), the ``--from/--to`` range, problems reported and
counted as `hunt` reports them, and the exit status (`watchpost.exit_codes`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from watchpost.events import Event
from watchpost.exit_codes import EXIT_OK, EXIT_USAGE
from watchpost.problems import ProblemLog
from watchpost.sinks.terminal_text import sanitise_terminal

SHOW_AT_MOST = 20
Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass
class ScanSettings:
    """The inputs and range of one scan, checked and parsed from the command line."""

    paths: list[str]
    input_format: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tz: tzinfo | None = None


@dataclass
class ScanStats:
    """What a scan read, for the closing line and the exit status."""

    sources: int = 0
    sources_failed: int = 0
    events: int = 0
    in_range: int = 0
    problems: ProblemLog = field(default_factory=ProblemLog)


def scan_options(command: Command) -> Command:
    """The input options `search` and `metrics` share with `hunt` (same names, same meaning)."""
    options = [
        click.argument("inputs", nargs=-1, required=True),
        click.option("--input-format", metavar="NAME",
                     help="Read every input as this format (evtx, xml, json, auditd, cloudtrail, ...) "
                          "instead of detecting it per file."),
        click.option("--from", "since", metavar="TIME",
                     help="Only events at or after this ISO 8601 time (with zone)."),
        click.option("--to", "until", metavar="TIME",
                     help="Only events at or before this ISO 8601 time (with zone)."),
        click.option("--tz", "display_tz", metavar="ZONE", default="UTC", show_default=True,
                     help="Time zone for table and csv times (UTC, +02:00, Europe/Paris)."),
        click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write to this file instead of standard output."),
        click.option("--quiet", "-q", is_flag=True, help="No closing summary on standard error."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def scan_settings(inputs: Sequence[str], input_format: str | None, since: str | None,
                  until: str | None, display_tz: str) -> ScanSettings:
    """Parse the shared options exactly as `hunt` does (click.BadParameter: exit status 2)."""
    from watchpost.cli import check_input_format, expand_inputs
    from watchpost.commands.time_options import parse_time_range, parse_tz

    paths = expand_inputs(inputs)
    start, end = parse_time_range(since, until)
    return ScanSettings(paths, check_input_format(input_format), start, end, parse_tz(display_tz))


def scan_events(settings: ScanSettings, stats: ScanStats) -> Iterator[Event]:
    """The events of every input in ``--from/--to``, source after source, counted in ``stats``."""
    from watchpost.readers.registry import iter_sources, read_source

    problems = stats.problems
    sources = iter_sources([Path(p) if p != "-" else "-" for p in settings.paths], problems)
    since, until = settings.since, settings.until
    for source in sources:
        stats.sources += 1
        before = problems.by_path[source.name]
        count = 0
        for event in read_source(source, problems, settings.input_format):
            count += 1
            if (since is not None and event.timestamp < since) or (
                    until is not None and event.timestamp > until):
                continue
            stats.in_range += 1
            yield event
        stats.events += count
        if count == 0 and problems.by_path[source.name] > before:
            stats.sources_failed += 1


def print_scan_summary(stats: ScanStats, err: IO[str], found: str) -> None:
    """Unreadable files and records (as `hunt` lists them), then one line of counts."""
    problems = stats.problems
    for problem in problems.of_stage("read")[:SHOW_AT_MOST]:
        err.write(f"skipped: {sanitise_terminal(problem.describe(), 500)}\n")
    if problems.count("read") > SHOW_AT_MOST:
        err.write(f"... and {problems.count('read') - SHOW_AT_MOST} more unreadable records or files\n")
    for problem in problems.of_stage("kept")[:SHOW_AT_MOST]:
        err.write(f"kept: {sanitise_terminal(problem.describe(), 500)}\n")
    failed = f" ({stats.sources_failed} could not be read)" if stats.sources_failed else ""
    err.write(f"read {stats.sources} inputs{failed}, {stats.events} events ({stats.in_range} in range); "
              f"skipped {problems.count('read')} unreadable; {found}\n")


def exit_scan(stats: ScanStats) -> None:
    """Exit as `hunt` does: 2 when no input could be read, else 0."""
    if stats.sources == 0 or stats.sources == stats.sources_failed:
        click.echo("error: no input could be read", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)


def open_text_output(output: Path | None) -> IO[str]:
    """Standard output, or ``output`` opened for text (an unwritable path is a usage error)."""
    if output is None:
        return sys.stdout
    try:
        return output.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise click.BadParameter(f"cannot write {output}: {error.strerror}", param_hint="--output") from error
