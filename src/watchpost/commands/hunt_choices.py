"""`hunt` options about what alerts carry and where they go, kept apart from `watchpost.cli` so
that the command's own options stay short: ``--host``, ``--remove-duplicates/-X``,
``--no-merge``, ``--output-dir`` and ``--formats``.

`analyst_options` adds them to a click command whose function takes ``**choices``;
`AnalystChoices.of(choices)` reads them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from watchpost.alert_merging import MergeSettings
from watchpost.sinks.report_context import HuntDescription, RuleRun

if TYPE_CHECKING:
    from watchpost.hunting.engine import Hunt

Command = TypeVar("Command", bound=Callable[..., Any])
DEFAULT_DIR_FORMATS = ("html", "csv", "jsonl")


@dataclass(frozen=True)
class AnalystChoices:
    host: str | None = None
    merging: MergeSettings = MergeSettings()
    output_dir: Path | None = None
    formats: tuple[str, ...] = DEFAULT_DIR_FORMATS

    @classmethod
    def of(cls, choices: dict[str, Any]) -> AnalystChoices:
        merging = MergeSettings(merge_sources=not choices.get("no_merge", False),
                                drop_repeats=bool(choices.get("remove_duplicates", False)))
        formats = parse_formats(choices.get("dir_formats"))
        output_dir = choices.get("output_dir")
        if output_dir is not None:
            prepare_output_dir(output_dir)
        return cls(choices.get("assumed_host"), merging, output_dir, formats)


def prepare_output_dir(folder: Path) -> None:
    """Create ``folder``; a folder that cannot be made, or --output given too, is a usage error."""
    context = click.get_current_context(silent=True)
    if context is not None and context.params.get("output") is not None:
        raise click.BadParameter("give --output or --output-dir, not both", param_hint="--output-dir")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.BadParameter(f"cannot create {folder}: {error.strerror}",
                                 param_hint="--output-dir") from error


def parse_formats(value: str | None) -> tuple[str, ...]:
    """``html,csv,jsonl`` as a tuple of known output formats (click.BadParameter otherwise)."""
    from watchpost.sinks.formats import OUTPUT_FORMATS

    if not value:
        return DEFAULT_DIR_FORMATS
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [name for name in names if name not in OUTPUT_FORMATS]
    if unknown or not names:
        raise click.BadParameter(f"unknown format(s) {', '.join(unknown) or value!r}; known: "
                                 f"{', '.join(OUTPUT_FORMATS)}", param_hint="--formats")
    return names


def analyst_options(command: Command) -> Command:
    options = [
        click.option("--host", "assumed_host", metavar="NAME",
                     help="Host name for alerts whose events name none (eslogger and other logs "
                          "that do not say where they were written)."),
        click.option("--remove-duplicates", "-X", is_flag=True,
                     help="Drop alerts that repeat another exactly (same rule, same event times "
                          "and fields: a log collected twice)."),
        click.option("--no-merge", is_flag=True,
                     help="Keep one alert per log: do not merge the alerts of one process logged "
                          "by several logs (Security 4688 and Sysmon 1)."),
        click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Write the alerts in several formats at once into this folder "
                          "(alerts.html, alerts.csv, ...; see --formats)."),
        click.option("--formats", "dir_formats", metavar="LIST",
                     help="Formats written by --output-dir, comma-separated "
                          f"(default: {','.join(DEFAULT_DIR_FORMATS)})."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def describe_hunt(engine: Hunt) -> HuntDescription:
    """The `HuntDescription` of the running `hunt` command: its options that differ from their
    defaults (inputs aside), the command line they make, and the rules the engine runs."""
    import shlex

    context = click.get_current_context(silent=True)
    words, given = given_options(context) if context is not None else ([], [])
    ruleset, shown_path = engine.ruleset, engine.context.shown_path
    metas = [r.meta for r in ruleset.detections] + [c.meta for c in ruleset.correlations]
    rules = tuple(RuleRun(m.id, m.title, m.level, m.kind, shown_path(m.path)) for m in metas)
    return HuntDescription(shlex.join(words), tuple(given), rules)


def given_options(context: click.Context) -> tuple[list[str], list[tuple[str, str]]]:
    """The command line of ``context`` (options given, then inputs) and each option given."""
    given: list[tuple[str, str]] = []
    words = ["watchpost", context.info_name or "hunt"]
    for param in context.command.params:
        value = context.params.get(param.name or "")
        if not isinstance(param, click.Option) or value in (None, False, ()) or value == param.default:
            continue
        flag = max(param.opts, key=len)
        for item in value if isinstance(value, tuple | list) else (value,):
            shown = "" if param.is_flag else str(item)
            given.append((flag, shown))
            words += [flag, shown] if shown else [flag]
    words += [str(item) for item in context.params.get("inputs", ())]
    return words, given
