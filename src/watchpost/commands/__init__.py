"""Subcommands of the ``watchpost`` command, one module each.

`register` adds them to the command groups of `watchpost.cli` (called once, at the end of that
module). Each command imports its heavy modules inside its function, so ``watchpost --help``
stays fast.
"""

from __future__ import annotations

import click


def register(main: click.Group, rules: click.Group) -> None:
    """Add ``simulate``, ``evaluate``, ``search``, ``metrics`` and ``rules check|test|update`` to the
    CLI groups."""
    from watchpost.commands.evaluate import evaluate
    from watchpost.commands.metrics import metrics
    from watchpost.commands.rules_check import rules_check
    from watchpost.commands.rules_test import rules_test
    from watchpost.commands.rules_update import rules_update
    from watchpost.commands.search import search
    from watchpost.commands.simulate import simulate

    main.add_command(simulate)
    main.add_command(evaluate)
    main.add_command(search)
    main.add_command(metrics)
    rules.add_command(rules_check, "check")
    rules.add_command(rules_test, "test")
    rules.add_command(rules_update, "update")
