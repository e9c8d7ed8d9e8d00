"""``watchpost evaluate``: the pack's measured detection quality, as Markdown tables.

Simulates every scenario with background (into a temporary folder unless ``--keep DIR``), hunts
it, scores it against its labels, then hunts and scores the labelled real samples. Exit status 0
when recall is 100 % on every scenario and every ``yes`` sample, and no alert is a false
positive; 1 otherwise.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from watchpost.evaluation import EmulationReport, SamplesReport

DEFAULT_SAMPLES = Path("..") / "shared" / "samples"


@click.command()
@click.option(
    "--background", "-b", default=20_000, show_default=True, help="Benign background records to simulate."
)
@click.option("--seed", default=1049, show_default=True, help="Seed of the simulation.")
@click.option(
    "--samples",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder with LABELS.csv and the real samples (default: ../shared/samples when present).",
)
@click.option(
    "--rules",
    "-r",
    "rules",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Rule files or folders (repeatable). Default: the bundled T1049 pack.",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the simulation to this folder and keep it.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
def evaluate(
    background: int,
    seed: int,
    samples: Path | None,
    rules: tuple[Path, ...],
    keep: Path | None,
    output: Path | None,
) -> None:
    """Run the rules over emulated scenarios and labelled real samples; print TP, FP and misses."""
    from watchpost.evaluation import hunt_alerts, read_labels, score_emulation, score_samples
    from watchpost.simulation import resolve, simulate

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="watchpost-evaluate-") as scratch:
        folder = keep or Path(scratch)
        summary = simulate(resolve(["all"]), folder, background=background, seed=seed)
        alerts = hunt_alerts(
            [folder / name for name in ("windows", "linux", "macos", "cloud") if (folder / name).exists()],
            rules,
        )
        emulation = score_emulation(folder, alerts, read_labels(folder / "labels.csv"))
        emulation.records = sum(summary.records.values())
        emulation.background = summary.background
    sample_folder = (
        samples if samples is not None else (DEFAULT_SAMPLES if DEFAULT_SAMPLES.exists() else None)
    )
    real = score_samples(sample_folder, rules) if sample_folder is not None else None
    text = render(emulation, real, seed, background, time.monotonic() - started)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    ok = emulation.recall == 1.0 and not emulation.false_positives and (real is None or real.passed)
    sys.exit(0 if ok else 1)


def render(
    emulation: EmulationReport, real: SamplesReport | None, seed: int, background: int, elapsed: float
) -> str:
    lines = [
        f"Emulation: every scenario, seed {seed}, {emulation.background:,} background records "
        f"({emulation.records:,} records written). Recall over positive actions: "
        f"{emulation.recall:.0%}; false-positive alerts: {len(emulation.false_positives)}.",
        "",
    ]
    lines += scenario_table(emulation) + [""] + rule_table(emulation) + [""] + near_miss_table(emulation)
    lines += ["", *trap_table(emulation)]
    if emulation.false_positives:
        lines += ["", "False positives:", ""]
        lines += [
            f"- {alert.rule.title}: {alert.events[0].origin.describe()}"
            for alert in emulation.false_positives
        ]
    if real is not None:
        lines += ["", *sample_table(real)]
    lines += ["", f"(evaluated in {elapsed:.1f} s)"]
    return "\n".join(lines) + "\n"


def scenario_table(report: EmulationReport) -> list[str]:
    rows = [
        "| scenario | positive actions | detected | missed | positive records covered | TP alerts "
        "| context alerts | rules that alerted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(report.scenarios):
        score = report.scenarios[name]
        if not score.actions and not score.rules:
            continue
        fired = ", ".join(f"{title} ({count})" for title, count in sorted(score.rules.items()))
        missed = ", ".join(score.missed) or "0"
        rows.append(
            f"| {name} | {len(score.actions)} | {len(score.detected)} | {missed} | "
            f"{score.covered_records}/{score.positive_records} | {score.tp_alerts} | {score.context_alerts} "
            f"| {fired} |"
        )
    return rows


def rule_table(report: EmulationReport) -> list[str]:
    rows = [
        "| rule | file | level | TP alerts | context alerts | FP alerts | scenarios |",
        "|---|---|---|---|---|---|---|",
    ]
    for score in sorted(report.rules.values(), key=lambda s: (s.title, s.file)):
        rows.append(
            f"| {score.title} | {score.file} | {score.level} | {score.tp} | {score.context} | {score.fp} | "
            f"{', '.join(sorted(score.scenarios)) or '-'} |"
        )
    return rows


def near_miss_table(report: EmulationReport) -> list[str]:
    rows = ["| background near miss | records | covered by an alert |", "|---|---|---|"]
    for activity in sorted(report.near_misses):
        rows.append(
            f"| {activity} | {report.near_misses[activity]} | {report.near_misses_alerted[activity]} |"
        )
    return rows


def trap_table(report: EmulationReport) -> list[str]:
    rows = ["| benign trap | records | alerts covering it (false positives) |", "|---|---|---|"]
    for name in sorted(report.traps):
        trap = report.traps[name]
        fired = ", ".join(f"{title} ({count})" for title, count in sorted(trap.rules.items()))
        rows.append(f"| {name} | {trap.records} | {trap.alerts}{': ' + fired if fired else ''} |")
    return rows


def sample_table(report: SamplesReport) -> list[str]:
    rows = [
        "Real labelled events (../shared/samples/LABELS.csv; ambiguous rows: the pack's policy is no alert):",
        "",
        "| file | record | event | expected | alerted by | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for result in report.results:
        row = result.row
        name = row.path.split("/")[-1].split("!")[0]
        place = str(row.record_id) if row.record_id is not None else row.time
        verdict = "ok" if result.passed else "FAIL"
        rows.append(
            f"| {name} | {place} | {row.event_id} | {row.expected} | "
            f"{'; '.join(result.rules) or '-'} | {verdict} |"
        )
    if report.other_alerts:
        rows += ["", "Other alerts on these files (on events LABELS.csv does not list):", ""]
        rows += [f"- {title}: {count}" for title, count in sorted(report.other_alerts.items())]
    return rows
