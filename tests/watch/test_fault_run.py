"""The long fault test (issue 20, "Must show"): `watchpost watch` SIGKILLed 12 times while a
generator writes at a steady rate, with single and double rename rotations, copytruncate and a
poisoned line between kills (each kind at least once while the watch is down), and a webhook
receiver on 127.0.0.1 that is sometimes down and sometimes answers 500. Every sink gets exactly
the alerts of one hunt over all the data: none lost, none twice (`tests/watch/fault_run.py`;
a longer run: `bench/watch_faults.py`, figures in docs/RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.watch.fault_run import OPERATIONS, run_faults


@pytest.mark.slow
def test_kills_rotations_copytruncate_poison_and_a_flaky_webhook_lose_and_duplicate_nothing(
        tmp_path: Path) -> None:
    report = run_faults(tmp_path, seconds=40.0, kills=12, rate=300, seed=20)
    summary = report.summary()
    assert report.final_status == 0, report.final_stderr[-3000:]
    assert report.kills >= 10
    for operation in OPERATIONS:
        assert report.operations[f"{operation} (down)"] >= 1, summary
        assert report.operations[operation] >= 2, summary
    assert report.webhook["down"] >= 1 and report.webhook["500"] >= 1, summary
    assert report.expected >= 150, summary
    for name, figures in report.sinks.items():
        assert (figures.lost, figures.duplicated, figures.extra) == (0, 0, 0), f"{name}\n{summary}"
        assert figures.delivered == report.expected, summary
    # An id twice at the webhook is only ever a resend after a kill (receiver took, queue not yet told).
    assert report.sinks["jsonl"].resent == 0, summary
    assert report.sinks["webhook"].resent <= report.kills, summary
    # The copies of copytruncate were there to read: nothing was lost by nature, so nothing reported.
    assert report.losses_reported == [], summary
