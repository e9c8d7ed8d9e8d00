"""docs/cli.md, generated from the ``--help`` of every command so that it never drifts.

    python -m watchpost.cli_reference            # rewrite docs/cli.md
    python -m watchpost.cli_reference --check    # exit 1 if docs/cli.md is out of date

A test (tests/cli/test_cli_reference.py) fails when the file differs from what this renders.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from watchpost.sinks.csv import CSV_COLUMNS

HELP_WIDTH = 100
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

INTRO = """\
# The `watchpost` command

This file is generated from the commands' `--help` by `python -m watchpost.cli_reference`; a test
checks that it matches. Edit the help texts in the code, then regenerate.

## Output formats

Chosen with `watchpost hunt --format`:

| format | what it writes | times |
|---|---|---|
| `table` (default) | one table per host, alerts in time order; log text made safe for a terminal | `--tz`, offset shown |
| `jsonl` | one alert per line, the schema of [alerts.md](alerts.md) | UTC |
| `json` | a JSON array of the same alerts | UTC |
| `csv` | one row per alert, the columns below | `--tz`, offset shown |
| `html` | one self-contained report: counts by level, host, technique and rule; a timeline; every alert with the events behind it | `--tz`, offset shown |
| `navigator` | an ATT&CK Navigator layer (format 4.5): each detected technique scored by its number of alerts | UTC |
| `sarif` | SARIF 2.1.0 for CI and code-scanning tools: one result per alert | UTC |

**CSV columns**, in this order (new columns may be added at the end; none is renamed or removed):
{columns}.
`techniques`, `tags` and `group` (`key=value`) are joined with `;`, `origins` (file and record of
each event, the first 20) with `; `; the summary columns are those of the alert schema's `summary`.

**CSV and spreadsheets.** Log content is hostile: a cell that starts with `=`, `+`, `-`, `@`, tab,
carriage return or line feed is prefixed with a single quote `'` so that spreadsheets show it as
text instead of running it as a formula. Other control characters and Unicode bidirectional
overrides are written visibly as `\\xNN` / `\\uNNNN`, and cells are cut at 32,000 characters.

**HTML report safety.** The report holds no script and loads nothing: values are escaped by the
template engine, the timeline is inline SVG, and a Content-Security-Policy (`default-src 'none';
style-src 'unsafe-inline'; img-src data:`) forbids scripts and outside resources anyway. Control
characters and bidirectional overrides are shown escaped; long values are cut at 2,000
characters and at most 2,000 alerts (20 events each) are detailed; the counts cover all alerts.

**Progress.** On a terminal, `watchpost hunt` shows a progress line on standard error (inputs,
events read, events/s, alerts so far); not with `--quiet`, not when standard error is not a
terminal, and not when alerts stream (`jsonl`, `csv`) to the terminal. The closing summary
(inputs and events read, what was skipped and why, alerts by level and rule, elapsed time) goes
to standard error unless `--quiet`.

**Exit status** of `watchpost hunt`: 0 when the run completed (whatever it found), 1 with
`--fail-on-alert` when alerts were raised, 2 for usage errors or when no input could be read.
"""


def iter_commands(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every command under ``command`` (itself first), with its full name and a context."""
    settings = {**command.context_settings, "terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH}
    context = click.Context(command, info_name=name, parent=parent, **settings)
    yield context.command_path, command, context
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(context)):
            sub = command.get_command(context, sub_name)
            if sub is not None and not sub.hidden:
                yield from iter_commands(sub, sub_name, context)


def render_cli_reference() -> str:
    """The whole of docs/cli.md."""
    from watchpost.cli import main

    columns = ", ".join(f"`{column}`" for column in CSV_COLUMNS)
    parts = [INTRO.format(columns=columns)]
    commands = list(iter_commands(main, "watchpost"))
    parts.append("## Commands\n\n" + "\n".join(
        f"- [`{path}`](#{anchor(path)})" for path, _, _ in commands) + "\n")
    for path, command, context in commands:
        parts.append(f"## {path}\n\n```text\n{command.get_help(context).rstrip()}\n```\n")
    return "\n".join(parts)


def anchor(path: str) -> str:
    return path.lower().replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_cli_reference()
    if "--check" in args:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run `python -m watchpost.cli_reference`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
