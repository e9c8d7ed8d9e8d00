"""Positions advance only with delivery (issue 20, 1): a batch that raises keeps its position and
is reported with file and place; a hostile line is quarantined as a problem and the rest of the
stream is processed, so one line cannot block a stream or lose the alerts of its batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.watch.replay import append, jsonl_ids, labelled_stream
from watchpost.alerts import Alert
from watchpost.events import Event
from watchpost.hunting.engine import hunt
from watchpost.hunting.ruleset import RuleIndex
from watchpost.readers.json import JsonReader
from watchpost.watch.delivery import DeliverySink, DurableJsonlSink
from watchpost.watch.loop import BatchFailed, Watch, WatchOptions
from watchpost.watch.state import Checkpoint, StateStore

POISON = "POISON-PILL"


def bulk_file(tmp_path: Path, count: int = 600) -> Path:
    watched = tmp_path / "watched"
    watched.mkdir()
    append(watched, [line for line in labelled_stream(count) if line.file == "bulk.jsonl"])
    return watched / "bulk.jsonl"


def poison_line(path: Path, number: int) -> str:
    """Mark line ``number`` (1-based) of ``path`` (a discovery line) as the hostile one."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = lines[number - 1].replace('"EventID": 1,', f'"EventID": 1, "Note": "{POISON}",')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines[number - 1]


def discovery_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, 1) if "NETSTAT" in text and n > 100)


def run_watch(tmp_path: Path, source: Path, sinks: list[DeliverySink] | None = None) -> Watch:
    store = StateStore(tmp_path / "state")
    out = sinks if sinks is not None else [DurableJsonlSink(tmp_path / "alerts.jsonl", store)]
    watch = Watch(WatchOptions(poll_interval=0.01, idle_after=0.05, stop_when_idle=0.2), [str(source)],
                  store, out)
    try:
        watch.run()
    finally:
        for sink in out:
            sink.close()
        store.close()
    return watch


def without_line(alerts: list[Alert], path: Path, number: int) -> list[str]:
    """Keys of ``alerts`` (from a hunt over ``path``) that do not use line ``number``."""
    return sorted(alert.key for alert in alerts
                  if all(event.origin.record != number for event in alert.events))


def test_an_event_whose_matching_raises_is_quarantined_and_the_rest_delivered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = bulk_file(tmp_path)
    number = discovery_line(source)
    poison_line(source, number)
    expected_all = list(hunt([str(source)]))
    original = RuleIndex.match

    def hostile(self: RuleIndex, event: Event) -> Iterator[Any]:
        if event.fields.get("Note") == POISON:
            raise RecursionError("a matcher met something it cannot handle")
        return original(self, event)

    monkeypatch.setattr(RuleIndex, "match", hostile)
    watch = run_watch(tmp_path, source)
    quarantined = watch.problems.of_stage("quarantine")
    assert [(p.path, p.place) for p in quarantined] == [(str(source.resolve()), f"line {number}")]
    assert "RecursionError" in quarantined[0].reason
    delivered = sorted(jsonl_ids(tmp_path / "alerts.jsonl"))
    assert delivered == without_line(expected_all, source, number)
    assert len(delivered) >= len(expected_all) - 2  # only the poisoned line's alerts are missing


def test_a_line_whose_reading_raises_is_quarantined_and_the_rest_of_its_read_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = bulk_file(tmp_path)
    number = discovery_line(source)
    poison_line(source, number)
    expected_all = list(hunt([str(source)]))
    original = JsonReader.read

    def hostile(self: JsonReader, source_: Any, problems: Any) -> Iterator[Event]:
        for event in original(self, source_, problems):
            if event.fields.get("Note") == POISON:
                raise ValueError("reader bug")
            yield event

    monkeypatch.setattr(JsonReader, "read", hostile)
    watch = run_watch(tmp_path, source)
    quarantined = watch.problems.of_stage("quarantine")
    assert [p.place for p in quarantined] == [f"line {number}"]
    assert sorted(jsonl_ids(tmp_path / "alerts.jsonl")) == without_line(expected_all, source, number)
    assert watch.counters.events == len(source.read_text().splitlines()) - 1


class FailingOnce:
    """A JSONL sink whose first delivery raises after writing nothing (a disk error, a bug)."""

    def __init__(self, inner: DurableJsonlSink) -> None:
        self.inner = inner
        self.name = inner.name
        self.failed = False

    def deliver(self, alerts: list[Alert], checkpoint: Checkpoint) -> None:
        if not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")
        self.inner.deliver(alerts, checkpoint)

    def committed(self) -> None:
        self.inner.committed()

    def pending(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self, wait: float = 0.0) -> None:
        self.inner.close(wait)


def test_a_batch_that_raises_keeps_its_position_and_is_read_again(tmp_path: Path) -> None:
    source = bulk_file(tmp_path)
    expected = sorted(alert.key for alert in hunt([str(source)]))
    store = StateStore(tmp_path / "state")
    sink = FailingOnce(DurableJsonlSink(tmp_path / "alerts.jsonl", store))
    watch = Watch(WatchOptions(poll_interval=0.01, stop_when_idle=0.2), [str(source)], store, [sink])
    with pytest.raises(BatchFailed) as failed:
        watch.run()
    sink.close()
    assert str(source.resolve()) in str(failed.value) and "line " in str(failed.value)
    assert "No space left" in str(failed.value)
    assert store.positions() == {}  # nothing was checkpointed past the undelivered alerts
    store.close()
    run_watch(tmp_path, source)  # the next attempt reads the batch again
    assert sorted(jsonl_ids(tmp_path / "alerts.jsonl")) == expected


def test_a_line_dated_year_9999_does_not_stop_the_watch(tmp_path: Path) -> None:
    source = bulk_file(tmp_path, 300)
    lines = source.read_text(encoding="utf-8").splitlines()
    far = [text.split('"TimeCreated": ')[0] + '"TimeCreated": "9999-12-31T23:59:59Z"}' for text in lines[:3]]
    source.write_text("\n".join(far + lines) + "\n", encoding="utf-8")
    expected = sorted(alert.key for alert in hunt([str(source)]))
    watch = run_watch(tmp_path, source)
    assert watch.counters.events == len(lines) + 3
    assert sorted(jsonl_ids(tmp_path / "alerts.jsonl")) == expected


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_sink_that_cannot_write_ends_the_watch_with_exit_internal_and_no_position(tmp_path: Path) -> None:
    import sqlite3
    import subprocess

    from tests.watch.replay import PROJECT, watch_command
    from watchpost.exit_codes import EXIT_INTERNAL

    source = bulk_file(tmp_path, 300)
    state = tmp_path / "state"
    command = watch_command([source], state, "--jsonl", "/dev/full", "--stop-when-idle", "0.3")
    finished = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == EXIT_INTERNAL
    first = finished.stderr.splitlines()[0]
    assert first.startswith(f"watchpost watch: a batch failed after {source} (line ")
    assert "No space left on device" in first and "Traceback" not in finished.stderr
    with sqlite3.connect(state / "watchpost-state.sqlite") as connection:
        assert connection.execute("SELECT count(*) FROM positions").fetchone()[0] == 0
