"""Following a name by identity (issue 20, 2 and 3): any number of rename rotations, while the
watch runs or while it is down; copytruncate detected by the file's first bytes, the rest read
from the copy or reported by name and byte range; one source for every spelling of a path."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from tests.watch.replay import append, jsonl_ids, labelled_stream
from tests.watch.test_followers import drain, line, texts, write
from watchpost.hunting.engine import hunt
from watchpost.problems import ProblemLog
from watchpost.watch import open_files
from watchpost.watch.delivery import DurableJsonlSink
from watchpost.watch.followers import FileFollower, FollowOptions
from watchpost.watch.loop import Watch, WatchOptions
from watchpost.watch.state import Position, StateStore


def saved(follower: FileFollower) -> dict[str, Position]:
    """What a checkpoint saves now (copies: the follower goes on changing its own)."""
    return {p.key: dataclasses.replace(p) for p in follower.positions()}


def lines(first: int, last: int, tag: str) -> list[str]:
    return [line(n, tag) for n in range(first, last + 1)]


def rotate(path: Path, keep: int = 3) -> None:
    """logrotate's numbered rename rotation: a.1 -> a.2, ..., a -> a.1."""
    for number in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{number}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{number + 1}"))
    path.rename(path.with_name(f"{path.name}.1"))


def stripped(*groups: list[str]) -> list[str]:
    return [text.strip() for group in groups for text in group]


def test_two_rename_rotations_while_down_are_drained_in_order(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    first_part, rest_of_first = lines(1, 5, "one"), lines(6, 9, "one")
    second, third = lines(10, 14, "two"), lines(15, 17, "three")
    write(path, "".join(first_part))
    before = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(before))
    state = saved(before)
    before.close()
    write(path, "".join(rest_of_first))  # written, then rotated twice while the watch is down
    rotate(path)
    write(path, "".join(second))
    rotate(path)
    write(path, "".join(third))
    problems = ProblemLog()
    after = FileFollower(path, FollowOptions(problems, stored=state))
    read += texts(drain(after))
    assert read == stripped(first_part, rest_of_first, second, third)
    assert problems.count() == 0


def test_two_rotations_between_two_polls_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    one, two, three = lines(1, 4, "one"), lines(5, 8, "two"), lines(9, 12, "three")
    write(path, "".join(one[:2]))
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(follower))
    write(path, "".join(one[2:]))
    rotate(path)
    write(path, "".join(two))
    rotate(path)
    write(path, "".join(three))
    read += texts(drain(follower))
    assert read == stripped(one, two, three)


def test_killed_while_draining_then_rotated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(open_files, "READ_LIMIT", 2 * len(line(10)))
    path = tmp_path / "a.jsonl"
    one, two, three = lines(1, 12, "one"), lines(13, 16, "two"), lines(17, 20, "three")
    write(path, "".join(one[:4]))
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(follower))
    write(path, "".join(one[4:]))
    rotate(path)
    write(path, "".join(two))
    read += texts([chunk for _ in range(2) if (chunk := follower.poll()) is not None])
    assert follower.draining is not None and len(read) < len(one)  # killed while draining
    state = saved(follower)
    follower.close()
    rotate(path)  # one more rotation while down
    write(path, "".join(three))
    problems = ProblemLog()
    again = FileFollower(path, FollowOptions(problems, stored=state))
    read += texts(drain(again))
    assert read == stripped(one, two, three)
    assert problems.count() == 0


def copytruncate(path: Path) -> Path:
    copy = path.with_name(path.name + ".1")
    shutil.copyfile(path, copy)
    with open(path, "r+b") as stream:
        stream.truncate(0)
    return copy


def test_copytruncate_while_down_reads_the_rest_from_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    old, new = lines(1, 30, "old"), lines(31, 70, "new")
    write(path, "".join(old[:10]))
    before = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(before))
    state = saved(before)
    before.close()
    write(path, "".join(old[10:]))
    copytruncate(path)
    write(path, "".join(new))  # longer than what was read: the size alone does not tell
    assert path.stat().st_size > state[before.key].offset
    problems = ProblemLog()
    after = FileFollower(path, FollowOptions(problems, stored=state))
    read += texts(drain(after))
    assert read == stripped(old, new)
    assert problems.count() == 0


def test_copytruncate_while_down_without_the_copy_is_reported_with_the_byte_range(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    old, new = lines(1, 30, "old"), lines(31, 70, "new")
    write(path, "".join(old[:10]))
    before = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(before))
    state = saved(before)
    offset = state[before.key].offset
    before.close()
    write(path, "".join(old[10:]))
    copytruncate(path).unlink()  # the copy compressed or shipped away
    write(path, "".join(new))
    problems = ProblemLog()
    after = FileFollower(path, FollowOptions(problems, stored=state))
    read += texts(drain(after))
    assert read == stripped(old[:10], new)
    [reported] = problems.of_stage("read")
    assert reported.path == str(path) and reported.place == "line 10"
    assert f"from offset {offset} to its end" in reported.reason and "truncated" in reported.reason


def test_copytruncate_while_running_reads_the_rest_from_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    old, new = lines(1, 30, "old"), lines(31, 80, "new")
    write(path, "".join(old[:10]))
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(follower))
    write(path, "".join(old[10:]))
    copytruncate(path)
    write(path, "".join(new))
    read += texts(drain(follower))
    assert read == stripped(old, new)


def test_a_reused_inode_is_not_taken_for_the_saved_file(tmp_path: Path) -> None:
    """A saved position whose file was deleted, and a new file at the name that happens to get
    its identity back (simulated: the saved identity is the new file's), is read from its start."""
    path = tmp_path / "a.jsonl"
    write(path, "".join(lines(1, 20, "old")))
    before = FileFollower(path, FollowOptions(ProblemLog()))
    drain(before)
    state = saved(before)
    before.close()
    path.unlink()
    new = lines(21, 60, "new")
    write(path, "".join(new))
    stat = path.stat()
    state[before.key].dev, state[before.key].ino = stat.st_dev, stat.st_ino
    after = FileFollower(path, FollowOptions(ProblemLog(), stored=state))
    assert texts(drain(after)) == stripped(new)


def run_once(source: str, state: Path, out: Path) -> None:
    store = StateStore(state)
    sink = DurableJsonlSink(out, store)
    Watch(WatchOptions(poll_interval=0.01, stop_when_idle=0.2), [source], store, [sink]).run()
    sink.close()
    store.close()


def test_every_spelling_of_a_path_is_one_source_with_the_same_alert_ids(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs, [entry for entry in labelled_stream(1500) if entry.file == "bulk.jsonl"])
    source = logs / "bulk.jsonl"
    out, state = tmp_path / "alerts.jsonl", tmp_path / "state"
    expected = sorted(alert.key for alert in hunt([str(source)]))
    assert len(expected) >= 10
    run_once(str(source), state, out)
    monkeypatch.chdir(tmp_path)
    run_once("logs/bulk.jsonl", state, out)
    monkeypatch.chdir(logs)
    run_once("./bulk.jsonl", state, out)
    os.symlink(logs, tmp_path / "link")
    run_once(str(tmp_path / "link" / "bulk.jsonl"), state, out)
    assert sorted(jsonl_ids(out)) == expected


def test_a_position_saved_under_the_typed_spelling_is_taken_over(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "a.jsonl"
    write(path, "".join(lines(1, 5, "a")))
    stat = path.stat()
    typed = Position("file:a.jsonl", "a.jsonl", stat.st_dev, stat.st_ino, stat.st_size, 5)
    write(path, "".join(lines(6, 8, "a")))
    follower = FileFollower(Path("a.jsonl"), FollowOptions(ProblemLog(), stored={typed.key: typed}))
    assert texts(drain(follower)) == stripped(lines(6, 8, "a"))
    assert follower.positions()[0].key == f"file:{path}"


def test_copytruncate_then_a_rename_rotation_while_down(tmp_path: Path) -> None:
    """The saved file was copied and emptied, written again, then renamed away: the rest of its
    old content comes from the copy, then what it holds now, then the file at the name."""
    path = tmp_path / "a.jsonl"
    old, between, new = lines(1, 30, "old"), lines(31, 40, "between"), lines(41, 50, "new")
    write(path, "".join(old[:10]))
    before = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(before))
    state = saved(before)
    before.close()
    write(path, "".join(old[10:]))
    copytruncate(path)  # a.jsonl.1: the copy
    write(path, "".join(between))
    rotate(path)  # the emptied file, written again, is a.jsonl.1 now; the copy a.jsonl.2
    write(path, "".join(new))
    problems = ProblemLog()
    after = FileFollower(path, FollowOptions(problems, stored=state))
    read += texts(drain(after))
    assert read == stripped(old, between, new)
    assert problems.count() == 0


def test_copytruncate_of_the_new_file_while_the_old_one_still_drains(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new file was empty when the rotation was seen, got lines, and was copied and emptied
    while the old file was still being drained: its first lines come from the copy."""
    monkeypatch.setattr(open_files, "READ_LIMIT", 2 * len(line(10)))
    path = tmp_path / "a.jsonl"
    old, second, third = lines(1, 12, "old"), lines(13, 20, "second"), lines(21, 26, "third")
    write(path, "".join(old[:2]))
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    read = texts(drain(follower))
    write(path, "".join(old[2:]))
    path.rename(tmp_path / "a.jsonl.old")
    path.touch()  # the logger's new, still empty file
    read += texts([follower.poll()])  # rotation seen: the old file drains, the new one waits
    write(path, "".join(second))
    read += texts([follower.poll()])
    copytruncate(path)
    write(path, "".join(third))
    read += texts(drain(follower))
    assert read == stripped(old, second, third)
