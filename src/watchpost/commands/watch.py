"""`watchpost watch`: live detection over files, directories and standard input (docs/watch.md)."""

from __future__ import annotations

import signal
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, NoReturn

import click

from watchpost.exit_codes import EXIT_INTERNAL, EXIT_OK, EXIT_STATE, EXIT_UNDELIVERED
from watchpost.rules.model import LEVELS
from watchpost.sinks.terminal_text import sanitise_terminal

if TYPE_CHECKING:
    from watchpost.watch.delivery import DeliverySink
    from watchpost.watch.loop import Watch
    from watchpost.watch.state import StateStore

HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(context_settings=HELP_SETTINGS)
@click.argument("inputs", nargs=-1, required=True)
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the state file (positions, open windows, delivered alerts).")
@click.option("--rules", "-r", "rules", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Rule files or folders (repeatable). Default: the bundled T1049 pack.")
@click.option("--jsonl", type=click.Path(dir_okay=False, path_type=Path),
              help="Append alerts to this JSON Lines file (fsynced per batch).")
@click.option("--webhook", metavar="URL", help="POST each alert's JSON to this http(s) URL.")
@click.option("--syslog", metavar="TARGET", help="Send alerts as RFC 5424 to udp://HOST:PORT or tcp://HOST:PORT.")
@click.option("--terminal/--no-terminal", default=None,
              help="One line per alert on standard output (default: on when no other sink is given).")
@click.option("--input-format", metavar="NAME",
              help="Read every input as this format instead of detecting it.")
@click.option("--min-level", type=click.Choice(LEVELS), help="Only alerts of this level or higher.")
@click.option("--placeholders", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of values for the `expand` modifier's placeholders.")
@click.option("--lateness", type=click.FloatRange(0), default=300.0, show_default=True,
              help="Seconds a match may arrive behind the newest one and still be correlated in order.")
@click.option("--watermark", type=click.Choice(["events", "clock"]), default="events", show_default=True,
              help="When inputs are idle, windows close up to the newest event time (events) or also "
                   "up to the wall clock minus the idle time (clock: for logs written as they happen).")
@click.option("--idle", "idle_after", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Seconds without new input after which the watermark moves.")
@click.option("--poll", "poll_interval", type=click.FloatRange(0.01), default=0.1, show_default=True,
              help="Seconds between polls when there is nothing new.")
@click.option("--start-at-end", is_flag=True,
              help="Files present at the first start are read from their end (default: their start).")
@click.option("--max-queue", type=click.IntRange(1), default=10_000, show_default=True,
              help="Alerts queued for the webhook/syslog at most; input waits while the queue is full.")
@click.option("--status", "status_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Rewrite this JSON file with the watch's health every --status-every seconds.")
@click.option("--status-every", type=click.FloatRange(0.1), default=5.0, show_default=True)
@click.option("--checkpoint-every", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True,
              metavar="SECONDS",
              help="Seconds between full checkpoints (positions and open windows) at most; alerts are "
                   "made durable every batch all the same. Longer: less writing, more input read "
                   "again after a crash.")
@click.option("--stop-when-idle", type=click.FloatRange(0), default=None,
              help="Exit once no input came for this many seconds, closing every window as a hunt "
                   "does at the end of its input; exit status 4 if alerts are still undelivered then.")
@click.option("--deliver-timeout", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Seconds queued webhook/syslog alerts get to go when the watch ends (default: 60 "
                   "with --stop-when-idle, else 2); what is left stays queued for the next start.")
def watch(inputs: tuple[str, ...], state_dir: Path, rules: tuple[Path, ...], jsonl: Path | None,
          webhook: str | None, syslog: str | None, terminal: bool | None, input_format: str | None,
          min_level: str | None, placeholders: Path | None, lateness: float, watermark: str,
          idle_after: float, poll_interval: float, start_at_end: bool, max_queue: int,
          status_file: Path | None, status_every: float, checkpoint_every: float,
          stop_when_idle: float | None, deliver_timeout: float | None) -> None:
    """Follow log files, folders or `-` (standard input) and alert as lines are written.

    Files are followed as `tail -F` does (appends, rotation, truncation, files that appear later);
    folders are polled for new and growing files. Positions, open correlation windows and
    delivered alerts are saved in --state after each batch: after a crash or a restart the watch
    goes on where it stopped, without skipping an event or delivering an alert twice.
    SIGINT/SIGTERM stop it cleanly; SIGUSR1 prints a health line on standard error.
    Exit status: 0 stopped; 4 ended by --stop-when-idle with alerts undelivered; 5 the state
    folder cannot be used (full, read-only, damaged); 70 a batch failed (positions kept).
    """
    from watchpost.readers.registry import FORMATS
    from watchpost.watch.loop import Watch, WatchOptions
    from watchpost.watch.state import StateStore
    from watchpost.watch.state_faults import StateFault, classify

    if input_format is not None and input_format not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise click.BadParameter(f"unknown input format {input_format!r}; known: {known}",
                                 param_hint="--input-format")
    err = sys.stderr
    try:
        store = StateStore(state_dir)
    except StateFault as fault:
        fail(err, fault.line(), EXIT_STATE)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    sinks = open_sinks(store, jsonl, webhook, syslog, terminal, max_queue)
    options = WatchOptions(rules=list(rules), placeholders=placeholders, input_format=input_format,
                           min_level=min_level, lateness=timedelta(seconds=lateness),
                           poll_interval=poll_interval, idle_after=idle_after, watermark=watermark,
                           max_queue=max_queue, stop_when_idle=stop_when_idle, start_at_end=start_at_end,
                           status_file=status_file, status_every=status_every,
                           checkpoint_every=checkpoint_every)
    try:
        running = Watch(options, list(inputs), store, sinks, notify=lambda line: say(err, line))
    except sqlite3.Error as exc:  # reading the saved state back
        fail(err, classify(state_dir, exc).line(), EXIT_STATE)
    for rule_problem in running.ruleset.problems:
        err.write(f"rule problem: {sanitise_terminal(rule_problem.describe(), 500)}\n")
    wait = deliver_timeout if deliver_timeout is not None else 60.0 if stop_when_idle is not None else 2.0
    status = run_and_close(running, store, sinks, err, wait)
    report_end(running, err)
    if status == EXIT_OK and stop_when_idle is not None:
        status = report_undelivered(sinks, err)
    sys.exit(status)


def run_and_close(running: Watch, store: StateStore, sinks: list[DeliverySink], err: IO[str],
                  wait: float) -> int:
    """Run the watch, then give queued alerts ``wait`` seconds; the exit status of a fault (one
    line on ``err``: a state-folder fault, a batch that failed) or `EXIT_OK`."""
    from watchpost.watch.loop import BatchFailed
    from watchpost.watch.state_faults import StateFault

    status = EXIT_OK
    try:
        run_until_stopped(running, err)
    except StateFault as fault:
        say(err, fault.line())
        status = EXIT_STATE
    except BatchFailed as failed:
        say(err, str(failed))
        status = EXIT_INTERNAL
    finally:
        for sink in sinks:  # queued alerts get a moment (at the end of input: up to a minute)
            sink.close(wait=0.0 if status != EXIT_OK else wait)
        store.close()
    return status


def report_undelivered(sinks: list[DeliverySink], err: IO[str]) -> int:
    """`EXIT_UNDELIVERED` (said on ``err``) when a sink still holds queued alerts, else `EXIT_OK`."""
    left = {sink.name: sink.pending() for sink in sinks if sink.pending()}
    if not left:
        return EXIT_OK
    counts = ", ".join(f"{count} for {name}" for name, count in left.items())
    errors = "; ".join(f"{sink.name}: {sink.describe().get('last_error')}" for sink in sinks
                       if sink.name in left and sink.describe().get("last_error"))
    say(err, f"alerts still undelivered at the end: {counts}" + (f" (last error {errors})" if errors else "")
        + "; they stay queued in the state folder and go out at the next start")
    return EXIT_UNDELIVERED


def say(err: IO[str], line: str) -> None:
    """One line for the operator on standard error (control characters stripped: file names and
    receivers' answers are not ours)."""
    err.write("watchpost watch: " + sanitise_terminal(line, 1000) + "\n")
    err.flush()


def fail(err: IO[str], line: str, status: int) -> NoReturn:
    say(err, line)
    sys.exit(status)


def open_sinks(store: StateStore, jsonl: Path | None, webhook: str | None, syslog: str | None,
               terminal: bool | None, max_queue: int) -> list[DeliverySink]:
    """The sinks asked for; the terminal when none is (or when --terminal says so)."""
    from watchpost.watch.delivery import DurableJsonlSink, OutboxSink, TerminalSink

    sinks: list[DeliverySink] = []
    try:
        if jsonl is not None:
            sinks.append(DurableJsonlSink(jsonl, store))
        if webhook is not None:
            from watchpost.sinks.webhook import WebhookTransport

            sinks.append(OutboxSink("webhook", WebhookTransport(webhook), store, max_queue))
        if syslog is not None:
            from watchpost.sinks.syslog import SyslogTransport

            sinks.append(OutboxSink("syslog", SyslogTransport(syslog), store, max_queue))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if terminal or (terminal is None and not sinks):
        sinks.append(TerminalSink())
    return sinks


def run_until_stopped(running: Watch, err: IO[str]) -> None:
    """Run the watch; SIGINT/SIGTERM stop it cleanly, SIGUSR1 prints the health line."""

    def stop(signum: int, frame: FrameType | None) -> None:
        running.stop()

    def health(signum: int, frame: FrameType | None) -> None:
        err.write(sanitise_terminal(running.status.line()) + "\n")
        err.flush()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, health)
    running.run()


def report_end(running: Watch, err: IO[str]) -> None:
    """The first problems met and the final health line; file names and log text in them are
    attacker-controlled, so control characters are stripped."""
    shown = [p for p in running.problems.problems if p.stage != "rule"][:20]
    for problem in shown:
        err.write(f"problem: {sanitise_terminal(problem.describe(), 500)}\n")
    err.write(sanitise_terminal(running.status.line()) + "\n")

if __name__ == "__main__":
    watch()
