"""The `watchpost` command: a thin layer over `watchpost.engine` and `watchpost.ruleset`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import IO, Any

import click

from watchpost.engine import Hunt, HuntOptions
from watchpost.reporting import print_load_problems, print_summary
from watchpost.rules.model import LEVELS
from watchpost.sinks.base import Sink

EXIT_OK, EXIT_ALERTS, EXIT_USAGE = 0, 1, 2
OUTPUT_FORMATS = ("table", "jsonl", "json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="watchpost")
def main() -> None:
    """watchpost: find System Network Connections Discovery (ATT&CK T1049) in logs with Sigma rules."""


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from error
    if moment.tzinfo is None:
        raise click.BadParameter(f"give a time zone (e.g. Z or +02:00): {value!r}")
    return moment.astimezone(UTC)


def parse_tz(value: str) -> tzinfo:
    if value.upper() in ("UTC", "Z"):
        return UTC
    try:
        sign = -1 if value.startswith("-") else 1
        hours, minutes = value.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except ValueError:
        pass
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value)
    except (KeyError, ValueError, OSError) as error:
        raise click.BadParameter(f"unknown time zone: {value!r}") from error


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--rules", "-r", "rules", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Rule files or folders (repeatable). Default: the bundled T1049 pack.")
@click.option("--format", "-f", "output_format", type=click.Choice(OUTPUT_FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write alerts to this file instead of standard output.")
@click.option("--input-format", type=click.Choice(["evtx", "xml", "json"]),
              help="Read every input as this format instead of detecting it per file.")
@click.option("--min-level", type=click.Choice(LEVELS), help="Only alerts of this level or higher.")
@click.option("--from", "since", help="Only events at or after this ISO 8601 time (with zone).")
@click.option("--to", "until", help="Only events at or before this ISO 8601 time (with zone).")
@click.option("--tz", "display_tz", default="UTC", show_default=True,
              help="Time zone for the table (UTC, +02:00, Europe/Paris).")
@click.option("--placeholders", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of values for the `expand` modifier's placeholders.")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 1 when any alert was raised.")
@click.option("--quiet", "-q", is_flag=True, help="No closing summary on standard error.")
def hunt(inputs: tuple[str, ...], rules: tuple[Path, ...], output_format: str, output: Path | None,
         input_format: str | None, min_level: str | None, since: str | None, until: str | None,
         display_tz: str, placeholders: Path | None, fail_on_alert: bool, quiet: bool) -> None:
    """Run Sigma rules over log files, folders, archives or `-` (standard input)."""
    for item in inputs:
        if item != "-" and not Path(item).exists():
            raise click.BadParameter(f"no such file or folder: {item}", param_hint="INPUTS")
    options = HuntOptions(rules=list(rules), input_format=input_format, min_level=min_level,
                          since=parse_time(since), until=parse_time(until), placeholders=placeholders)
    engine = Hunt(options)
    err = click.get_text_stream("stderr")
    print_load_problems(engine.ruleset.problems, err, quiet)
    print_load_problems(engine.ruleset.report.notes, err, quiet, prefix="rule note")
    stream: IO[Any] = open_output(output, output_format)
    sink = make_sink(output_format, stream, parse_tz(display_tz))
    try:
        for alert in engine.run(list(inputs)):
            sink.write(alert)
    finally:
        sink.close()
        if output is not None:
            stream.close()
    if not quiet:
        print_summary(engine, err)
    if engine.stats.sources and engine.stats.sources == engine.stats.sources_failed:
        sys.exit(EXIT_USAGE)
    if engine.stats.sources == 0:
        click.echo("error: no input could be read", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_ALERTS if fail_on_alert and engine.stats.alerts else EXIT_OK)


def open_output(output: Path | None, output_format: str) -> IO[Any]:
    binary = output_format in ("jsonl", "json")
    if output is None:
        return sys.stdout.buffer if binary else sys.stdout
    return output.open("wb" if binary else "w", encoding=None if binary else "utf-8")


def make_sink(output_format: str, stream: IO[Any], tz: tzinfo) -> Sink:
    from watchpost.sinks.jsonl import JsonlSink, JsonSink
    from watchpost.sinks.table import TableSink

    if output_format == "jsonl":
        return JsonlSink(stream)
    if output_format == "json":
        return JsonSink(stream)
    return TableSink(stream, tz=tz)


@main.group()
def rules() -> None:
    """Inspect and check rules."""


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--placeholders", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of values for the `expand` modifier's placeholders.")
def rules_check(paths: tuple[Path, ...], placeholders: Path | None) -> None:
    """Load and compile rules; list every rule that cannot run, with the reason."""
    from watchpost.ruleset import load_ruleset

    ruleset = load_ruleset(list(paths), placeholders=placeholders)
    out = click.get_text_stream("stdout")
    for problem in ruleset.problems:
        out.write(problem.describe() + "\n")
    for note in ruleset.report.notes:
        out.write("note: " + note.describe() + "\n")
    report = ruleset.report
    runnable = len(ruleset.detections) + len(ruleset.correlations)
    out.write(f"{report.files} files, {runnable} rules runnable "
              f"({len(ruleset.detections)} detection, {len(ruleset.correlations)} correlation), "
              f"{len(ruleset.problems)} problems\n")
    sys.exit(EXIT_ALERTS if ruleset.problems else EXIT_OK)
