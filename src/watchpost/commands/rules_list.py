"""``watchpost rules list``: the rules a pack holds, filtered, as a table or JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import click
import orjson

from watchpost.rules.model import LEVELS, RuleMeta
from watchpost.sinks.terminal_text import sanitise_terminal

LIST_WIDTH = 200


@click.command("list", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--level", "levels", multiple=True, type=click.Choice(LEVELS),
              help="Only rules of this level (repeatable: any of them).")
@click.option("--min-level", type=click.Choice(LEVELS), help="Only rules of this level or higher.")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Only rules with this tag (repeatable: any of them). 'T1049', 'attack.t1049' and "
                   "'attack.discovery' all work; a technique also selects its sub-techniques.")
@click.option("--product", metavar="NAME",
              help="Only rules whose logsource product is NAME (windows, linux...).")
@click.option("--search", metavar="TEXT",
              help="Only rules whose id, title, description or file contains TEXT.")
@click.option("--all", "show_all", is_flag=True,
              help="Also list the rules that only feed correlations (generate: false, seed-dialect steps).")
@click.option("--format", "-f", "output_format", type=click.Choice(("table", "jsonl")), default="table",
              show_default=True, help="Output format.")
def rules_list(paths: tuple[Path, ...], levels: tuple[str, ...], min_level: str | None,
               tags: tuple[str, ...], product: str | None, search: str | None, show_all: bool,
               output_format: str) -> None:
    """List rules: id, title, level, logsource and tags. PATHS default to the bundled T1049 pack.

    Rules that do not load are reported on standard error (see `watchpost rules check`).
    """
    metas, problems = describe_rules(list(paths), show_all)
    chosen = [m for m in metas if selected(m, levels, min_level, tags, product, search)]
    out = click.get_text_stream("stdout")
    if output_format == "jsonl":
        for meta in chosen:
            out.write(orjson.dumps(rule_record(meta)).decode() + "\n")
    else:
        print_table(chosen, out)
    err = click.get_text_stream("stderr")
    for problem in problems:
        err.write(f"not loaded: {sanitise_terminal(problem, 500)}\n")
    err.write(f"{len(chosen)} of {len(metas)} rules listed" +
              (f"; {len(problems)} could not be loaded" if problems else "") + "\n")
    sys.exit(0)


def describe_rules(paths: Sequence[Path], show_all: bool = False) -> tuple[list[RuleMeta], list[str]]:
    """The `RuleMeta` of the rules and correlations that load from ``paths``, and the problems.

    Rules that only feed correlations are left out unless ``show_all``.
    """
    from watchpost.hunting.engine import bundled_pack
    from watchpost.hunting.ruleset import default_translators
    from watchpost.rules.loader import load_rules
    from watchpost.rules.meta import describe_rule

    loaded = load_rules(list(paths) or [bundled_pack()], translators=default_translators())
    metas = [describe_rule(item.rule, item.path) for item in loaded.rules if item.output or show_all]
    metas += [describe_rule(item.rule, item.path) for item in loaded.correlations]
    return metas, [problem.describe() for problem in loaded.problems]


def selected(meta: RuleMeta, levels: Sequence[str], min_level: str | None, tags: Sequence[str],
             product: str | None, search: str | None) -> bool:
    """Whether ``meta`` passes every filter given."""
    if levels and meta.level not in levels:
        return False
    if min_level is not None and LEVELS.index(min_level) > rank(meta.level):
        return False
    if tags and not any(has_tag(meta, tag) for tag in tags):
        return False
    if product is not None and dict(meta.logsource).get("product", "").lower() != product.lower():
        return False
    if search is not None:
        haystack = " ".join(filter(None, (meta.id, meta.title, meta.description, meta.path))).lower()
        if search.lower() not in haystack:
            return False
    return True


def rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def has_tag(meta: RuleMeta, wanted: str) -> bool:
    """``T1049`` and ``attack.t1049`` match ``attack.t1049`` and ``attack.t1049.001``."""
    wanted = wanted.lower()
    forms = {wanted, "attack." + wanted}
    for tag in (t.lower() for t in meta.tags):
        if tag in forms or any(tag.startswith(form + ".") for form in forms if form[-1:].isdigit()):
            return True
    return False


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
