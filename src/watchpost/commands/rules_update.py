"""``watchpost rules update``: install a SigmaHQ release package in a user rules folder, verified,
with the previous one kept for ``--rollback`` (the mechanics: `watchpost.commands.rule_package`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from watchpost.commands.rule_package import (
    PACKAGES,
    Installed,
    NetworkError,
    NothingToRollBack,
    PackageError,
    default_folder,
    install,
    read_record,
    release_url,
    rollback,
)
from watchpost.exit_codes import EXIT_ALERTS, EXIT_OK, EXIT_USAGE
from watchpost.sinks.terminal_text import sanitise_terminal


@click.command("update", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The user rules folder (default: $XDG_DATA_HOME/watchpost/sigma, else "
                   "~/.local/share/watchpost/sigma). Hunts use its 'current' subfolder.")
@click.option("--package", type=click.Choice(tuple(PACKAGES)), default="all", show_default=True,
              help="Which SigmaHQ release package (core: high/critical, stable or test; core+: also "
                   "medium; core++: also experimental; emerging-threats; all).")
@click.option("--version", "version", metavar="TAG",
              help="A SigmaHQ release tag (e.g. r2024-09-02). Default: the latest release.")
@click.option("--url", metavar="URL", help="Download the package from this URL instead (a mirror).")
@click.option("--sha256", metavar="HEX", help="Refuse the download unless its SHA-256 is this.")
@click.option("--strict", is_flag=True, help="Refuse the package if any of its rules cannot run.")
@click.option("--timeout", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds to wait for the server.")
@click.option("--rollback", "roll_back", is_flag=True,
              help="Put back the rules installed before the last update (and keep the newer ones "
                   "as the previous).")
@click.option("--show", is_flag=True, help="Say which packages are installed, and exit.")
def rules_update(folder: Path | None, package: str, version: str | None, url: str | None,
                 sha256: str | None, strict: bool, timeout: float, roll_back: bool, show: bool) -> None:
    """Download SigmaHQ's rules into a user rules folder, verify them (`rules check`) and install
    them; the previous version is kept for --rollback. Nothing is replaced unless the new package
    was downloaded whole and its rules load."""
    folder = folder or default_folder()
    err = sys.stderr
    try:
        if show:
            show_installed(folder)
        elif roll_back:
            record = rollback(folder)
            describe("rolled back to", record["current"], folder)
        else:
            source = url or release_url(package, version)
            installed, problems = install(folder, source, timeout=timeout, strict=strict,
                                          expected_sha256=sha256)
            for problem in problems[:10]:
                err.write(f"rule skipped: {sanitise_terminal(problem, 500)}\n")
            if len(problems) > 10:
                err.write(f"... and {len(problems) - 10} more (see `watchpost rules check`)\n")
            describe("installed", installed, folder)
    except (NetworkError, NothingToRollBack) as error:
        err.write(f"error: {sanitise_terminal(str(error), 500)}; the installed rules are unchanged\n")
        sys.exit(EXIT_USAGE)
    except PackageError as error:
        err.write(f"error: {sanitise_terminal(str(error), 500)}; the installed rules are unchanged\n")
        sys.exit(EXIT_ALERTS)
    except OSError as error:
        err.write(f"error: {folder}: {error}; the installed rules are unchanged\n")
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)


def describe(what: str, installed: Installed, folder: Path) -> None:
    out = sys.stdout
    out.write(f"{what} SigmaHQ {sanitise_terminal(installed.version, 200)}: {installed.rules} rules "
              f"runnable of {installed.files} files ({installed.problems} cannot run)\n"
              f"use it: watchpost hunt -r {folder / 'current'} LOGS\n")


def show_installed(folder: Path) -> None:
    record = read_record(folder)
    out = sys.stdout
    if not record:
        out.write(f"no rules installed in {folder} (run `watchpost rules update`)\n")
    for key in ("current", "previous"):
        if key in record:
            item = record[key]
            out.write(f"{key}: {sanitise_terminal(item.version, 200)}, {item.rules} rules, installed "
                      f"{item.installed_at} from {sanitise_terminal(item.url, 300)} "
                      f"(sha256 {item.sha256[:16]}…) in {folder / key}\n")
