"""Benchmark (not a test): the fault run of `tests/watch/fault_run.py`, longer.

A generator writes Sysmon JSON lines to a followed name at a steady rate while `watchpost watch`
(JSONL sink and a webhook on 127.0.0.1) is SIGKILLed at random moments and restarted; between kills
the file is rotated by rename (once or twice in a row) or by copytruncate, and a poisoned line is
written, some of these while the watch is down; the receiver is sometimes down, sometimes answers
500. At the end the alerts of each sink are compared with one hunt over all the data.

    python bench/watch_faults.py --seconds 300 --kills 60 --rate 300 --seed 1

Prints the figures (kills, rotations, alerts, lost, duplicated) for docs/RELIABILITY.md and exits
1 if any sink lost, duplicated or invented an alert.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.watch.fault_run import run_faults  # noqa: E402 - after the project is on the path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the faulty part")
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--rate", type=int, default=300, help="lines per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    args = parser.parse_args()
    if args.keep is not None:
        report = run_faults(args.keep, args.seconds, args.kills, args.rate, args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="watchpost-faults-") as work:
            report = run_faults(Path(work), args.seconds, args.kills, args.rate, args.seed)
    print(report.summary())
    for line in report.losses_reported:
        print(line)
    print(f"final run exit status {report.final_status}")
    clean = all((f.lost, f.duplicated, f.extra) == (0, 0, 0) for f in report.sinks.values())
    return 0 if clean and report.final_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
