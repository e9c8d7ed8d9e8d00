"""One hunt in this process, as ``watchpost hunt`` runs it; prints one JSON line of figures.

    python bench/hunt_once.py [--rules PATH]... [--jobs N] [--format NAME] INPUT...

The figures: events read, seconds spent loading rules and hunting, alerts raised, a digest of the
alerts (rule id, timestamp, origin of each, in output order) to compare runs, and peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from peak_memory import peak_mb  # bench/ is on sys.path: these scripts are run by path

from watchpost.hunting.engine import Hunt, HuntOptions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--format", default=None)
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    started = time.perf_counter()
    options = HuntOptions(rules=[Path(r) for r in args.rules], input_format=args.format)
    if hasattr(options, "jobs"):
        options.jobs = args.jobs
    hunt = Hunt(options)
    loaded = time.perf_counter()
    digest = hashlib.sha256()
    alerts = 0
    for alert in hunt.run(args.inputs):
        alerts += 1
        origins = ",".join(event.origin.describe() for event in alert.events)
        digest.update(f"{alert.rule.id}|{alert.timestamp.isoformat()}|{origins}\n".encode())
    done = time.perf_counter()
    print(json.dumps({
        "events": hunt.stats.events,
        "load_s": loaded - started,
        "hunt_s": done - loaded,
        "alerts": alerts,
        "digest": digest.hexdigest()[:16],
        "peak_rss_mb": peak_mb(),
        "rules": len(hunt.ruleset.detections),
    }))


if __name__ == "__main__":
    main()
