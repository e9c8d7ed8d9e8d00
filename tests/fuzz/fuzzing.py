"""The fuzz runs: mutants (`mutations`) through the API and the CLI, and what they showed.

Used by the quick fuzz test (plain suite), the CI fuzz test (``slow``) and ``bench/fuzz_readers.py``
(the longer run). Nothing here is timed as a unit test: bounds are generous ceilings that only a
hang or a blow-up passes.

- `run_api`: mutants through ``watchpost.Hunt`` in worker subprocesses (address space bounded by
  `MEMORY_BOUND`; a watchdog kills a worker silent past the per-input bound and reports the input it
  was on), each input's time, events and read problems, the workers' peak RSS, tracebacks.
- `run_cli`: folders of mutants through ``watchpost hunt``: one bad file must not stop the others,
  no traceback may reach the user, the exit status is one of the contract's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mutations import FIXTURES, PROJECT, SAMPLES, Mutant, Seed, mutants, seeds

__all__ = ["FIXTURES", "MEMORY_BOUND", "PROJECT", "REGRESSIONS", "SAMPLES", "Mutant", "Report", "Seed",
           "mutants", "run_api", "run_cli", "save_crashes", "seed_records", "seeds", "summary",
           "temporary_folder"]

REGRESSIONS = FIXTURES / "fuzz"
"""Inputs that once crashed watchpost, kept small; every run reads them again."""


# Runs --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    name: str
    kind: str
    seed: str
    size: int
    seconds: float = 0.0
    events: int = 0
    problems: int = 0
    crash: str | None = None
    rss_mib: float = 0.0
    """The worker's peak RSS after this input (it only grows: the input that raised it most is
    the hungriest)."""
    account: bool = False
    expected: int | None = None
    """Records the mutant should yield plus report, when known (seed records, or present ones)."""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    baseline_rss_mib: float = 0.0
    """A worker's RSS once its rules are loaded, before any input."""
    cli_runs: int = 0
    cli_inputs: int = 0
    cli_failures: list[str] = field(default_factory=list)

    @property
    def crashes(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.crash]

    def over(self, bound: float) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.seconds > bound]

    def unbalanced(self) -> list[Outcome]:
        """Mutants whose loss account does not balance: events + reported != expected."""
        return [
            outcome for outcome in self.outcomes
            if outcome.account and outcome.expected is not None and not outcome.crash
            and outcome.events + outcome.problems != outcome.expected
        ]

    def account(self) -> dict[str, tuple[int, int, int]]:
        """Per damage kind with an account: (mutants, records lost, records reported)."""
        table: dict[str, tuple[int, int, int]] = {}
        for outcome in self.outcomes:
            if outcome.account and outcome.expected is not None and not outcome.crash:
                runs, lost, reported = table.get(outcome.kind, (0, 0, 0))
                lost += outcome.expected - outcome.events
                table[outcome.kind] = (runs + 1, lost, reported + outcome.problems)
        return table


def seed_records(pool: list[Seed]) -> dict[str, int]:
    """Records each seed accounts for through the API, unharmed: its events (read or left
    undecoded) plus the read problems it has of its own."""
    worker = _worker([(seed.name, str(seed.path)) for seed in pool], 60.0)
    return {
        str(line["name"]): int(str(line["events"])) + int(str(line["problems"]))
        for line in worker if not line.get("crash")
    }


def run_api(
    batch: list[Mutant], folder: Path, bound: float, seed_counts: dict[str, int], workers: int = 1
) -> Report:
    """The mutants through ``watchpost.Hunt``, ``workers`` subprocesses side by side."""
    report = Report()
    paths = []
    for mutant in batch:
        path = folder / mutant.name
        path.write_bytes(mutant.data)
        paths.append((mutant.name, str(path)))
    by_name = {mutant.name: mutant for mutant in batch}
    shares = [paths[start::workers] for start in range(workers)]
    with ThreadPoolExecutor(workers) as pool:  # each worker's output read as it comes
        lines = pool.map(lambda share: list(_collect(_start_worker(share), share, bound)), shares)
        for line in (line for result in lines for line in result):
            if line.get("baseline_rss_mib"):
                report.baseline_rss_mib = max(report.baseline_rss_mib, line["baseline_rss_mib"])
                continue
            if line.get("peak_rss_mib"):
                report.peak_rss_mib = max(report.peak_rss_mib, line["peak_rss_mib"])
                continue
            mutant = by_name[line["name"]]
            expected = mutant.present if mutant.present is not None else seed_counts.get(mutant.seed)
            report.outcomes.append(Outcome(
                mutant.name, mutant.kind, mutant.seed, len(mutant.data), line.get("seconds", bound + 1),
                line.get("events", 0), line.get("problems", 0), line.get("crash"), line.get("rss_mib", 0.0),
                mutant.account, expected,
            ))
    return report


MEMORY_BOUND = 1536 << 20
"""Address space a worker may use: past it, allocation fails (a MemoryError is a crash found)."""

WORKER = r"""
import json, os, resource, sys, time, traceback
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from watchpost import Hunt, HuntOptions
def peak_mib():
    # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's peak across exec)
    try:
        with open("/proc/self/status") as status:
            for row in status:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
hunt = Hunt(HuntOptions())
print(json.dumps({"baseline_rss_mib": peak_mib()}), flush=True)
with open(sys.argv[2]) as listing:
    items = json.load(listing)
os.remove(sys.argv[2])
for name, path in items:
    print(json.dumps({"start": name}), flush=True)
    started = time.perf_counter()
    hunt.problems.problems.clear(); hunt.problems.counts.clear(); hunt.problems.by_path.clear()
    hunt.stats.events = 0
    result = {"name": name}
    try:
        for _ in hunt.run([path]):
            pass
        result["events"] = hunt.stats.events
        result["problems"] = hunt.problems.count("read")
    except BaseException:
        result["crash"] = traceback.format_exc()[-2000:]
    result["seconds"] = time.perf_counter() - started
    result["rss_mib"] = peak_mib()
    print(json.dumps(result), flush=True)
print(json.dumps({"peak_rss_mib": peak_mib()}), flush=True)
"""


def code_under_test() -> str:
    """The source tree the runs import: this project's, or ``WATCHPOST_FUZZ_SRC`` (to run the same
    mutants against another checkout, e.g. the code before a fix)."""
    return os.environ.get("WATCHPOST_FUZZ_SRC", str(PROJECT / "src"))


def _start_worker(share: list[tuple[str, str]]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=code_under_test())
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as listing:
        json.dump(share, listing)  # a file, not a pipe: a long list would block both sides
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(MEMORY_BOUND), listing.name],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    return process


def _collect(
    process: subprocess.Popen[str], share: list[tuple[str, str]], bound: float
) -> Iterator[dict[str, Any]]:
    """The worker's results; a worker silent for longer than ``bound`` (plus start-up) is killed
    and the input it was on reported as over the bound; the rest of its share goes to a new one."""
    import selectors

    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    current: str | None = None
    done: set[str] = set()
    deadline = time.monotonic() + bound + 60  # rules load first
    while True:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            process.kill()
            process.wait()
            if current is not None:
                done.add(current)
                yield {"name": current, "seconds": bound + 1, "crash": f"over the {bound} s bound (killed)"}
            rest = [item for item in share if item[0] not in done]
            if rest:
                yield from _collect(_start_worker(rest), rest, bound)
            return
        line = process.stdout.readline()
        if not line:
            process.wait()
            if current is not None and current not in done:
                yield {"name": current, "crash": f"worker died (status {process.returncode})"}
                done.add(current)
                rest = [item for item in share if item[0] not in done]
                if rest:
                    yield from _collect(_start_worker(rest), rest, bound)
            return
        message = json.loads(line)
        if "start" in message:
            current = str(message["start"])
            deadline = time.monotonic() + bound
            continue
        if "name" in message:
            done.add(str(message["name"]))
            current = None
        yield message


def _worker(items: list[tuple[str, str]], bound: float) -> list[dict[str, Any]]:
    return [line for line in _collect(_start_worker(items), items, bound) if "name" in line]


CONTRACT_EXITS = {0, 1, 2, 3}
"""Exit statuses a hunt over damaged input may end with (watchpost.exit_codes: done, alerts,
nothing readable, rules); anything else (70: an internal error) or a traceback is a crash."""


def watchpost_command() -> list[str]:
    """The ``watchpost`` command as users run it (the installed script; it imports the tree of
    `code_under_test`, which PYTHONPATH puts first)."""
    script = shutil.which("watchpost")
    if script is not None:
        return [script]
    return [sys.executable, "-c", "import sys; from watchpost.cli import main; sys.exit(main())"]


def run_cli(batch: list[Mutant], folder: Path, bound: float, per_run: int = 40) -> Report:
    """Folders of ``per_run`` mutants through ``watchpost hunt``: one bad file must not stop the
    others, and no traceback may reach the user."""
    report = Report()
    for start in range(0, len(batch), per_run):
        group = folder / f"cli-{start:05}"
        group.mkdir()
        for mutant in batch[start : start + per_run]:
            (group / mutant.name).write_bytes(mutant.data)
        env = dict(os.environ, PYTHONPATH=code_under_test())
        command = [*watchpost_command(), "hunt", str(group), "--format", "jsonl", "-o", os.devnull]
        try:
            limit = bound * per_run + 60
            done = subprocess.run(command, capture_output=True, text=True, timeout=limit, env=env)
        except subprocess.TimeoutExpired:
            report.cli_failures.append(f"{group.name}: over the time bound")
            continue
        report.cli_runs += 1
        report.cli_inputs += len(batch[start : start + per_run])
        if "Traceback" in done.stderr or done.returncode not in CONTRACT_EXITS:
            report.cli_failures.append(f"{group.name}: exit {done.returncode}: {done.stderr[-1500:]}")
    return report


def save_crashes(
    report: Report, batch: list[Mutant], into: Path = REGRESSIONS, limit: int = 256 << 10
) -> list[Path]:
    """Keep each crashing input (when small) as a regression file."""
    by_name = {mutant.name: mutant for mutant in batch}
    saved = []
    into.mkdir(parents=True, exist_ok=True)
    for outcome in report.crashes:
        mutant = by_name[outcome.name]
        if len(mutant.data) <= limit:
            path = into / mutant.name
            path.write_bytes(mutant.data)
            saved.append(path)
    return saved


def summary(report: Report, bound: float, elapsed: float) -> dict[str, Any]:
    outcomes = report.outcomes
    slowest = max(outcomes, key=lambda outcome: outcome.seconds, default=None)
    largest = max(outcomes, key=lambda outcome: outcome.size, default=None)
    return {
        "inputs": len(outcomes),
        "cli_inputs": report.cli_inputs,
        "cli_runs": report.cli_runs,
        "seeds": len({outcome.seed for outcome in outcomes}),
        "kinds": sorted({outcome.kind for outcome in outcomes}),
        "crashes": [asdict(outcome) for outcome in report.crashes],
        "cli_failures": report.cli_failures,
        "over_bound": len(report.over(bound)),
        "slowest": None if slowest is None else (slowest.name, slowest.seed, round(slowest.seconds, 2)),
        "largest": None if largest is None else (largest.name, largest.seed, largest.size),
        "peak_rss_mib": round(report.peak_rss_mib, 1),
        "baseline_rss_mib": round(report.baseline_rss_mib, 1),
        "hungriest": _hungriest(outcomes),
        "account": report.account(),
        "unbalanced": [asdict(outcome) for outcome in report.unbalanced()],
        "elapsed_s": round(elapsed, 1),
    }


def _hungriest(outcomes: list[Outcome]) -> tuple[str, str, float] | None:
    """The input after which a worker's peak RSS was highest, first reached."""
    top = max(outcomes, key=lambda outcome: outcome.rss_mib, default=None)
    if top is None:
        return None
    first = next(outcome for outcome in outcomes if outcome.rss_mib == top.rss_mib)
    return first.name, first.seed, round(first.rss_mib, 1)


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="watchpost-fuzz-")
