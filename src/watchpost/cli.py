"""The `watchpost` command: a thin layer over `watchpost.engine`, `watchpost.ruleset` and the sinks.

Subcommands that live in `watchpost.commands` are registered at the end of this module.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import IO, Any

import click

from watchpost.commands.examples import examples_folder
from watchpost.commands.rule_selection import rule_selection_options
from watchpost.commands.time_options import parse_time_range, parse_tz
from watchpost.engine import Hunt, HuntOptions
from watchpost.reporting import print_load_problems, print_summary
from watchpost.rules.model import LEVELS
from watchpost.rules.selection import RuleSelection
from watchpost.sinks.formats import BINARY_FORMATS, OUTPUT_FORMATS, STREAMING_FORMATS, make_sink
from watchpost.sinks.run_info import RunInfo

EXIT_OK, EXIT_ALERTS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141
GLOB_CHARACTERS = frozenset("*?[")
HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=HELP_SETTINGS)
@click.version_option(package_name="watchpost")
def main() -> None:
    """watchpost: find System Network Connections Discovery (ATT&CK T1049) in logs with Sigma rules."""


def expand_inputs(items: Sequence[str]) -> list[str]:
    """Inputs as given, with globs expanded (``**`` recurses); a glob matching nothing is an error.

    An existing path is taken as it is even if its name holds glob characters; ``-`` is standard
    input. Quote globs so that watchpost, not the shell, expands them (the same on every shell).
    """
    expanded: list[str] = []
    for item in items:
        if item == "-" or Path(item).exists():
            expanded.append(item)
        elif GLOB_CHARACTERS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise click.BadParameter(f"no file matches {item!r}", param_hint="INPUTS")
            expanded.extend(matches)
        else:
            raise click.BadParameter(f"no such file or folder: {item}", param_hint="INPUTS")
    return list(dict.fromkeys(expanded))


def check_input_format(value: str | None) -> str | None:
    if value is None:
        return None
    from watchpost.readers.registry import FORMATS

    if value not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise click.BadParameter(f"unknown input format {value!r}; known: {known}",
                                 param_hint="--input-format")
    return value


@main.command(context_settings=HELP_SETTINGS)
@click.argument("inputs", nargs=-1, type=click.Path())  # click.Path: shells complete file names
@click.option("--examples", "use_examples", is_flag=True,
              help="Also hunt the example logs shipped with watchpost (a first run: "
                   "`watchpost hunt --examples`).")
@click.option("--rules", "-r", "rules", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Rule files or folders (repeatable). Default: the bundled T1049 pack.")
@click.option("--format", "-f", "output_format", type=click.Choice(OUTPUT_FORMATS), default="table",
              show_default=True, help="Output format (see docs/cli.md#output-formats).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write alerts to this file instead of standard output.")
@click.option("--input-format", metavar="NAME",
              help="Read every input as this format (evtx, xml, json, auditd, cloudtrail, ...) "
                   "instead of detecting it per file.")
@click.option("--min-level", type=click.Choice(LEVELS), help="Only alerts of this level or higher.")
@rule_selection_options
@click.option("--from", "since", metavar="TIME",
              help="Only events at or after this time: ISO 8601 with a zone (2024-05-01T10:00Z), a "
                   "date alone (UTC midnight, with a note) or relative to now (-24h, 7d, 90m).")
@click.option("--to", "until", metavar="TIME",
              help="Only events at or before this time (the forms of --from).")
@click.option("--timefield", "time_field", metavar="NAME",
              help="JSON input: take each event's time from this field (dotted for nested keys, "
                   "e.g. UtcTime or event.created) instead of the keys watchpost knows.")
@click.option("--tz", "display_tz", metavar="ZONE", default="UTC", show_default=True,
              help="Time zone for table, csv and html times (UTC, local, +02:00, Europe/Paris); "
                   "offsets are always shown. JSON outputs stay in UTC.")
@click.option("--placeholders", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of values for the `expand` modifier's placeholders.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes matching several inputs in parallel; the alerts are the same "
                   "whatever the number.")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 1 when any alert was raised.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress line and no closing summary on standard error.")
def hunt(inputs: tuple[str, ...], use_examples: bool, rules: tuple[Path, ...], output_format: str,
         output: Path | None, input_format: str | None, min_level: str | None, selection: RuleSelection,
         since: str | None, until: str | None, time_field: str | None, display_tz: str,
         placeholders: Path | None, jobs: int, fail_on_alert: bool, quiet: bool) -> None:
    """Run Sigma rules over log files, folders, globs, archives or `-` (standard input).

    Globs such as 'logs/**/*.evtx' are expanded by watchpost (quote them). Alerts go to standard
    output (or --output); problems, progress and the closing summary go to standard error.
    """
    paths = expand_inputs(inputs) + ([str(examples_folder())] if use_examples else [])
    if not paths:
        raise click.UsageError("give the logs to hunt (files, folders, globs, - for standard input), "
                               "or --examples")
    start, end = parse_time_range(since, until)
    tz = parse_tz(display_tz)
    options = HuntOptions(rules=list(rules), input_format=check_input_format(input_format),
                          min_level=min_level, since=start, until=end, placeholders=placeholders,
                          jobs=jobs, selection=selection, time_field=time_field)
    engine = Hunt(options)
    err = click.get_text_stream("stderr")
    print_load_problems(engine.ruleset.problems, err, quiet)
    print_load_problems(engine.ruleset.report.notes, err, quiet, prefix="rule note")
    try:
        run_hunt(engine, paths, output_format, output, tz, quiet)
    except BrokenPipeError:
        # The reader of our output went away (`watchpost hunt … | head`): stop quietly, like other
        # Unix tools, with the shell's status for SIGPIPE rather than the --fail-on-alert status.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    if not quiet:
        print_summary(engine, err)
    if engine.stats.sources and engine.stats.sources == engine.stats.sources_failed:
        sys.exit(EXIT_USAGE)
    if engine.stats.sources == 0:
        click.echo("error: no input could be read", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_ALERTS if fail_on_alert and engine.stats.alerts else EXIT_OK)


def run_hunt(engine: Hunt, paths: list[str], output_format: str, output: Path | None, tz: tzinfo,
             quiet: bool) -> None:
    """Feed the alerts of ``paths`` to the sink, with a progress line on a terminal."""
    from watchpost.progress import hunt_progress, is_terminal

    err = click.get_text_stream("stderr")
    stream: IO[Any] = open_output(output, output_format)
    sink = make_sink(output_format, stream, tz, lambda: run_info(engine, paths))
    streams_to_terminal = (output is None and output_format in STREAMING_FORMATS
                           and is_terminal(sys.stdout))
    try:
        with hunt_progress(engine.stats, err, quiet=quiet, alerts_to_err_terminal=streams_to_terminal):
            for alert in engine.run(paths):
                sink.write(alert)
    finally:
        sink.close()
        if output is not None:
            stream.close()


def run_info(engine: Hunt, paths: Sequence[str]) -> RunInfo:
    """What the reports say about the run, from the engine's counters."""
    from watchpost import __version__

    stats = engine.stats
    return RunInfo(
        inputs=tuple(paths), rules=len(engine.ruleset.detections) + len(engine.ruleset.correlations),
        rules_skipped=len(engine.ruleset.problems), sources=stats.sources, events=stats.events,
        unreadable=engine.problems.count("read"), elapsed=stats.elapsed, version=__version__,
    )


def open_output(output: Path | None, output_format: str) -> IO[Any]:
    binary = output_format in BINARY_FORMATS
    if output is None:
        return sys.stdout.buffer if binary else sys.stdout
    if binary:
        return output.open("wb")
    return output.open("w", encoding="utf-8", newline="")


@main.group(context_settings=HELP_SETTINGS)
def rules() -> None:
    """List, check and test rules."""


def register_hunt_commands() -> None:
    """`rules list` and `convert` (modules of their own under `watchpost.commands`)."""
    from watchpost.commands.convert import convert
    from watchpost.commands.rules_list import rules_list

    rules.add_command(rules_list)
    main.add_command(convert)


register_hunt_commands()


from watchpost.commands import register  # noqa: E402  (simulate, evaluate, rules test)

register(main, rules)

from watchpost.commands.watch import watch  # noqa: E402  (live detection: docs/watch.md)

main.add_command(watch)
