"""The keys of the alerts a sink delivered last, in little memory.

A sink remembers the newest keys it delivered (up to ``RECENT_KEYS``) so that an alert produced
again is recognised (docs/watch.md, "Crash safety"). An alert key is 32 hexadecimal digits (128
bits of a SHA-256, `Alert.key`); a Python ``set`` of such strings costs about 130 bytes a key
(the string, its set slot, its place in an eviction order), and a long watch ends up holding
13 MiB per sink. `RecentKeys` holds each key as two 64-bit integers instead, in arrays: an
open-addressing table with linear probing (backward-shift deletion, so nothing is left behind
by evictions), at most half full, and a ring of the keys in the order they were added, for
evicting the oldest: no Python object per key, 1.6 MiB for 30,000 keys and 6.1 MiB at 100,000
(a set and a deque of the strings: 4.6 and 12.5 MiB). Loading 100,000 keys at start takes
about 0.3 s. The key is stored whole, so membership is exact. A key of another shape (never
one watchpost makes; a JSONL file edited by hand) is held by the 128 bits of its own SHA-256.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable

RECENT_KEYS = 100_000
"""Keys a sink remembers in memory (alerts that could come again are only those after the last
checkpoint, far fewer)."""
FIRST_CAPACITY = 1 << 12
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


class RecentKeys:
    """A bounded set of the newest keys (the oldest is forgotten when one more is added)."""

    def __init__(self, keys: Iterable[str] = (), limit: int = RECENT_KEYS) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._empty(FIRST_CAPACITY)
        self.count = 0
        self.ring_high = array("Q")
        self.ring_low = array("Q")
        self.oldest = 0
        """Index in the ring of the oldest key once the ring is full."""
        for key in keys:
            self.add(key)

    def __len__(self) -> int:
        return self.count

    def __contains__(self, key: str) -> bool:
        return self._find(*key_bits(key)) >= 0

    def add(self, key: str) -> None:
        high, low = key_bits(key)
        if self._find(high, low) >= 0:
            return
        if len(self.ring_low) < self.limit:
            self.ring_high.append(high)
            self.ring_low.append(low)
        else:
            at = self.oldest
            self._remove(self.ring_high[at], self.ring_low[at])
            self.ring_high[at], self.ring_low[at] = high, low
            self.oldest = (at + 1) % self.limit
        if (self.count + 1) * 2 > len(self.filled):
            self._grow()
        self._put(high, low)

    # -- the table -------------------------------------------------------------------------

    def _empty(self, capacity: int) -> None:
        self.mask = capacity - 1
        self.high = array("Q", bytes(8 * capacity))
        self.low = array("Q", bytes(8 * capacity))
        self.filled = bytearray(capacity)

    def _find(self, high: int, low: int) -> int:
        mask, filled, highs, lows = self.mask, self.filled, self.high, self.low
        slot = low & mask
        while filled[slot]:
            if lows[slot] == low and highs[slot] == high:
                return slot
            slot = (slot + 1) & mask
        return -1

    def _put(self, high: int, low: int) -> None:
        mask, filled = self.mask, self.filled
        slot = low & mask
        while filled[slot]:
            slot = (slot + 1) & mask
        filled[slot] = 1
        self.high[slot], self.low[slot] = high, low
        self.count += 1

    def _remove(self, high: int, low: int) -> None:
        """Delete a key, moving back the keys after it in its run that may not stay behind the
        hole (each must remain reachable from its home slot)."""
        hole = self._find(high, low)
        if hole < 0:
            return
        mask, filled, highs, lows = self.mask, self.filled, self.high, self.low
        slot = hole
        while True:
            slot = (slot + 1) & mask
            if not filled[slot]:
                break
            home = lows[slot] & mask
            if (slot - home) & mask >= (slot - hole) & mask:  # its home is at or before the hole
                highs[hole], lows[hole] = highs[slot], lows[slot]
                hole = slot
        filled[hole] = 0
        self.count -= 1

    def _grow(self) -> None:
        highs, lows, filled = self.high, self.low, self.filled
        self._empty(len(filled) * 2)
        self.count = 0
        for slot, used in enumerate(filled):
            if used:
                self._put(highs[slot], lows[slot])
