"""Commits between two full checkpoints: a network sink's queue is committed every batch, with
the JSONL sink's size, while positions only move at a full checkpoint. A watch killed after such
a commit produces the alerts since the last full checkpoint again, and the JSONL sink must still
recognise the ones its file holds (tests/watch/test_crash.py found them written twice)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.watch.replay import SEED_EVENTS, append, jsonl_ids, labelled_stream
from tests.watch.test_checkpoints import Recorder
from watchpost.alerts import Alert
from watchpost.hunting.engine import bundled_pack, hunt
from watchpost.hunting.ruleset import RuleSet, load_ruleset
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events
from watchpost.watch.delivery import DeliverySink, DurableJsonlSink, OutboxSink
from watchpost.watch.loop import Watch, WatchOptions
from watchpost.watch.state import Checkpoint, StateStore


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset([bundled_pack()])


class Killed(Exception):
    """The process dies here (SIGKILL): nothing after this point of the batch happens."""


class KillOnDelivery:
    """A sink placed after the JSONL sink: the kill comes once the JSONL file was fsynced and
    before the network sink's queue was committed."""

    name = "kill"

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None:
        raise Killed

    def committed(self) -> None:
        return None

    def pending(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return {"sink": self.name}

    def close(self, wait: float = 0.0) -> None:
        return None


def detection_alerts(ruleset: RuleSet) -> list[Alert]:
    events = sorted(read_events(sorted(SEED_EVENTS.glob("*.xml")), ProblemLog()), key=lambda e: e.timestamp)
    return [Alert(rule.meta, event.timestamp, (event,), (rule.meta.id,))
            for event in events for rule in ruleset.index.match(event)]


def file_ids(path: Path) -> list[str]:
    return [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()]


def test_jsonl_keys_read_back_are_committed_with_the_size_that_passes_them(tmp_path: Path,
                                                                            ruleset: RuleSet) -> None:
    alerts = detection_alerts(ruleset)[:3]
    assert len({alert.key for alert in alerts}) == 3
    out, state = tmp_path / "alerts.jsonl", tmp_path / "state"
    first = DurableJsonlSink(out, StateStore(state))
    first.deliver(alerts[:2], Checkpoint())  # fsynced; killed before anything was committed
    first.close()

    store = StateStore(state)
    second = DurableJsonlSink(out, store)  # reads the two back from the file's tail
    batch = Checkpoint()
    second.deliver(alerts, batch)  # the restart produces them again, and a third
    store.checkpoint(batch)  # committed with a webhook's queue: the size passes all three
    second.close()
    assert sorted(store.delivered("jsonl")) == sorted(alert.key for alert in alerts)

    third = DurableJsonlSink(out, StateStore(state))  # killed again before a full checkpoint
    third.deliver(alerts, Checkpoint())
    third.close()
    assert file_ids(out) == [alert.key for alert in alerts]


def open_watch(tmp_path: Path, ruleset: RuleSet, recorder: Recorder, killing: bool,
               **options: Any) -> tuple[Watch, list[DeliverySink]]:
    store = StateStore(tmp_path / "state")
    sinks: list[DeliverySink] = [DurableJsonlSink(tmp_path / "alerts.jsonl", store)]
    if killing:
        sinks.append(KillOnDelivery())
    sinks.append(OutboxSink("webhook", recorder, store))
    watch = Watch(WatchOptions(poll_interval=0.01, **options), [str(tmp_path / "watched")], store, sinks,
                  ruleset=ruleset)
    return watch, sinks


def kill(watch: Watch, sinks: list[DeliverySink]) -> None:
    """What a SIGKILL leaves: the files and the state file as they are (the sender stops)."""
    for sink in sinks:
        sink.close()
    watch.store.close()


def test_a_watch_killed_after_a_queue_commit_does_not_write_the_jsonl_alerts_twice(
        tmp_path: Path, ruleset: RuleSet) -> None:
    """Kill 1 between the JSONL fsync and the queue commit; the restart makes the same alerts
    (the JSONL sink skips them, the webhook queues them: a commit moves the JSONL size past them)
    and is killed 2 before its first full checkpoint; the third run must recognise them."""
    watched = tmp_path / "watched"
    watched.mkdir()
    append(watched, labelled_stream(2000, seed=11))
    recorder = Recorder()
    quiet = {"checkpoint_every": 3600.0, "idle_after": 1e9}  # no full checkpoint, no watermark

    first, sinks = open_watch(tmp_path, ruleset, recorder, True, **quiet)
    with pytest.raises(Killed):
        first._step()  # noqa: SLF001 - one batch, as `run` does
    kill(first, sinks)
    written = jsonl_ids(tmp_path / "alerts.jsonl")
    assert len(written) > 10

    second, sinks = open_watch(tmp_path, ruleset, recorder, False, **quiet)
    second._step()  # noqa: SLF001
    kill(second, sinks)
    assert jsonl_ids(tmp_path / "alerts.jsonl") == written
    left = StateStore(tmp_path / "state")
    assert left.queued("webhook") + len(recorder.keys) == len(written)
    assert left.positions() == {}  # no full checkpoint: the next run reads everything again
    left.close()

    third, sinks = open_watch(tmp_path, ruleset, recorder, False, stop_when_idle=0.0, idle_after=0.0)
    third.run()
    for sink in sinks:
        sink.close(wait=30.0)
    third.store.close()
    expected = sorted(alert.key for alert in hunt([str(watched)]))
    delivered = jsonl_ids(tmp_path / "alerts.jsonl")
    assert [key for key, n in Counter(delivered).items() if n > 1] == []
    assert sorted(delivered) == expected
    assert [key for key, n in Counter(recorder.keys).items() if n > 1] == []
    assert sorted(recorder.keys) == expected
