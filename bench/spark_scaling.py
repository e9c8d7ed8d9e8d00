"""Spark against --jobs (#16): wall time and alert digests of the same hunt run locally and in Spark.

    python bench/spark_scaling.py startup
    python bench/spark_scaling.py evtx  [--rules PATH]... INPUT...     # many EVTX files
    python bench/spark_scaling.py jsonl [--rules PATH]... --lines N    # one large JSON Lines file
    python bench/spark_scaling.py correlation --matches N             # the driver's correlation rate

Each prints JSON lines: the runner (``jobs1``, ``jobs2``, ``jobs2-unsplit``: byte ranges off,
``spark-local[1]``, ``spark-local[2]``),
seconds, events, alerts and a digest of the alerts (rule id, time, origin, in output order): the
digests must all be equal. Spark runs reuse one session per master; the session's start-up is
reported apart (``startup``). Needs the spark extra and Java.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchpost.alerts import Alert
from watchpost.hunting.engine import Hunt, HuntOptions

PROJECT = Path(__file__).resolve().parents[1]


def digest(alerts: Iterator[Alert]) -> tuple[int, str]:
    hasher = hashlib.sha256()
    count = 0
    for alert in alerts:
        count += 1
        origins = ",".join(event.origin.describe() for event in alert.events)
        hasher.update(f"{alert.rule.id}|{alert.timestamp.isoformat()}|{origins}\n".encode())
    return count, hasher.hexdigest()[:16]


def report(runner: str, hunt: Hunt, seconds: float, count: int, found: str, **extra: Any) -> None:
    print(json.dumps({"runner": runner, "seconds": round(seconds, 2), "events": hunt.stats.events,
                      "alerts": count, "digest": found, **extra}), flush=True)


def local_run(options: HuntOptions, inputs: list[str], jobs: int, label: str = "") -> None:
    options.jobs = jobs
    hunt = Hunt(options)
    started = time.perf_counter()
    count, found = digest(hunt.run(inputs))
    report(label or f"jobs{jobs}", hunt, time.perf_counter() - started, count, found)


def spark_run(options: HuntOptions, inputs: list[str], master: str) -> None:
    from watchpost.hunting.spark import SparkHunt
    from watchpost.hunting.spark_session import session

    began = time.perf_counter()
    spark = session(master, [("spark.ui.showConsoleProgress", "false")])
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - began
    hunt = SparkHunt(spark, options)
    started = time.perf_counter()
    count, found = digest(hunt.run(inputs))
    report(f"spark-{master}", hunt, time.perf_counter() - started, count, found, startup=round(startup, 2))
    spark.stop()


def compare(options: HuntOptions, inputs: list[str]) -> None:
    for jobs in (1, 2):
        local_run(HuntOptions(**vars(options)), inputs, jobs)
    local_run(HuntOptions(**dict(vars(options), split_bytes=0)), inputs, 2, "jobs2-unsplit")
    for master in ("local[1]", "local[2]"):
        spark_run(HuntOptions(**vars(options)), inputs, master)


def large_jsonl(folder: Path, lines: int) -> Path:
    """A time-ordered JSON Lines file of Sysmon process creations (one in 7 a netstat run)."""
    sys.path.insert(0, str(PROJECT))
    from tests.hunting.split_inputs import event_line

    path = folder / "large.jsonl"
    with path.open("w") as out:
        for number in range(lines):
            out.write(event_line(number) + "\n")
    return path


def startup() -> None:
    from watchpost.hunting.spark_session import session

    began = time.perf_counter()
    spark = session("local[2]")
    made = time.perf_counter() - began
    spark.sparkContext.parallelize(range(2), 2).map(lambda n: n).collect()
    first = time.perf_counter() - began - made
    print(json.dumps({"session_seconds": round(made, 2), "first_job_seconds": round(first, 2)}))
    spark.stop()


def correlation_rate(matches: int) -> None:
    """CPU seconds of `correlate` on the driver over detections holding ``matches`` matches of
    a correlated rule (the pack's Windows burst rules' base rules are not needed: a test rule)."""
    sys.path.insert(0, str(PROJECT))
    from tests.hunting.split_inputs import write_rules
    from watchpost.events import Event, Origin
    from watchpost.hunting.detection import correlate
    from watchpost.hunting.source_hunts import Detection

    with tempfile.TemporaryDirectory() as folder:
        hunt = Hunt(HuntOptions(rules=[write_rules(Path(folder))]))
    rule_id = hunt.ruleset.detection_ids()[0]
    start = datetime(2024, 3, 5, tzinfo=UTC)
    detections = []
    for source in range(8):
        detection = Detection(f"source-{source}")
        for n in range(matches // 8):
            moment = start + timedelta(seconds=n * 2 + source)
            event = Event(moment, {"Computer": f"host{n % 50}", "Image": "netstat.exe"},
                          Origin(f"source-{source}", n, "line"))
            detection.found.append((moment, source, n, rule_id, event))
        detections.append(detection)
    began = time.process_time()
    count = sum(1 for _ in correlate(detections, hunt.ruleset))
    cpu = time.process_time() - began
    print(json.dumps({"matches": matches, "alerts": count, "cpu_seconds": round(cpu, 2),
                      "matches_per_cpu_second": round(matches / cpu)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["startup", "evtx", "jsonl", "correlation"])
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--matches", type=int, default=400_000)
    parser.add_argument("--split-mb", type=int, default=16, help="byte-range size (jobs and Spark)")
    parser.add_argument("inputs", nargs="*")
    args = parser.parse_intermixed_args()
    options = HuntOptions(rules=[Path(rule) for rule in args.rules], split_bytes=args.split_mb << 20)
    if args.what == "startup":
        startup()
    elif args.what == "correlation":
        correlation_rate(args.matches)
    elif args.what == "evtx":
        compare(options, args.inputs)
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = large_jsonl(Path(folder), args.lines)
            print(json.dumps({"file_mb": round(path.stat().st_size / 1e6, 1)}), flush=True)
            compare(options, [str(path)])


if __name__ == "__main__":
    main()
