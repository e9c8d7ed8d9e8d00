"""The watch parks held matches once their rows are in the state file (`CorrelationEngine.park`):
its windows then keep stand-ins, a restart restores them parked without reading their rows,
and the alerts are those of a hunt."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from tests.watch.replay import append, jsonl_ids, labelled_stream
from tests.watch.test_checkpoints import open_watch, steps
from watchpost.correlation import CorrelationEngine
from watchpost.correlation.occurrence import Occurrence, Parked
from watchpost.hunting.engine import hunt


def held(engine: CorrelationEngine) -> dict[int, Occurrence | Parked]:
    """What the windows and the reorder buffer hold, by seq."""
    found: dict[int, Occurrence | Parked] = {}
    for state in engine.states.values():
        for group in state.groups.values():
            found.update((entry.seq, entry.occ) for entry in group.entries if entry.occ is not None)
    found.update((seq, item) for _, seq, item in engine._buffer)  # noqa: SLF001
    return found


@pytest.mark.parametrize("lateness", [5, 300], ids=["windows", "reorder-buffer"])
def test_parked_matches_survive_a_crash_and_alert_as_a_hunt(tmp_path: Path, lateness: int) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    lines = labelled_stream(3000, seed=13)
    half = len(lines) // 2
    first, sinks = open_watch(tmp_path, None, checkpoint_every=0.0, idle_after=1e9,
                              lateness=timedelta(seconds=lateness))
    append(watched, lines[:half])
    steps(first, 5)
    before = held(first.correlation)
    parked = {seq for seq, item in before.items() if isinstance(item, Parked)}
    assert len(parked) >= 10
    assert parked <= first.saver.stored
    assert first.heap.trims >= (1 if first.heap.trim is not None else 0)
    for sink in sinks:  # the crash
        sink.close()
    first.store.close()

    second, sinks = open_watch(tmp_path, None, stop_when_idle=0.0, idle_after=0.0,
                               lateness=timedelta(seconds=lateness))
    after = held(second.correlation)
    assert after.keys() == before.keys()
    assert {seq for seq, item in after.items() if isinstance(item, Parked)} >= parked
    append(watched, lines[half:])
    second.run()
    for sink in sinks:
        sink.close()
    second.store.close()
    expected = list(hunt([str(watched)]))
    written = jsonl_ids(tmp_path / "alerts.jsonl")
    assert [key for key, n in Counter(written).items() if n > 1] == []
    assert sorted(written) == sorted(alert.key for alert in expected)
    assert sum(alert.rule.kind == "correlation" for alert in expected) >= 3
