"""The keys of the alerts a sink delivered last, in a constant amount of memory.

A sink remembers the keys it delivered last so that an alert produced again is recognised
(docs/watch.md, "Crash safety"): after a restart, the alerts made since the last full checkpoint
(at most about a second of them) come again. `RecentKeys` keeps far more than that: at least the
newest ``generation`` keys (default 49,152) and at most twice as many, in two generations. The
newer generation takes the keys added; when it is full, the older one is emptied and becomes
the newer one.

An alert key is 32 hexadecimal digits (128 bits of a SHA-256, `Alert.key`); each generation
holds keys as two 64-bit integers in arrays, an open-addressing table with linear probing at
most three quarters full, allocated whole at the start: no Python object per key, nothing
deleted (a generation is emptied at once), and the same memory from the first alert to the
millionth, 2.1 MiB per sink at the default size (the sink's memory does not grow during a
watch). The key is stored whole, so membership is exact. A key of another shape (never one
watchpost makes; a JSONL file edited by hand) is held by the 128 bits of its own SHA-256.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable

GENERATION_KEYS = 49_152
"""Keys per generation: a sink recognises at least its newest 49,152 alerts (at most 98,304),
in two tables of 65,536 slots."""
MASK64 = (1 << 64) - 1


def key_bits(key: str) -> tuple[int, int]:
    """The 128 bits of ``key`` as (high, low) 64-bit halves."""
    if len(key) == 32:
        try:
            value = int(key, 16)
        except ValueError:
            pass
        else:
            if key.lower() == key:  # "ABC..." and "abc..." are two keys
                return value >> 64, value & MASK64
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16], "big")
    return value >> 64, value & MASK64


def table_slots(keys: int) -> int:
    """The smallest power of two whose three quarters hold ``keys`` (and one slot stays free)."""
    slots = 2
    while keys * 4 > slots * 3:
        slots *= 2
    return slots


class KeyTable:
    """One generation: a set of 128-bit keys in arrays (linear probing, no deletion)."""

    __slots__ = ("mask", "high", "low", "filled", "count")

    def __init__(self, slots: int) -> None:
        self.mask = slots - 1
        self.high = array("Q", bytes(8 * slots))
        self.low = array("Q", bytes(8 * slots))
        self.filled = bytearray(slots)
        self.count = 0

    def __contains__(self, bits: tuple[int, int]) -> bool:
        high, low = bits
        mask, filled, highs, lows = self.mask, self.filled, self.high, self.low
        slot = low & mask
        while filled[slot]:
            if lows[slot] == low and highs[slot] == high:
                return True
            slot = (slot + 1) & mask
        return False

    def put(self, high: int, low: int) -> None:
        """Add a key that is not in the table (the caller checked)."""
        mask, filled = self.mask, self.filled
        slot = low & mask
        while filled[slot]:
            slot = (slot + 1) & mask
        filled[slot] = 1
        self.high[slot], self.low[slot] = high, low
        self.count += 1

    def clear(self) -> None:
        self.filled[:] = bytes(len(self.filled))
        self.count = 0


class RecentKeys:
    """The newest keys added: at least the last ``generation``, at most twice as many."""

    def __init__(self, keys: Iterable[str] = (), generation: int = GENERATION_KEYS) -> None:
        """``keys`` oldest first (the newest are those kept when there are more)."""
        if generation < 1:
            raise ValueError("generation must be at least 1")
        self.generation = generation
        slots = table_slots(generation)
        self.newer = KeyTable(slots)
        self.older = KeyTable(slots)
        for key in keys:
            self.add(key)

    def __len__(self) -> int:
        return self.newer.count + self.older.count

    def __contains__(self, key: str) -> bool:
        bits = key_bits(key)
        return bits in self.newer or bits in self.older

    def add(self, key: str) -> None:
        bits = key_bits(key)
        if bits in self.newer or bits in self.older:
            return
        if self.newer.count >= self.generation:
            self.older.clear()
            self.newer, self.older = self.older, self.newer
        self.newer.put(*bits)
