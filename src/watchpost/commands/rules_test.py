"""``watchpost rules test [PATH…]``: run the rule test events (``X.tests.yml``) of rules."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watchpost.commands.rule_selection import rule_selection_options
from watchpost.exit_codes import EXIT_ALERTS, EXIT_OK
from watchpost.rules.selection import RuleSelection
from watchpost.sinks.terminal_text import sanitise_terminal

if TYPE_CHECKING:
    from watchpost.ruletests import CaseResult


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--require-tests",
    is_flag=True,
    help="Also fail for each rule file without a positive and a negative test case.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print failures and the totals only.")
@rule_selection_options
def rules_test(paths: tuple[Path, ...], require_tests: bool, quiet: bool, selection: RuleSelection) -> None:
    """Run the positive and negative test events of rules (docs/rule-pack.md); exit 1 on a failure.

    PATHS default to the bundled T1049 pack. With rule filters (those of `watchpost hunt`), only
    the test files of rule files holding a rule the filters keep are run.
    """
    from watchpost.hunting.engine import bundled_pack
    from watchpost.ruletests import find_test_files, untested_rules

    roots = list(paths) or [bundled_pack()]
    out = sys.stdout
    passed = failed = skipped = 0
    for result in selected_results(roots, selection):
        if result is None:
            skipped += 1
            continue
        if result.passed:
            passed += 1
        else:
            failed += 1
        if not quiet or not result.passed:
            out.write(sanitise_terminal(result.describe()) + "\n")
    missing = untested_rules(roots) if require_tests else []
    for line in missing:
        out.write(f"MISSING {sanitise_terminal(line)}\n")
    files = len(find_test_files(roots)) - skipped
    out.write(
        f"{files} test files, {passed} cases passed, {failed} failed"
        + (f", {skipped} test files left out by the rule filters" if skipped else "")
        + (f", {len(missing)} rules without complete tests" if require_tests else "")
        + "\n"
    )
    sys.exit(EXIT_ALERTS if failed or missing else EXIT_OK)


def selected_results(roots: Sequence[Path], selection: RuleSelection) -> Iterator[CaseResult | None]:
    """The results of each test file whose rule file holds a chosen rule; None for each other one.

    A test file runs against every rule of its rule file (a correlation's base rules included).
    """
    from watchpost.hunting.ruleset import load_ruleset
    from watchpost.rules.selection import select_rules
    from watchpost.ruletests import find_test_files, load_test_file, run_test_file

    for path in find_test_files(roots):
        loaded = load_test_file(path)
        if not loaded.rule_path.exists():
            yield from run_test_file(loaded)
            continue
        ruleset = load_ruleset([loaded.rule_path])
        if ruleset.metas() and not select_rules(ruleset, selection).chosen:
            yield None
            continue
        yield from run_test_file(loaded, ruleset)
