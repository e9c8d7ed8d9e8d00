"""`RecentKeys`: the keys a sink delivered last, exactly, in two generations of fixed size."""

from __future__ import annotations

import hashlib
import random
import tracemalloc

import pytest

from watchpost.watch.recent_keys import RecentKeys, key_bits, table_slots


def alert_key(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()[:32]


class Model:
    """What `RecentKeys` promises, with Python sets: the newer generation takes the keys added;
    when it holds ``generation`` keys the older one is forgotten and the newer becomes older."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.newer: set[str] = set()
        self.older: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.newer or key in self.older

    def add(self, key: str) -> None:
        if key in self:
            return
        if len(self.newer) >= self.generation:
            self.older, self.newer = self.newer, set()
        self.newer.add(key)


@pytest.mark.parametrize("generation", [1, 7, 1000, 5000])
def test_holds_exactly_what_two_generations_of_sets_hold(generation: int) -> None:
    rng = random.Random(generation)
    recent, model = RecentKeys(generation=generation), Model(generation)
    added: list[str] = []
    for _ in range(12 * generation + 50):
        key = alert_key(rng.randrange(3 * generation + 10))
        assert (key in recent) == (key in model)
        if key not in model:
            added.append(key)
        recent.add(key)
        model.add(key)
        assert len(recent) == len(model.newer) + len(model.older)
        assert generation <= len(recent) <= 2 * generation or len(recent) == len(set(added))
    for number in range(3 * generation + 10):
        key = alert_key(number)
        assert (key in recent) == (key in model)
    newest = list(dict.fromkeys(reversed(added)))[:generation]
    assert all(key in recent for key in newest)


def test_keys_that_share_their_home_slot_stay_reachable() -> None:
    """Keys whose low bits are equal all start probing at one slot (a long run)."""
    keys = [f"{number:016x}" + "0" * 16 for number in range(1, 200)]
    recent = RecentKeys(generation=50)
    for key in keys:
        recent.add(key)
    # 199 keys in generations of 50: the newest 49 and the 50 before them are held
    assert [key in recent for key in keys] == [False] * 100 + [True] * 99


def test_initial_keys_are_taken_oldest_first_and_keys_of_other_shapes() -> None:
    recent = RecentKeys(["a" * 32, "not an alert id", "A" * 32])
    assert "a" * 32 in recent and "A" * 32 in recent and "not an alert id" in recent
    assert "b" * 32 not in recent and "not an alert" not in recent
    assert key_bits("a" * 32) != key_bits("A" * 32)
    assert key_bits("0" * 31 + "1") == (0, 1)
    loaded = RecentKeys([alert_key(n) for n in range(25)], generation=10)
    assert [alert_key(n) in loaded for n in range(25)] == [False] * 10 + [True] * 15


def test_memory_is_allocated_once_and_does_not_grow_with_the_keys() -> None:
    assert table_slots(49_152) == 65_536 and table_slots(49_153) == 131_072 and table_slots(1) == 2
    tracemalloc.start()
    try:
        recent = RecentKeys(generation=2_000)
        allocated = tracemalloc.get_traced_memory()[0]
        for number in range(20_000):
            recent.add(alert_key(number))
        grown = tracemalloc.get_traced_memory()[0] - allocated
    finally:
        tracemalloc.stop()
    assert allocated > 2 * 4096 * 16  # two tables of 4,096 slots, 16 bytes a key, taken at start
    assert grown < 4096  # no allocation per key
