"""tail -F semantics: partial lines, rotation by rename, truncation, files that appear later,
directories (new files, rotation inside them), and resuming from saved positions."""

from __future__ import annotations

import os
from pathlib import Path

from watchpost.problems import ProblemLog
from watchpost.watch.chunks import Chunk
from watchpost.watch.followers import DirectoryFollower, FileFollower, Follower, FollowOptions
from watchpost.watch.state import Checkpoint, StateStore


def line(number: int, tag: str = "a") -> str:
    return f'{{"n": {number}, "tag": "{tag}", "time": "2024-01-01T00:00:{number % 60:02d}Z"}}\n'


def drain(follower: Follower) -> list[Chunk]:
    chunks = []
    while (chunk := follower.poll()) is not None:
        chunks.append(chunk)
    return chunks


def texts(chunks: list[Chunk]) -> list[str]:
    return [text for chunk in chunks for text in chunk.data.decode().splitlines()]


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode, encoding="utf-8") as stream:
        stream.write(text)


def test_only_complete_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1) + line(2)[:10])
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    first = drain(follower)
    assert texts(first) == [line(1).strip()]
    assert first[0].format == "json" and first[0].lines_before == 0
    write(path, line(2)[10:] + line(3))
    second = drain(follower)
    assert texts(second) == [line(2).strip(), line(3).strip()]
    assert second[0].lines_before == 1
    assert follower.positions()[0].offset == path.stat().st_size


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1) + line(2))
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    assert len(texts(drain(follower))) == 2
    write(path, line(3) + line(4, "no newline").rstrip("\n"))  # written just before the rotation
    os.rename(path, tmp_path / "a.jsonl.1")
    write(path, line(5, "new") + line(6, "new"))
    got = drain(follower)
    assert texts(got) == [line(3).strip(), line(4, "no newline").strip(), line(5, "new").strip(),
                          line(6, "new").strip()]
    assert [c.lines_before for c in got] == [2, 3, 0]  # the new file's lines are numbered from 1
    position = follower.positions()[0]
    assert position.identity == (path.stat().st_dev, path.stat().st_ino)


def test_truncation_restarts_at_the_start(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1) + line(2) + line(3))
    problems = ProblemLog()
    follower = FileFollower(path, FollowOptions(problems))
    drain(follower)
    write(path, line(9, "after"), mode="w")
    got = drain(follower)
    assert texts(got) == [line(9, "after").strip()]
    assert got[0].lines_before == 0
    assert any("truncated" in p.reason for p in problems.problems)


def test_a_file_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "later.jsonl"
    follower = FileFollower(path, FollowOptions(ProblemLog()))
    assert follower.poll() is None
    write(path, line(1) + line(2))
    assert texts(drain(follower)) == [line(1).strip(), line(2).strip()]


def test_start_at_end_skips_what_is_there_at_the_first_start_only(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write(path, line(1))
    follower = FileFollower(path, FollowOptions(ProblemLog(), start_at_end=True))
    assert drain(follower) == []
    write(path, line(2))
    assert texts(drain(follower)) == [line(2).strip()]


def test_directory_new_files_and_rotation_inside_it(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    write(root / "a.jsonl", line(1) + line(2))
    follower = DirectoryFollower(root, FollowOptions(ProblemLog()), scan_every=0)
    assert texts(drain(follower)) == [line(1).strip(), line(2).strip()]
    write(root / "a.jsonl", line(3))
    os.rename(root / "a.jsonl", root / "a.jsonl.1")  # rotated: same file, new name
    write(root / "a.jsonl", line(4, "new"))
    write(root / "b.jsonl", line(5, "b"))  # a file that appears later
    got = texts(drain(follower))
    assert sorted(got) == sorted([line(3).strip(), line(4, "new").strip(), line(5, "b").strip()])
    os.unlink(root / "a.jsonl.1")
    drain(follower)
    assert len(follower.gone()) == 1


def test_positions_saved_and_resumed(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    root = tmp_path / "dir"
    root.mkdir()
    write(path, line(1) + line(2))
    write(root / "x.jsonl", line(1, "x"))
    store = StateStore(tmp_path / "state")
    first: list[Follower] = [FileFollower(path, FollowOptions(ProblemLog())),
                             DirectoryFollower(root, FollowOptions(ProblemLog()), scan_every=0)]
    for follower in first:
        drain(follower)
    store.checkpoint(Checkpoint(positions=[p for f in first for p in f.positions()]))
    store.close()
    write(path, line(3))
    write(root / "x.jsonl", line(2, "x"))
    store = StateStore(tmp_path / "state")
    options = FollowOptions(ProblemLog(), stored=store.positions())
    again = drain(FileFollower(path, options))
    assert texts(again) == [line(3).strip()] and again[0].lines_before == 2
    moved = drain(DirectoryFollower(root, options, scan_every=0))
    assert texts(moved) == [line(2, "x").strip()] and moved[0].lines_before == 1
