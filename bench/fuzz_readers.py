"""The longer fuzz run: mutants of the real samples of every format through the API and the CLI.

    python bench/fuzz_readers.py --inputs 20000 --cli-inputs 1000 --seed 7 --workers 2

Prints the figures (inputs, formats, crashes, inputs over the time bound, slowest and largest
input, peak RSS, the loss account per damage kind) as JSON; ``--save-crashes`` keeps every crashing
input under tests/fixtures/fuzz (the quick test reads them all again). ``WATCHPOST_FUZZ_SRC=<tree>/src``
runs the same mutants against another checkout (e.g. the code before a fix). The mutations and the
runs are in tests/fuzz/fuzzing.py; the CI run (tests/fuzz/test_fuzz_ci.py) is this with 2,400
inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

import fuzzing  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=5000, help="mutants through the API")
    parser.add_argument("--cli-inputs", type=int, default=500, help="of them, also through `watchpost hunt`")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bound", type=float, default=30.0, help="seconds one input may take")
    parser.add_argument(
        "--save-crashes", action="store_true", help="keep crashing inputs in tests/fixtures/fuzz"
    )
    options = parser.parse_args()
    started = time.monotonic()
    pool = fuzzing.seeds()
    batch = list(fuzzing.mutants(options.inputs, options.seed, pool))
    counts = fuzzing.seed_records(pool)
    with fuzzing.temporary_folder() as folder:
        report = fuzzing.run_api(batch, Path(folder), options.bound, counts, options.workers)
        if options.cli_inputs:
            step = max(1, options.inputs // options.cli_inputs)
            cli = fuzzing.run_cli(batch[::step][: options.cli_inputs], Path(folder), options.bound)
            report.cli_runs, report.cli_inputs = cli.cli_runs, cli.cli_inputs
            report.cli_failures = cli.cli_failures
    figures = fuzzing.summary(report, options.bound, time.monotonic() - started)
    figures["formats"] = sorted({seed.kind for seed in pool})
    figures["seed_files"] = len(pool)
    if options.save_crashes:
        figures["saved"] = [str(path) for path in fuzzing.save_crashes(report, batch)]
    print(json.dumps(figures, indent=1, default=str))
    return 1 if figures["crashes"] or figures["cli_failures"] or figures["unbalanced"] else 0


if __name__ == "__main__":
    sys.exit(main())
