"""``watchpost rules check [PATH…]``: load and compile rules, list every one that cannot run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from watchpost.commands.rule_selection import rule_selection_options
from watchpost.exit_codes import EXIT_ALERTS, EXIT_OK
from watchpost.rules.selection import RuleSelection


@click.command("check", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--placeholders", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of values for the `expand` modifier's placeholders.")
@rule_selection_options
def rules_check(paths: tuple[Path, ...], placeholders: Path | None, selection: RuleSelection) -> None:
    """Load and compile rules; list every rule that cannot run, with the reason (exit 1 if any).

    PATHS default to the bundled T1049 pack. Every rule is checked; with rule filters (those of
    `watchpost hunt`), a line before the totals says how many of the runnable rules `hunt` would
    run with them (the noisy-rules list counts as a filter unless --enable-noisy-rules).
    """
    from watchpost.hunting.engine import bundled_pack
    from watchpost.hunting.ruleset import load_ruleset
    from watchpost.progress import rule_load_progress
    from watchpost.rules.selection import select_rules
    from watchpost.sinks.terminal_text import sanitise_terminal

    progress = rule_load_progress(sys.stderr, quiet=False)
    ruleset = load_ruleset(list(paths) or [bundled_pack()], placeholders=placeholders, progress=progress)
    selected = select_rules(ruleset, selection)
    out = sys.stdout
    for problem in ruleset.problems:
        out.write(sanitise_terminal(problem.describe()) + "\n")  # quotes rule files
    for note in selected.ruleset.report.notes:
        out.write("note: " + sanitise_terminal(note.describe()) + "\n")
    report = ruleset.report
    runnable = len(ruleset.detections) + len(ruleset.correlations)
    kept = len(selected.ruleset.detections) + len(selected.ruleset.correlations)
    if kept != runnable:
        out.write(f"filters: hunt would run {kept} of the {runnable} runnable rules "
                  f"({len(selected.chosen)} raising alerts, {len(selected.feeders)} feeding correlations)\n")
    out.write(f"{report.files} files, {runnable} rules runnable "
              f"({len(ruleset.detections)} detection, {len(ruleset.correlations)} correlation), "
              f"{len(ruleset.problems)} problems\n")
    sys.exit(EXIT_ALERTS if ruleset.problems else EXIT_OK)
