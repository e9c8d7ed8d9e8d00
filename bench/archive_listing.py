"""Listing and reading archives of many small members: time per member count (linear or not).

    python bench/archive_listing.py --members 500 2000 5000 --kind zip tgz

For each archive (members of one JSON line each), the wall time to list its members
(`iter_sources`) and to read every event (`read_source`), best of ``--repeat`` runs. Put another
checkout's ``src`` first on PYTHONPATH to compare two trees. Figures in docs/PERFORMANCE.md
("Archives of many members").
"""

from __future__ import annotations

import argparse
import io
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from watchpost.problems import ProblemLog
from watchpost.readers.registry import iter_sources, read_source

LINE = b'{"eventTime": "2024-01-01T00:00:00Z", "eventName": "DescribeInstances", "n": 1}\n'


def make(kind: str, members: int, folder: Path) -> Path:
    path = folder / f"m{members}.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for number in range(members):
                archive.writestr(f"d/m{number:06}.jsonl", LINE)
        return path
    with tarfile.open(path, "w:gz") as archive:
        for number in range(members):
            info = tarfile.TarInfo(f"d/m{number:06}.jsonl")
            info.size = len(LINE)
            archive.addfile(info, io.BytesIO(LINE))
    return path


def measure(path: Path, repeat: int) -> tuple[float, float, int]:
    listed = read = float("inf")
    events = 0
    for _ in range(repeat):
        problems = ProblemLog()
        started = time.perf_counter()
        sources = list(iter_sources([path], problems))
        middle = time.perf_counter()
        events = sum(1 for source in sources for _ in read_source(source, problems))
        listed = min(listed, middle - started)
        read = min(read, time.perf_counter() - middle)
    return listed, read, events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--kind", nargs="+", default=["zip", "tgz"], choices=["zip", "tgz"])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for kind in options.kind:
            for members in options.members:
                listed, read, events = measure(make(kind, members, Path(folder)), options.repeat)
                print(f"{kind} {members:>6} members: listed in {listed:7.3f} s, read in {read:7.3f} s "
                      f"({events} events)")


if __name__ == "__main__":
    main()
