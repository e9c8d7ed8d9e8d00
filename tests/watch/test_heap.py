"""`HeapTrimmer`: free heap pages go back to the system after checkpoints, not more often than
asked (a watch's trims are checked in test_parking.py)."""

from __future__ import annotations

import sys

import pytest

from watchpost.watch.heap import HeapTrimmer, glibc_trim


def test_trims_at_most_once_per_interval() -> None:
    calls: list[int] = []
    trimmer = HeapTrimmer(every=10.0, trim=lambda: len(calls.append(1) or calls))
    done = [trimmer.maybe_trim(now) for now in (100.0, 101.0, 109.9, 110.0, 115.0, 121.0)]
    assert done == [True, False, False, True, False, True]
    assert len(calls) == trimmer.trims == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_trim_is_found_and_runs() -> None:
    trim = glibc_trim()
    if trim is None:
        pytest.skip("not glibc")
    assert trim() in (0, 1)
