"""The hunt's counters: sources done (for the progress line) and problems, whatever ``jobs`` is."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import SHARED
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.progress import ProgressLine
from watchpost.reporting import print_summary

EVTX = SHARED / "samples" / "windows" / "evtx"


def evtx_files(count: int) -> list[Path]:
    return sorted(EVTX.rglob("*.evtx"))[:count]


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_source_is_counted_done_and_the_line_shows_it(tmp_path: Path, jobs: int) -> None:
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(b"ElfFile\x00" + b"\x00" * 200)
    inputs = [*evtx_files(5), damaged]
    hunt = Hunt(HuntOptions(jobs=jobs))
    line = ProgressLine(hunt.stats)
    assert "inputs 0/0 " in line.describe()
    list(hunt.run(inputs))
    assert hunt.stats.sources == hunt.stats.sources_done == 6
    assert "inputs 6/6 " in line.describe()
    assert hunt.stats.sources_failed == 1
    assert hunt.problems.by_path[str(damaged)] > 0


def test_a_single_source_is_counted_done() -> None:
    hunt = Hunt(HuntOptions())
    list(hunt.run(evtx_files(1)))
    assert hunt.stats.sources == hunt.stats.sources_done == 1
    assert hunt.stats.events > 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_records_left_undecoded_are_counted_and_said(jobs: int) -> None:
    """The pack admits few of the sample records: the others are counted as events, and as not
    decoded, so the summary can say why they raised nothing; a time range decodes them all."""
    inputs = evtx_files(6)
    plain = Hunt(HuntOptions(jobs=jobs))
    list(plain.run(inputs))
    stats = plain.stats
    assert 0 < stats.undecoded < stats.events
    ranged = Hunt(HuntOptions(jobs=jobs, since=datetime(1970, 1, 2, tzinfo=UTC)))
    list(ranged.run(inputs))
    assert ranged.stats.undecoded == 0
    assert ranged.stats.events == stats.events
    out = io.StringIO()
    print_summary(plain, out)
    assert f"{stats.undecoded} not decoded: no loaded rule can match them" in out.getvalue()
