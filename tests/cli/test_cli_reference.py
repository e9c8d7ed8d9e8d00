"""docs/cli.md is generated from --help and must match it, so it never drifts."""

from __future__ import annotations

from watchpost.cli import main
from watchpost.cli_reference import DOC_PATH, iter_commands, render_cli_reference


def test_docs_cli_md_matches_the_help_of_every_command() -> None:
    expected = render_cli_reference()
    current = DOC_PATH.read_text(encoding="utf-8")
    assert current == expected, "docs/cli.md is out of date: run `python -m watchpost.cli_reference`"


def test_every_command_and_subcommand_is_in_it() -> None:
    text = render_cli_reference()
    paths = [path for path, _, _ in iter_commands(main, "watchpost")]
    assert {"watchpost", "watchpost hunt", "watchpost rules", "watchpost rules check",
            "watchpost rules list", "watchpost convert"} <= set(paths)
    for path, command, context in iter_commands(main, "watchpost"):
        assert f"## {path}\n" in text
        assert command.get_help(context).splitlines()[0] in text
