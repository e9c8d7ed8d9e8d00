"""docs/cli.md, generated from the ``--help`` of every command so that it never drifts.

    python -m watchpost.cli_reference            # rewrite docs/cli.md
    python -m watchpost.cli_reference --check    # exit 1 if docs/cli.md is out of date

A test (tests/cli/test_cli_reference.py) fails when the file differs from what this renders.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import click

from watchpost.exit_codes import exit_status_table
from watchpost.sinks.csv import CSV_COLUMNS

HELP_WIDTH = 100
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

INTRO = "cli_intro.md"  # in watchpost/templates: the hand-written part, with {columns}


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
    intro = resources.files("watchpost").joinpath("templates", INTRO).read_text(encoding="utf-8")
    parts = [intro.replace("{columns}", columns).replace("{exit_statuses}", exit_status_table())]
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
