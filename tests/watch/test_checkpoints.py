"""Full checkpoints at most every ``checkpoint_every`` seconds, incremental correlation
snapshots: a crash between two full checkpoints re-produces the alerts delivered since the last
one, and no sink delivers any of them twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.watch.replay import SEED_EVENTS, append, jsonl_ids, labelled_stream
from watchpost.correlation import CorrelationEngine
from watchpost.hunting.engine import bundled_pack, hunt
from watchpost.hunting.ruleset import load_ruleset
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events
from watchpost.watch.correlation_state import EngineSaver, restore_engine
from watchpost.watch.delivery import DeliverySink, DurableJsonlSink, OutboxSink
from watchpost.watch.loop import Watch, WatchOptions
from watchpost.watch.state import StateStore


class Recorder:
    """A transport that takes every alert and remembers its key."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, body: bytes, key: str, alert: dict[str, Any]) -> None:
        self.keys.append(key)

    def describe(self) -> str:
        return "recorder"

    def close(self) -> None:
        return None


def open_watch(tmp_path: Path, recorder: Recorder | None, **options: Any) -> tuple[Watch, list[DeliverySink]]:
    """A watch over ``watched`` into the JSONL sink and, with ``recorder``, a network sink."""
    store = StateStore(tmp_path / "state")
    sinks: list[DeliverySink] = [DurableJsonlSink(tmp_path / "alerts.jsonl", store)]
    if recorder is not None:
        sinks.append(OutboxSink("webhook", recorder, store))
    settings = WatchOptions(poll_interval=0.01, **options)
    return Watch(settings, [str(tmp_path / "watched")], store, sinks), sinks


def steps(watch: Watch, count: int) -> None:
    for _ in range(count):
        watch._step()  # noqa: SLF001 - one batch at a time, as `run` does


@pytest.mark.parametrize("network", [False, True], ids=["jsonl", "jsonl+webhook"])
def test_crash_between_full_checkpoints_delivers_each_alert_once(tmp_path: Path, network: bool) -> None:
    """Without a network sink the JSONL file's tail is all that recognises the alerts written
    since the last full checkpoint; with one, the keys committed with its queue also do."""
    watched = tmp_path / "watched"
    watched.mkdir()
    lines = labelled_stream(2000, seed=11)
    half = len(lines) // 2
    recorder = Recorder() if network else None
    # No watermark move (it would checkpoint at once when it closes windows with alerts).
    first, sinks = open_watch(tmp_path, recorder, checkpoint_every=0.0, idle_after=1e9)
    append(watched, lines[:half])
    steps(first, 5)  # a full checkpoint after every batch
    saved = first.store.positions()
    delivered_then = len(jsonl_ids(tmp_path / "alerts.jsonl"))
    first.options.checkpoint_every = 3600.0
    append(watched, lines[half:])
    steps(first, 5)  # alerts delivered, no full checkpoint
    assert first.store.positions() == saved
    assert len(jsonl_ids(tmp_path / "alerts.jsonl")) > delivered_then
    for sink in sinks:  # the crash: no last checkpoint; the sender stops where it is
        sink.close(wait=0.2)
    first.store.close()

    second, sinks = open_watch(tmp_path, recorder, stop_when_idle=0.0, idle_after=0.0)
    second.run()
    for sink in sinks:
        sink.close(wait=30.0)
    second.store.close()
    expected = sorted(alert.key for alert in hunt([str(watched)]))
    assert len(expected) > 30
    written = jsonl_ids(tmp_path / "alerts.jsonl")
    assert [key for key, n in Counter(written).items() if n > 1] == []
    assert sorted(written) == expected
    if recorder is not None:
        assert [key for key, n in Counter(recorder.keys).items() if n > 1] == []
        assert sorted(recorder.keys) == expected


def test_incremental_snapshots_restore_the_same_engine_and_drop_unused_rows() -> None:
    ruleset = load_ruleset([bundled_pack()])
    events = sorted(read_events(sorted(SEED_EVENTS.glob("*.xml")), ProblemLog()), key=lambda e: e.timestamp)
    matches = [Match(rule.meta, event) for event in events for rule in ruleset.index.match(event)
               if rule.meta.id in ruleset.correlated_ids]
    specs = ruleset.correlations
    uninterrupted = CorrelationEngine(specs)
    expected = [a.key for m in matches for a in uninterrupted.feed(m)]
    expected += [a.key for a in uninterrupted.flush()]
    for cut in random.Random(5).sample(range(1, len(matches)), min(8, len(matches) - 1)):
        engine, saver, rows = CorrelationEngine(specs), EngineSaver(), dict[int, bytes]()
        keys = []
        for number, match in enumerate(matches):
            snapshot = saver.save(engine)
            for seq in snapshot.removed:
                del rows[seq]
            rows.update(snapshot.added)
            saver.written(snapshot)
            if number == cut:
                engine = restore_engine(snapshot.structure, specs, timedelta(minutes=5), 100_000,
                                        ProblemLog(), rows)
                saver = EngineSaver(rows)
            keys += [a.key for a in engine.feed(match)]
        keys += [a.key for a in engine.flush()]
        assert keys == expected
        emptied = saver.save(engine)
        assert emptied.added == [] and sorted(emptied.removed) == sorted(rows)


def test_a_watermark_move_that_closes_windows_is_checkpointed_at_once(tmp_path: Path) -> None:
    """Alerts made by the idle time rather than by input are saved with their state at once,
    not up to ``checkpoint_every`` later."""
    watched = tmp_path / "watched"
    watched.mkdir()
    append(watched, labelled_stream(2000, seed=11))  # 74 s of events: all within the lateness
    watch, sinks = open_watch(tmp_path, None, checkpoint_every=3600.0, idle_after=0.0)
    steps(watch, 1)
    read_alerts = len(jsonl_ids(tmp_path / "alerts.jsonl"))
    assert watch.counters.events > 2000 and watch.store.positions() == {}
    steps(watch, 1)  # idle: the watermark releases the matches and the bursts fire
    assert len(jsonl_ids(tmp_path / "alerts.jsonl")) > read_alerts
    saved = watch.store.positions()
    assert [p.offset for p in saved.values()] == [p.offset for f in watch.followers for p in f.positions()]
    assert watch.store.get_meta("correlation") is not None
    for sink in sinks:
        sink.close()
    watch.store.close()
