"""``watchpost simulate SCENARIO… --out DIR``: write realistic, labelled logs of T1049 scenarios."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


def scenario_help() -> str:
    from watchpost.simulation import GROUPS, SCENARIOS

    names = "\n".join(f"  {s.name:<28} {s.summary}" for s in SCENARIOS)
    return f"Groups: {', '.join(GROUPS)}.\n\nScenarios:\n{names}"


@click.command(epilog="Run 'watchpost simulate --list' for the scenarios.")
@click.argument("scenarios", nargs=-1)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the logs to (created; existing files of the same names are replaced).",
)
@click.option(
    "--background",
    "-b",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Number of benign background records (near misses included) to mix in.",
)
@click.option("--seed", default=1049, show_default=True, help="Seed: the same seed writes the same files.")
@click.option(
    "--truth",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for labels.csv and manifest.json (default: the output folder).",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and groups, and exit.")
def simulate(
    scenarios: tuple[str, ...],
    out: Path | None,
    background: int,
    seed: int,
    truth: Path | None,
    list_only: bool,
) -> None:
    """Emulate SCENARIOs (names or groups: all, seed, atomic, burst, cloud) as the logs real hosts write:
    Windows event XML (Security, Sysmon, PowerShell), auditd, eslogger, CloudTrail, Google Cloud audit
    logs, with labels.csv (which records are T1049 positives, companions, context, near misses)."""
    from watchpost.simulation import UnknownScenario, resolve
    from watchpost.simulation import simulate as write_simulation

    if list_only:
        click.echo(scenario_help())
        return
    if not scenarios or out is None:
        raise click.UsageError("give at least one SCENARIO and --out DIR (or --list)")
    try:
        chosen = resolve(list(scenarios))
    except UnknownScenario as error:
        raise click.BadParameter(str(error), param_hint="SCENARIO") from None
    started = time.monotonic()
    summary = write_simulation(chosen, out, background=background, seed=seed)
    if truth is not None:
        truth.mkdir(parents=True, exist_ok=True)
        for name in ("labels.csv", "manifest.json"):
            (out / name).replace(truth / name)
    err = sys.stderr
    total = sum(summary.records.values())
    err.write(
        f"wrote {total:,} records ({summary.background:,} background) of {len(chosen)} scenarios "
        f"to {out} in {time.monotonic() - started:.1f}s; labels: "
        + ", ".join(f"{count} {label}" for label, count in sorted(summary.labels.items()))
        + "\n"
    )
    for log, count in sorted(summary.records.items()):
        err.write(f"  {count:>9,}  {log}\n")
    sys.exit(0)
