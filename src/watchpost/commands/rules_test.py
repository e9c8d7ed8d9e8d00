"""``watchpost rules test PATH…``: run the rule test events (``X.tests.yml``) of rules."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from watchpost.sinks.terminal_text import sanitise_terminal


@click.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--require-tests",
    is_flag=True,
    help="Also fail for each rule file without a positive and a negative test case.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print failures and the totals only.")
def rules_test(paths: tuple[Path, ...], require_tests: bool, quiet: bool) -> None:
    """Run the positive and negative test events of rules (docs/rule-pack.md); exit 1 on a failure."""
    from watchpost.ruletests import find_test_files, run_rule_tests, untested_rules

    out = click.get_text_stream("stdout")
    passed = failed = 0
    for result in run_rule_tests(list(paths)):
        if result.passed:
            passed += 1
        else:
            failed += 1
        if not quiet or not result.passed:
            out.write(sanitise_terminal(result.describe()) + "\n")
    missing = untested_rules(list(paths)) if require_tests else []
    for line in missing:
        out.write(f"MISSING {sanitise_terminal(line)}\n")
    files = len(find_test_files(list(paths)))
    out.write(
        f"{files} test files, {passed} cases passed, {failed} failed"
        + (f", {len(missing)} rules without complete tests" if require_tests else "")
        + "\n"
    )
    sys.exit(1 if failed or missing else 0)
