"""The exit statuses of every `watchpost` command: one contract (`EXIT_STATUSES`), shown in
docs/cli.md and the README (a test checks that the documents and this table agree)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ALERTS = 1
"""Alerts found with ``--fail-on-alert``; for checking commands, a check that failed."""
EXIT_USAGE = 2
EXIT_RULES = 3
EXIT_UNDELIVERED = 4
EXIT_STATE = 5
EXIT_INTERNAL = 70
EXIT_SIGINT = 130
EXIT_BROKEN_PIPE = 141
EXIT_SIGTERM = 143

EXIT_STATUSES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "the run completed: nothing found, or findings without `--fail-on-alert`"),
    (EXIT_ALERTS, "the run completed and alerts were raised, with `--fail-on-alert`; for `rules check`, "
                  "`rules test`, `evaluate` and `convert`: a check or conversion failed"),
    (EXIT_USAGE, "usage error (unknown option, path that does not exist, output that cannot be "
                 "written), or no input could be read"),
    (EXIT_RULES, "rules could not run: none of them (always), or any of them with `--strict`"),
    (EXIT_UNDELIVERED, "`watch` stopped while alerts were still undelivered"),
    (EXIT_STATE, "`watch`: the state folder cannot be used (full, read-only, damaged database)"),
    (EXIT_INTERNAL, "an unexpected internal error: one line naming the file and place; rerun with "
                    "`--debug` for the trace"),
    (EXIT_SIGINT, "interrupted by SIGINT (Ctrl-C): what was found so far is written, marked partial"),
    (EXIT_BROKEN_PIPE, "the reader of standard output went away (broken pipe), as Unix tools do"),
    (EXIT_SIGTERM, "stopped by SIGTERM: what was found so far is written, marked partial"),
)


def exit_status_table() -> str:
    """`EXIT_STATUSES` as a Markdown table (docs/cli.md, README)."""
    rows = ["| status | meaning |", "|---|---|"]
    rows += [f"| {status} | {meaning} |" for status, meaning in EXIT_STATUSES]
    return "\n".join(rows)
