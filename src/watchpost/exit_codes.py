"""The exit statuses of every `watchpost` command: one contract, documented in docs/cli.md.

| status | meaning |
|---|---|
| 0 | the run completed; nothing found, or findings without `--fail-on-alert` |
| 1 | the run completed and found something, with `--fail-on-alert` (`hunt`); a check that failed (`rules check`, `rules test`, `evaluate`, `convert`) |
| 2 | usage error (bad option, path that does not exist, output that cannot be written), or no input could be read |
| 3 | rules could not run: all of them always, any of them with `--strict` |
| 4 | `watch` stopped with alerts still undelivered |
| 5 | `watch`: the state folder cannot be used (full, read-only, damaged database) |
| 70 | an unexpected internal error: one line naming the file and place, rerun with `--debug` for the trace |
| 130 | interrupted by SIGINT (Ctrl-C); what was found so far is written and marked partial |
| 141 | the reader of standard output went away (broken pipe), as Unix tools do |
| 143 | stopped by SIGTERM; what was found so far is written and marked partial |
"""

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
