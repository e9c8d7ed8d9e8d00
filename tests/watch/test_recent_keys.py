"""`RecentKeys`: the newest keys a sink delivered, exactly, within its limit."""

from __future__ import annotations

import hashlib
import random
from collections import deque

import pytest

from watchpost.watch.recent_keys import RecentKeys, key_bits


def alert_key(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()[:32]


@pytest.mark.parametrize("limit", [1, 7, 1000, 5000])
def test_holds_exactly_the_newest_keys_like_a_set_and_a_queue(limit: int) -> None:
    rng = random.Random(limit)
    recent = RecentKeys(limit=limit)
    order: deque[str] = deque()
    model: set[str] = set()
    numbers = [rng.randrange(3 * limit + 10) for _ in range(12 * limit + 50)]
    for number in numbers:
        key = alert_key(number)
        assert (key in recent) == (key in model)
        if key in model:
            continue
        recent.add(key)
        order.append(key)
        model.add(key)
        if len(order) > limit:
            model.discard(order.popleft())
        assert len(recent) == len(model)
    for number in range(3 * limit + 10):
        key = alert_key(number)
        assert (key in recent) == (key in model)


def test_keys_that_share_their_home_slot_survive_the_removal_of_others() -> None:
    """Keys whose low bits are equal all start probing at one slot (a long run): removing the
    oldest ones must leave every other reachable."""
    keys = [f"{number:016x}" + "0" * 16 for number in range(1, 200)]
    recent = RecentKeys(limit=50)
    for key in keys:
        recent.add(key)
    assert [key in recent for key in keys] == [False] * 149 + [True] * 50


def test_initial_keys_and_keys_of_other_shapes() -> None:
    recent = RecentKeys(["a" * 32, "not an alert id", "A" * 32])
    assert "a" * 32 in recent and "A" * 32 in recent and "not an alert id" in recent
    assert "b" * 32 not in recent and "not an alert" not in recent
    assert key_bits("a" * 32) != key_bits("A" * 32)
    assert key_bits("0" * 31 + "1") == (0, 1)
