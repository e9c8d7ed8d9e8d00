"""Random sequences of writes, polls, rename rotations (single and double), copytruncates and
crashes (the positions a checkpoint saves, then a new follower) on one followed name: every line
is read once, in the order written (issue 20, 2). Seeded, 30 sequences per mix."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from watchpost.problems import ProblemLog
from watchpost.watch import open_files
from watchpost.watch.followers import FileFollower, FollowOptions
from watchpost.watch.state import Position

SEEDS = 30


class Logger:
    """Writes numbered lines to ``path`` and rotates it as logrotate does (every file kept)."""

    def __init__(self, path: Path, rng: random.Random) -> None:
        self.path = path
        self.rng = rng
        self.written: list[str] = []
        self.stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, count: int) -> None:
        for _ in range(count):
            text = (f'{{"n": {len(self.written) + 1}, "time": "2024-01-01T00:00:00Z", '
                    f'"pad": "{"x" * self.rng.randrange(0, 80)}"}}')
            self.stream.write(text + "\n")
            self.written.append(text)
        self.stream.flush()

    def _shift(self) -> None:
        rotated = self.path.parent.glob(self.path.name + ".*")
        numbers = sorted((int(p.name.rsplit(".", 1)[1]) for p in rotated), reverse=True)
        for number in numbers:
            os.rename(f"{self.path}.{number}", f"{self.path}.{number + 1}")

    def rename(self) -> None:
        self.stream.close()
        self._shift()
        self.path.rename(f"{self.path}.1")
        self.stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - the logger reopens

    def copytruncate(self) -> None:
        self._shift()
        shutil.copyfile(self.path, f"{self.path}.1")
        os.truncate(self.path, 0)

    def close(self) -> None:
        self.stream.close()


def replay(tmp_path: Path, seed: int, operations: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Lines written and lines read over one random sequence."""
    rng = random.Random(seed)
    path = tmp_path / f"run{seed}" / "a.log"
    path.parent.mkdir()
    logger = Logger(path, rng)
    logger.write(rng.randrange(1, 20))
    problems = ProblemLog()
    follower = FileFollower(path, FollowOptions(problems))
    read: list[str] = []
    saved: dict[str, Position] = {}

    def poll(times: int) -> None:
        for _ in range(times):
            chunk = follower.poll()
            if chunk is not None:
                read.extend(chunk.data.decode().splitlines())

    poll(1)
    for _ in range(rng.randrange(5, 40)):
        operation = rng.choice(operations)
        if operation == "write":
            logger.write(rng.randrange(0, 30))
        elif operation == "poll":
            poll(rng.randrange(1, 4))
        elif operation == "rename":
            logger.rename()
        elif operation == "double rename":
            logger.rename()
            logger.write(rng.randrange(0, 10))
            logger.rename()
        elif operation == "copytruncate":
            logger.copytruncate()
        else:  # a crash: what the last checkpoint saved, read by a new follower
            saved.update({p.key: dataclasses.replace(p) for p in follower.positions()})
            follower.close()
            follower = FileFollower(path, FollowOptions(problems, stored=dict(saved)))
        time.sleep(0.001)  # operations a little apart, as a logger and logrotate are
    poll(10_000)
    follower.close()
    logger.close()
    assert problems.count() == 0, problems.problems[:3]
    return logger.written, read


@pytest.mark.parametrize("operations", [
    ("write", "poll", "rename", "double rename", "crash"),
    ("write", "poll", "copytruncate", "crash"),
    ("write", "poll", "copytruncate"),
], ids=["renames", "copytruncate+crash", "copytruncate"])
def test_every_line_once_and_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      operations: tuple[str, ...]) -> None:
    for seed in range(SEEDS):
        monkeypatch.setattr(open_files, "READ_LIMIT", random.Random(seed).choice([200, 2000, 1 << 20]))
        written, read = replay(tmp_path, seed, ("write", "write", *operations))
        assert read == written, f"seed {seed}"


def test_renames_and_copytruncates_mixed_lose_and_repeat_nothing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Mixed on one name, every line is read once; the order can differ when a rename and a
    copytruncate of it come within one tick of the file clock with nothing read in between
    (docs/watch.md, "The guarantee")."""
    operations = ("write", "write", "poll", "rename", "double rename", "copytruncate", "crash")
    in_order = 0
    for seed in range(SEEDS):
        monkeypatch.setattr(open_files, "READ_LIMIT", random.Random(seed).choice([200, 2000, 1 << 20]))
        written, read = replay(tmp_path, seed, operations)
        assert Counter(read) == Counter(written), f"seed {seed}"
        in_order += read == written
    assert in_order >= SEEDS - 3
