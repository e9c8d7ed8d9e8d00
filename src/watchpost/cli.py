"""The `watchpost` command: a thin layer over `watchpost.hunting` (engine, ruleset) and the sinks.

Subcommands that live in `watchpost.commands` are registered at the end of this module.
"""

from __future__ import annotations

import glob
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import IO, Any

import click

from watchpost.commands.examples import examples_folder
from watchpost.commands.hunt_choices import AnalystChoices, analyst_options, describe_hunt
from watchpost.commands.rule_selection import rule_selection_options
from watchpost.commands.time_options import parse_time_range, parse_tz
from watchpost.errors import InputNotFound, NoRunnableRules, WatchpostError
from watchpost.exit_codes import (
    EXIT_ALERTS,
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_RULES,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
)
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.reporting import print_load_problems, print_summary
from watchpost.rules.model import LEVELS
from watchpost.rules.selection import RuleSelection
from watchpost.sinks.formats import BINARY_FORMATS, OUTPUT_FORMATS, STREAMING_FORMATS
from watchpost.sinks.run_info import RunInfo

GLOB_CHARACTERS = frozenset("*?[")
HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


DEBUG = {"on": bool(os.environ.get("WATCHPOST_DEBUG"))}
"""Whether an unexpected error prints its whole trace (``--debug`` or ``WATCHPOST_DEBUG=1``)."""


class GuardedGroup(click.Group):
    """The command group, run so that every outcome has its exit status (`watchpost.exit_codes`)
    and no Python traceback reaches a user unless ``--debug`` asks for it."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            returned = super().main(*args, **kwargs)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("watchpost: interrupted", err=True)
            sys.exit(EXIT_SIGINT)
        except BrokenPipeError:
            silence_stdout()
            sys.exit(EXIT_BROKEN_PIPE)
        except NoRunnableRules as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_RULES)
        except WatchpostError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except Exception as error:  # the last line of defence: one line, the trace on demand
            report_internal_error(error)
            sys.exit(EXIT_INTERNAL)
        sys.exit(returned if isinstance(returned, int) else EXIT_OK)


def report_internal_error(error: BaseException) -> None:
    """One line naming the error and where it arose; the whole trace with ``--debug``."""
    if DEBUG["on"]:
        traceback.print_exception(error)
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    from watchpost.sinks.terminal_text import sanitise_terminal

    message = sanitise_terminal(f"{type(error).__name__}: {error}", 400)
    click.echo(f"watchpost: internal error: {message}{where}", err=True)
    if not DEBUG["on"]:
        click.echo("rerun with --debug (or WATCHPOST_DEBUG=1) for the whole trace, and report it", err=True)


def silence_stdout() -> None:
    """Point standard output at /dev/null so that flushing it at exit raises no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=GuardedGroup, context_settings=HELP_SETTINGS)
@click.version_option(package_name="watchpost")
@click.option("--debug", is_flag=True, help="On an unexpected error, print the whole Python trace.")
def main(debug: bool) -> None:
    """watchpost: find System Network Connections Discovery (ATT&CK T1049) in logs with Sigma rules.

    Exit status: 0 completed, 1 alerts with --fail-on-alert (or a failed check), 2 usage error or
    no input readable, 3 rules could not run, 70 internal error, 130/143 interrupted
    (docs/cli.md#exit-status).
    """
    if debug:
        DEBUG["on"] = True


def expand_inputs(items: Sequence[str], urls: bool = False) -> list[str]:
    """Inputs as given, with globs expanded (``**`` recurses); a glob matching nothing is an error.

    An existing path is taken as it is even if its name holds glob characters; ``-`` is standard
    input. Quote globs so that watchpost, not the shell, expands them (the same on every shell).
    """
    expanded: list[str] = []
    for item in items:
        if item == "-" or Path(item).exists() or (urls and "://" in item):
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
              help="Worker processes matching several inputs in parallel (large JSON Lines and "
                   "syslog files in byte ranges); the alerts are the same whatever the number.")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="Where detection runs: here (with --jobs) or on Apache Spark (the spark extra; "
                   "inputs may then be s3://, abfs://, gs://, hdfs:// URLs; docs/spark.md).")
@click.option("--master", metavar="URL", help="Spark master with --engine spark (default: local[*]).")
@click.option("--spark-conf", "spark_conf", metavar="KEY=VALUE", multiple=True,
              help="Spark setting with --engine spark (repeatable).")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 1 when any alert was raised.")
@click.option("--strict", is_flag=True,
              help="Refuse to run (exit 3) when any rule cannot run, not only when none can.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress line and no closing summary on standard error.")
@analyst_options
def hunt(inputs: tuple[str, ...], use_examples: bool, rules: tuple[Path, ...], output_format: str,
         output: Path | None, input_format: str | None, min_level: str | None, selection: RuleSelection,
         since: str | None, until: str | None, time_field: str | None, display_tz: str,
         placeholders: Path | None, jobs: int, engine: str, master: str | None,
         spark_conf: tuple[str, ...], fail_on_alert: bool, strict: bool, quiet: bool,
         **choices: Any) -> None:
    """Run Sigma rules over log files, folders, globs, archives or `-` (standard input).

    Globs such as 'logs/**/*.evtx' are expanded by watchpost (quote them). Alerts go to standard
    output (or --output); problems, progress and the closing summary go to standard error.
    Ctrl-C (or SIGTERM) stops the hunt: the alerts found so far are written, marked as partial.
    """
    spark = spark_session_factory(engine, master, spark_conf)
    paths = expand_inputs(inputs, urls=spark is not None) + ([str(examples_folder())] if use_examples else [])
    if not paths:
        raise click.UsageError("give the logs to hunt (files, folders, globs, - for standard input), "
                               "or --examples")
    start, end = parse_time_range(since, until)
    tz = parse_tz(display_tz)
    analyst = AnalystChoices.of(choices)
    options = HuntOptions(rules=list(rules), input_format=check_input_format(input_format),
                          min_level=min_level, since=start, until=end, placeholders=placeholders,
                          jobs=jobs, strict=strict, host=analyst.host, merging=analyst.merging,
                          selection=selection, time_field=time_field)
    stream = open_output(output, output_format)
    err = sys.stderr
    hunter = load_hunt(options, err, quiet, spark)
    print_load_problems(hunter.ruleset.problems, err, quiet)
    print_load_problems(hunter.ruleset.report.notes, err, quiet, prefix="rule note")
    try:
        run_hunt(hunter, paths, output_format, stream, output is not None, tz, quiet, analyst)
    except BrokenPipeError:
        # The reader of our output went away (`watchpost hunt … | head`): stop quietly, like other
        # Unix tools, with the shell's status for SIGPIPE rather than the --fail-on-alert status.
        silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    if not quiet:
        print_summary(hunter, err)
    sys.exit(hunt_status(hunter, fail_on_alert))


def spark_session_factory(engine: str, master: str | None, conf: tuple[str, ...]) -> Any | None:
    """With ``--engine spark``: what makes the SparkSession when the hunt starts (None: local).
    Spark options without it, a bad ``--spark-conf`` or no pyspark are usage errors (exit 2)."""
    if engine != "spark":
        if master is not None or conf:
            raise click.BadParameter("--master and --spark-conf need --engine spark", param_hint="--engine")
        return None
    from watchpost.hunting.spark_session import parse_conf, session

    try:
        pairs = parse_conf(conf)
    except ValueError as bad:
        raise click.BadParameter(str(bad), param_hint="--spark-conf") from bad
    try:
        import pyspark  # noqa: F401
    except ImportError as missing:
        raise click.UsageError("--engine spark needs pyspark: pip install 'watchpost[spark]' "
                               "(and Java 17+)") from missing
    return lambda: session(master, pairs)


def load_hunt(options: HuntOptions, err: IO[str], quiet: bool, spark: Any | None = None) -> Hunt:
    """The hunt with its rules loaded; no runnable rule (any, with ``--strict``) ends the command
    with `EXIT_RULES` after saying which rules could not run and that none ran."""
    from watchpost.progress import rule_load_progress

    try:
        if spark is not None:
            from watchpost.hunting.spark import SparkHunt

            return SparkHunt(spark, options, progress=rule_load_progress(err, quiet=quiet))
        return Hunt(options, progress=rule_load_progress(err, quiet=quiet))
    except NoRunnableRules as refused:
        print_load_problems(list(refused.problems), err, quiet=False)
        print_load_problems(list(refused.notes), err, quiet=False, prefix="rule note")
        click.echo(f"error: {refused}: 0 rules run, nothing hunted", err=True)
        sys.exit(EXIT_RULES)
    except InputNotFound as missing:
        raise click.BadParameter(str(missing), param_hint="--rules") from missing


def hunt_status(engine: Hunt, fail_on_alert: bool) -> int:
    """The exit status of a finished hunt (`watchpost.exit_codes`)."""
    stats = engine.stats
    if stats.stopped is not None:
        return EXIT_SIGTERM if stats.stopped == "SIGTERM" else EXIT_SIGINT
    if stats.sources == 0 or stats.sources == stats.sources_failed:
        click.echo("error: no input could be read", err=True)
        return EXIT_USAGE
    return EXIT_ALERTS if fail_on_alert and stats.alerts else EXIT_OK


class StopOnSignals:
    """While the hunt runs, SIGINT and SIGTERM ask it to stop (the alerts found so far are still
    written); a second signal of the same kind ends the process at once."""

    def __init__(self, engine: Hunt) -> None:
        self._engine = engine
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        for number in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(number) is signal.SIG_IGN:
                continue  # ignored by whoever started us (a background job, nohup): keep it so
            self._saved[number] = signal.signal(number, self._stop)
        return self

    def _stop(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        self._engine.request_stop(name)
        signal.signal(number, signal.SIG_DFL if number == signal.SIGTERM else signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._saved.items():
            signal.signal(number, handler)


def run_hunt(engine: Hunt, paths: list[str], output_format: str, stream: IO[Any], to_file: bool,
             tz: tzinfo, quiet: bool, analyst: AnalystChoices | None = None) -> None:
    """Feed the alerts of ``paths`` to the sink (or the sinks of ``--output-dir``), with a
    progress line on a terminal."""
    from watchpost.progress import hunt_progress, is_terminal
    from watchpost.sinks.directory import open_hunt_sink

    err = sys.stderr
    chosen = analyst or AnalystChoices()
    sink = open_hunt_sink(output_format, stream, tz, lambda: run_info(engine, paths),
                          describe_hunt(engine), chosen.output_dir, chosen.formats)
    streams_to_terminal = (not to_file and output_format in STREAMING_FORMATS and is_terminal(sys.stdout))
    try:
        with StopOnSignals(engine), hunt_progress(engine.stats, err, quiet=quiet,
                                                  alerts_to_err_terminal=streams_to_terminal):
            for alert in engine.run(paths):
                sink.write(alert)
    finally:
        sink.close()
        if to_file:
            stream.close()


def run_info(engine: Hunt, paths: Sequence[str]) -> RunInfo:
    """What the reports say about the run, from the engine's counters."""
    from watchpost import __version__

    stats, ruleset = engine.stats, engine.ruleset
    return RunInfo(
        inputs=tuple(paths), rules=len(ruleset.detections) + len(ruleset.correlations),
        rules_skipped=len(ruleset.problems), sources=stats.sources, events=stats.events,
        unreadable=engine.problems.count("read"), elapsed=stats.elapsed, version=__version__,
        detection_rules=len(ruleset.detections), correlation_rules=len(ruleset.correlations),
        load_seconds=stats.load_seconds, sources_done=stats.sources_done, stopped=stats.stopped,
        settled=stats.settled, unfinished=tuple(stats.unfinished),
    )


def open_output(output: Path | None, output_format: str) -> IO[Any]:
    """Standard output, or ``output`` opened for writing; a file that cannot be written is a
    usage error (exit 2) named before any rule is loaded."""
    binary = output_format in BINARY_FORMATS
    if output is None:
        return sys.stdout.buffer if binary else sys.stdout
    try:
        if binary:
            return output.open("wb")
        return output.open("w", encoding="utf-8", newline="")
    except OSError as error:
        reason = error.strerror or str(error)
        raise click.BadParameter(f"cannot write {output}: {reason}", param_hint="--output") from error


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
