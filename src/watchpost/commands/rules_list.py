"""``watchpost rules list``: the rules a pack holds, filtered, as a table or JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import click
import orjson

from watchpost.commands.rule_selection import rule_selection_options
from watchpost.rules.model import LEVELS, RuleMeta
from watchpost.rules.selection import RuleSelection, Selected, rank, select_rules
from watchpost.sinks.terminal_text import sanitise_terminal

LIST_WIDTH = 200


@click.command("list", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--min-level", type=click.Choice(LEVELS), help="Only rules of this level or higher.")
@rule_selection_options
@click.option("--all", "show_all", is_flag=True,
              help="Also list the rules that only feed correlations (generate: false, seed-dialect "
                   "steps, rules a kept correlation needs).")
@click.option("--format", "-f", "output_format", type=click.Choice(("table", "jsonl")), default="table",
              show_default=True, help="Output format.")
def rules_list(paths: tuple[Path, ...], min_level: str | None, selection: RuleSelection, show_all: bool,
               output_format: str) -> None:
    """List rules: id, title, level, logsource and tags. PATHS default to the bundled T1049 pack.

    The filters are those of `watchpost hunt`: the rules listed are the rules it runs with the same
    options (--all adds those it matches only to feed correlations). Rules that cannot run are
    reported on standard error (see `watchpost rules check`).
    """
    selected, problems = describe_rules(list(paths), selection)
    chosen = selected.chosen + (selected.feeders if show_all else [])
    out = sys.stdout
    if output_format == "jsonl":
        for meta in chosen:
            out.write(orjson.dumps(rule_record(meta)).decode() + "\n")
    else:
        print_table(chosen, out)
    err = sys.stderr
    for problem in problems:
        err.write(f"not loaded: {sanitise_terminal(problem, 500)}\n")
    for note in selected.notes:
        err.write(f"note: {sanitise_terminal(note.describe(), 500)}\n")
    err.write(f"{len(selected.chosen)} of {selected.candidates} rules listed"
              + (f" (and {len(selected.feeders)} that feed correlations)"
                 if show_all and selected.feeders else "")
              + (f"; {len(problems)} could not be loaded" if problems else "") + "\n")
    sys.exit(0)


def describe_rules(paths: Sequence[Path], selection: RuleSelection | None = None
                   ) -> tuple[Selected, list[str]]:
    """The rules of ``paths`` (default: the bundled pack) that ``selection`` keeps, as `hunt` would
    run them, and the problems of the rules that cannot run."""
    from watchpost.hunting.engine import bundled_pack
    from watchpost.hunting.ruleset import load_ruleset

    ruleset = load_ruleset(list(paths) or [bundled_pack()])
    selected = select_rules(ruleset, selection or RuleSelection())
    return selected, [problem.describe() for problem in ruleset.problems]


def logsource_text(meta: RuleMeta) -> str:
    if meta.kind == "correlation":
        return "(correlation)"
    return " / ".join(value for _, value in meta.logsource) or "-"


def rule_record(meta: RuleMeta) -> dict[str, object]:
    return {
        "id": meta.id, "title": meta.title, "level": meta.level, "kind": meta.kind,
        "status": meta.status, "logsource": dict(meta.logsource), "tags": list(meta.tags),
        "path": meta.path, "description": meta.description,
    }


def print_table(metas: Sequence[RuleMeta], out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from watchpost.progress import is_terminal
    from watchpost.sinks.table import LEVEL_STYLES, columns_setting

    width = None if is_terminal(out) else columns_setting() or LIST_WIDTH
    console = Console(file=out, width=width, highlight=False, markup=False, emoji=False)
    table = Table(show_lines=False)
    for name, wrap in (("id", False), ("title", True), ("level", False), ("logsource", True), ("tags", True)):
        table.add_column(name, no_wrap=not wrap, overflow="fold")
    for meta in sorted(metas, key=lambda m: (-rank(m.level), m.title.lower())):
        table.add_row(Text(sanitise_terminal(meta.id, 80)), Text(sanitise_terminal(meta.title, 200)),
                      Text(meta.level, style=LEVEL_STYLES.get(meta.level, "")),
                      Text(sanitise_terminal(logsource_text(meta), 100)),
                      Text(sanitise_terminal(", ".join(meta.tags), 300)))
    console.print(table)
