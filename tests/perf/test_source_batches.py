"""Worker batches cover every source once, in order, large while much is left, short at the end."""

from __future__ import annotations

import pytest

from watchpost.hunting.source_hunts import MAX_BATCH, batches


@pytest.mark.parametrize(("count", "jobs"), [(1, 2), (2, 2), (7, 3), (183, 2), (10_797, 2), (5_000, 8)])
def test_batches_cover_every_source_once_in_order(count: int, jobs: int) -> None:
    found = list(batches(count, jobs))
    assert [n for batch in found for n in batch] == list(range(count))
    assert all(1 <= len(batch) <= MAX_BATCH for batch in found)
    sizes = [len(batch) for batch in found]
    assert sizes == sorted(sizes, reverse=True)  # never longer than the one before
    assert sizes[-1] == 1


def test_a_large_hunt_sends_few_messages() -> None:
    found = list(batches(10_797, 2))
    assert len(found) < 10_797 // 16 // 5  # against 675 messages of 16 sources
    assert len(found[0]) == MAX_BATCH
