"""Correlation snapshots save each correlation's groups as columns: the restored engine holds the
same groups in the same order, with the same entries, parked where they were parked, and goes on
to the same alerts; snapshots written before (groups pickled object by object) still restore."""

from __future__ import annotations

import pickle
import random
from datetime import timedelta
from typing import Any

import pytest

import watchpost.watch.correlation_state as correlation_state
from tests.correlation.support import load, match
from watchpost.correlation import CorrelationEngine
from watchpost.correlation.occurrence import Parked
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.watch.correlation_state import EngineSaver, load_occurrence, restore_engine

RULES = """
title: base
name: base
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
---
title: programs
correlation:
    type: value_count
    rules: [base]
    group-by: [Host, Logon]
    timespan: 5m
    condition: {gte: 4, field: Image}
"""


def stream(count: int) -> list[Match]:
    loaded = load(RULES)
    base = loaded.rule("base")
    rng = random.Random(count)
    return [
        match(base, second * 0.5, Host=f"WKS-{rng.randrange(6)}", Logon=f"0x{rng.randrange(4):x}",
              Image=rng.choice(["netstat.exe", "whoami.exe", "net.exe", "ipconfig.exe", "arp.exe"]))
        for second in range(count)
    ]


def held(occ: object) -> str:
    if isinstance(occ, Parked):
        return f"parked {occ.seq}"
    return "dropped" if occ is None else f"held {occ.seq}"  # type: ignore[attr-defined]


def shape(engine: CorrelationEngine) -> list[Any]:
    """Every group in order with its entries (parked ones by seq)."""
    return [
        (key, group.shown, group.closed, group.newest,
         [(e.ts, e.seq, e.slot, e.values, held(e.occ)) for e in group.entries])
        for state in engine.states.values() for key, group in state.groups.items()
    ]


def run_with_restart(matches: list[Match], cut: int) -> tuple[list[str], list[Any], list[Any]]:
    specs = load(RULES).specs
    rows: dict[int, bytes] = {}
    engine = CorrelationEngine(specs, timedelta(seconds=5))
    engine.hold_outside(lambda seq: load_occurrence(rows[seq]))
    saver = EngineSaver()
    keys: list[str] = []
    before = after = []
    for number, one in enumerate(matches):
        keys += [a.key for a in engine.feed(one)]
        snapshot = saver.save(engine)
        for seq in snapshot.removed:
            del rows[seq]
        rows.update(snapshot.added)
        saver.written(snapshot)
        engine.park(saver.stored)
        if number == cut:
            snapshot = saver.save(engine)
            before = shape(engine)
            engine = restore_engine(snapshot.structure, specs, timedelta(seconds=5), 100_000,
                                    ProblemLog(), rows)
            engine.hold_outside(lambda seq: load_occurrence(rows[seq]))
            engine.park(saver.stored, everything=True)
            after = shape(engine)
    keys += [a.key for a in engine.flush()]
    return keys, before, after


def uninterrupted(matches: list[Match]) -> list[str]:
    engine = CorrelationEngine(load(RULES).specs, timedelta(seconds=5))
    keys = [a.key for one in matches for a in engine.feed(one)]
    return keys + [a.key for a in engine.flush()]


@pytest.mark.parametrize("cut", [40, 250, 599])
def test_restored_groups_are_the_saved_ones_and_alert_as_without_a_restart(cut: int) -> None:
    matches = stream(600)
    keys, before, after = run_with_restart(matches, cut)
    assert before and after == before
    assert any(entry[4].startswith("parked") for group in before for entry in group[4])
    assert keys == uninterrupted(matches) and keys


def test_a_snapshot_with_groups_pickled_one_by_one_still_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(correlation_state, "_groups_reduced",
                        lambda groups, park: groups.__reduce_ex__(pickle.HIGHEST_PROTOCOL))
    specs = load(RULES).specs
    engine = CorrelationEngine(specs, timedelta(seconds=5))
    matches = stream(300)
    for one in matches[:200]:
        engine.feed(one)
    blob = correlation_state.save_engine(engine)
    monkeypatch.undo()
    restored = restore_engine(blob, specs, timedelta(seconds=5), 100_000, ProblemLog())
    assert shape(restored) == shape(engine)
    keys = [a.key for one in matches[200:] for a in restored.feed(one)] + [a.key for a in restored.flush()]
    expected = [a.key for one in matches[200:] for a in engine.feed(one)] + [a.key for a in engine.flush()]
    assert keys == expected
