"""Fuzzing, the quick part (plain suite, seconds): hypothesis over the readers in this process, a
bounded batch of real-sample mutants through the API and the CLI, and every regression input kept
from earlier runs. The CI run (>= 2,000 mutants) is test_fuzz_ci.py (``slow``)."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchpost.problems import ProblemLog
from watchpost.readers.registry import iter_sources, read_source

BOUND = 20.0
"""Seconds one input may take (a ceiling only a hang passes: inputs take milliseconds)."""

SMALL_SEEDS = [
    fuzzing.FIXTURES / "cloud" / "cloudtrail_network_discovery.jsonl",
    fuzzing.FIXTURES / "cloud" / "gcp_audit_firewall.jsonl",
    fuzzing.FIXTURES / "linux" / "auditd_raw_t1049.log",
    fuzzing.FIXTURES / "linux" / "sysmon_linux_t1049.log",
    fuzzing.FIXTURES / "windows" / "wevtutil_security.xml",
    fuzzing.FIXTURES / "macos" / "eslogger_t1049.jsonl",
    fuzzing.SAMPLES / "windows" / "evtx" / "sbousseaden_5145_psloggedon.evtx",
]


def read_everything(path: Path) -> tuple[int, ProblemLog]:
    problems = ProblemLog()
    count = sum(1 for source in iter_sources([path], problems) for _ in read_source(source, problems))
    return count, problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.sampled_from(SMALL_SEEDS),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.floats(0.05, 1.0),
    wrap=st.sampled_from(["plain", "gzip", "zip"]),
)
def test_no_reader_raises_on_damaged_bytes(
    tmp_path_factory: pytest.TempPathFactory, seed: Path, edits: list[tuple[float, int]], cut: float,
    wrap: str,
) -> None:
    data = bytearray(seed.read_bytes())
    for where, value in edits:
        data[int(where * len(data))] = value
    damaged = bytes(data[: max(1, int(cut * len(data)))])
    folder = tmp_path_factory.mktemp("hyp")
    path = folder / f"input{seed.suffix}"
    if wrap == "gzip":
        path = folder / f"input{seed.suffix}.gz"
        packed = bytearray(gzip.compress(damaged, mtime=0))
        packed[len(packed) // 2] ^= edits[0][1] or 1
        damaged = bytes(packed)
    elif wrap == "zip":
        path = folder / "input.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"a{seed.suffix}", damaged)
            archive.writestr(f"b{seed.suffix}", seed.read_bytes())
        damaged = b""
    if damaged:
        path.write_bytes(damaged)
    count, problems = read_everything(path)  # must not raise
    assert all(problem.path.startswith(str(path)) for problem in problems.problems)
    if wrap == "zip":  # the intact member is read whatever happened to the other one
        assert count >= read_everything(seed)[0]


@pytest.fixture(scope="module")
def quick_batch() -> list[fuzzing.Mutant]:
    pool = [seed for seed in fuzzing.seeds() if seed.path.stat().st_size < 200_000]
    picked = pool[:: max(1, len(pool) // 24)]
    return list(fuzzing.mutants(72, seed=19, only=picked))


def test_quick_mutants_through_the_api(quick_batch: list[fuzzing.Mutant], tmp_path: Path) -> None:
    seed_names = {mutant.seed for mutant in quick_batch}
    counts = fuzzing.seed_records([seed for seed in fuzzing.seeds() if seed.name in seed_names])
    report = fuzzing.run_api(quick_batch, tmp_path, BOUND, counts)
    assert len(report.outcomes) == len(quick_batch)
    assert [outcome.crash for outcome in report.crashes] == []
    assert report.over(BOUND) == []
    assert report.unbalanced() == []  # records lost == records reported, per input
    assert {outcome.kind for outcome in report.outcomes if outcome.account}  # some kinds were accounted
    assert 0 < report.peak_rss_mib < fuzzing.MEMORY_BOUND >> 20


def test_quick_mutants_through_the_cli(quick_batch: list[fuzzing.Mutant], tmp_path: Path) -> None:
    report = fuzzing.run_cli(quick_batch[:24], tmp_path, BOUND, per_run=24)
    assert report.cli_failures == []
    assert report.cli_inputs == 24


REGRESSIONS = sorted(fuzzing.REGRESSIONS.glob("*")) if fuzzing.REGRESSIONS.is_dir() else []


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda path: path.name)
def test_inputs_that_once_crashed_are_read(path: Path) -> None:
    count, problems = read_everything(path)  # must not raise
    assert count > 0 or problems.count("read") > 0  # read, or the damage is reported: never silent


def test_regression_inputs_through_the_cli(tmp_path: Path) -> None:
    batch = [fuzzing.Mutant(path.name, "regression", "regression", path.read_bytes()) for path in REGRESSIONS]
    if not batch:
        pytest.skip("no regression input kept yet")
    report = fuzzing.run_cli(batch, tmp_path, BOUND, per_run=len(batch))
    assert report.cli_failures == []
