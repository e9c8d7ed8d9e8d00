"""The reading floor: records (lines) to dicts with the same libraries the readers use, no matching.

    python bench/floor.py evtx FOLDER      # pyevtx-rs records_json() + orjson.loads per record
    python bench/floor.py jsonl FILE       # orjson.loads per line
    python bench/floor.py readers PATH     # watchpost's own readers (any format), no rules

Prints one JSON line: records and seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import orjson
from evtx import PyEvtxParser


def evtx_floor(folder: Path) -> int:
    count = 0
    for path in sorted(folder.rglob("*.evtx")):
        try:
            for record in PyEvtxParser(str(path)).records_json():
                orjson.loads(record["data"])  # type: ignore[index]
                count += 1
        except (OSError, RuntimeError, ValueError):  # damaged samples end early, as in the hunt
            continue
    return count


def jsonl_floor(path: Path) -> int:
    count = 0
    with path.open("rb") as stream:
        for line in stream:
            if line.strip():
                orjson.loads(line)
                count += 1
    return count


def readers_floor(target: Path) -> int:
    from watchpost.problems import ProblemLog
    from watchpost.readers.registry import read_events

    return sum(1 for _ in read_events([target], ProblemLog()))


def main() -> None:
    kind, target = sys.argv[1], Path(sys.argv[2])
    started = time.perf_counter()
    count = {"evtx": evtx_floor, "jsonl": jsonl_floor, "readers": readers_floor}[kind]
    records = count(target)
    print(json.dumps({"records": records, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
