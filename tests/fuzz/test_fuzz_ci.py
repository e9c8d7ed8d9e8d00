"""Fuzzing, the CI run (``slow``): 2,400 mutants of the real samples of every format through the
API, and 240 of them through ``watchpost hunt``, with a time and memory bound per input and the loss
account. About a minute on 2 cores; figures in docs/RELIABILITY.md ("Fuzzing"). The same run, longer
or with other seeds: ``python bench/fuzz_readers.py``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fuzzing
import pytest

INPUTS = 2400
CLI_INPUTS = 240
BOUND = 30.0


@pytest.mark.slow
def test_fuzz_run_of_every_format(tmp_path: Path) -> None:
    started = time.monotonic()
    pool = fuzzing.seeds()
    batch = list(fuzzing.mutants(INPUTS, seed=2026, only=pool))
    counts = fuzzing.seed_records(pool)
    report = fuzzing.run_api(batch, tmp_path, BOUND, counts, workers=2)
    cli = fuzzing.run_cli(batch[:: INPUTS // CLI_INPUTS], tmp_path, BOUND)
    report.cli_runs, report.cli_inputs, report.cli_failures = cli.cli_runs, cli.cli_inputs, cli.cli_failures
    figures = fuzzing.summary(report, BOUND, time.monotonic() - started)
    print(json.dumps(figures, indent=1, default=str))
    assert figures["inputs"] == INPUTS and figures["cli_inputs"] == CLI_INPUTS
    assert len({seed.kind for seed in pool}) == 4 and figures["seeds"] == len(pool)
    assert figures["crashes"] == [] and figures["cli_failures"] == []
    assert figures["over_bound"] == 0
    assert figures["unbalanced"] == []
    account = report.account()
    assert {
        "evtx-cut", "evtx-flipped-record-size", "evtx-huge-record-size", "evtx-zeroed-chunk-header",
        "evtx-duplicated-chunk-header", "jsonl-damaged-line", "utf-16-bom", "line-ends-cr",
    } <= set(account)
    assert all(lost == reported for _, lost, reported in account.values())
    assert report.peak_rss_mib < 256  # a worker: rules ~30 MiB, the worst input (a gzip bomb) ~75 MiB
