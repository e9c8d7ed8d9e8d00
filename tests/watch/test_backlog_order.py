"""Backlogs of several files read in one batch (a restart, or a first start over existing
logs): each file is read a chunk at a time, so one file's events can be far ahead of another's;
the batch's events are matched merged by time, as a hunt merges its sources, so no correlation
match arrives behind the release horizon and the alerts are the hunt's."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.watch.replay import DISCOVERY, NOISE, jsonl_ids
from watchpost.events import Event, Origin
from watchpost.hunting.engine import hunt
from watchpost.watch import open_files
from watchpost.watch.delivery import DurableJsonlSink
from watchpost.watch.loop import Watch, WatchOptions, merge_by_time
from watchpost.watch.state import StateStore

START = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def write_sysmon(path: Path, count: int, minutes: int, rng: random.Random) -> None:
    """``count`` Sysmon 1 events evenly over ``minutes``, a third of them discovery programs,
    on one host in two logon sessions (so bursts overlap between the files)."""
    lines = []
    for number in range(count):
        moment = START + timedelta(seconds=minutes * 60 * number / count, microseconds=rng.randrange(1, 999))
        image = rng.choice(DISCOVERY if rng.random() < 0.33 else NOISE)
        lines.append(json.dumps({
            "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "WKS-07",
            "Image": f"C:\\Windows\\System32\\{image}", "CommandLine": image.split(".")[0].lower(),
            "ParentImage": "C:\\Windows\\System32\\cmd.exe", "LogonId": rng.choice(["0x3e7", "0x3e8"]),
            "User": "CONTOSO\\user1", "ProcessId": rng.randrange(100, 60000),
            "TimeCreated": moment.isoformat().replace("+00:00", "Z"),
        }))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_backlog_of_two_files_gives_the_hunt_alerts_without_late_matches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 KiB per poll: the dense file takes 8 polls of ~4 minutes each, the sparse one gives its
    # 30 minutes in its first poll (the same as 1 MiB polls over 16 times as many lines).
    monkeypatch.setattr(open_files, "READ_LIMIT", 1 << 16)
    watched = tmp_path / "watched"
    watched.mkdir()
    rng = random.Random(4)
    write_sysmon(watched / "dense.jsonl", 1500, 30, rng)
    write_sysmon(watched / "sparse.jsonl", 150, 30, rng)
    store = StateStore(tmp_path / "state")
    sink = DurableJsonlSink(tmp_path / "alerts.jsonl", store)
    watch = Watch(WatchOptions(poll_interval=0.01, stop_when_idle=0.0, idle_after=0.0),
                  [str(watched)], store, [sink])
    watch._step()  # noqa: SLF001 - the whole backlog is one batch (under batch_bytes)
    assert watch.counters.events == 1650
    watch.run()
    sink.close()
    store.close()
    assert watch.correlation.stats["late"] == 0
    expected = sorted(alert.key for alert in hunt([str(watched)]))
    assert len(expected) > 40
    assert sorted(jsonl_ids(tmp_path / "alerts.jsonl")) == expected


def event_at(second: int, name: str, line: int) -> Event:
    return Event(START + timedelta(seconds=second), {}, Origin(name, line, "line"))


def test_merge_by_time_keeps_each_file_in_its_order_and_ties_in_the_first_read_file() -> None:
    first = [event_at(5, "a", 1), event_at(1, "a", 2), event_at(7, "a", 3)]  # not in time order
    second = [event_at(1, "b", 1), event_at(5, "b", 2)]
    merged = [event.origin[:2] for event in merge_by_time([first, second])]
    assert merged == [("b", 1), ("a", 1), ("a", 2), ("b", 2), ("a", 3)]
    only = [event_at(3, "a", 1), event_at(2, "a", 2)]
    assert list(merge_by_time([only])) == only
