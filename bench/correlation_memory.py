"""Peak memory of the correlation engine on long inputs: it must stay flat.

An ``event_count`` correlation (``gte 3`` within 60 s, grouped by ``User``) runs over 1 million
and over 10 million synthetic detection matches (generated on the fly: no disk, nothing kept),
one match per millisecond of event time, ``User`` drawn from 200,000 values (about 60,000 groups
alive at any time, some of them firing). Each size runs in its own process; the peak resident set
size (``resource.getrusage``) of both is printed with their ratio, which must stay within 10 %.

    python bench/correlation_memory.py            # both sizes, in child processes
    python bench/correlation_memory.py --child N  # one run of N matches (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

SIZES = (1_000_000, 10_000_000)
USERS = 200_000
TOLERANCE = 0.10
START = datetime(2024, 1, 1, tzinfo=UTC)


def synthetic_matches(count: int, rule: object) -> Iterator[object]:
    """``count`` matches of ``rule``, one per millisecond, for random users (fixed seed)."""
    from watchpost.events import Event, Origin
    from watchpost.matching.model import Match

    draw = random.Random(1049).randrange
    step = timedelta(milliseconds=1)
    moment = START
    for number in range(count):
        moment += step
        fields = {"EventID": 4625, "User": f"user{draw(USERS)}", "Computer": "dc1.contoso.local"}
        yield Match(rule, Event(moment, fields, Origin("synthetic", number)))  # type: ignore[arg-type]


def child(count: int) -> dict[str, float]:
    from watchpost.correlation import CorrelationEngine, RawCorrelation, compile_raw
    from watchpost.problems import ProblemLog
    from watchpost.rules.model import RuleMeta

    failed = RuleMeta("bench-failed-logon", "Failed logon", "low", "bench", name="failed_logon")
    raw = RawCorrelation(
        meta=RuleMeta("bench-many-failed", "Many failed logons", "medium", "bench", kind="correlation"),
        type="event_count",
        references=("failed_logon",),
        group_by=("User",),
        aliases={},
        timespan_seconds=60,
        condition={"gte": 3},
        generate=False,
    )
    (spec,), problems = compile_raw([raw], [failed])
    assert not problems
    log = ProblemLog()
    engine = CorrelationEngine([spec], timedelta(seconds=5), 100_000, log)
    alerts = groups = 0
    started = time.perf_counter()
    for number, match in enumerate(synthetic_matches(count, failed)):
        alerts += len(engine.feed(match))  # type: ignore[arg-type]
        if number % 100_000 == 0:
            groups = max(groups, engine.held_groups())
    alerts += len(engine.flush())
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "matches": count,
        "alerts": alerts,
        "max_groups_held": groups,
        "problems": log.count(),
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", type=int, help="run one size in this process and print JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    results = []
    for size in SIZES:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(size)], check=True, capture_output=True, text=True
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"{result['matches']:>11,} matches: peak RSS {result['peak_rss_mib']:7.1f} MiB, "
            f"{result['alerts']:,} alerts, up to {result['max_groups_held']:,} groups held, "
            f"{result['seconds']} s ({result['matches'] / result['seconds']:,.0f} matches/s)"
        )
    ratio = results[1]["peak_rss_mib"] / results[0]["peak_rss_mib"]
    verdict = "flat" if abs(ratio - 1) <= TOLERANCE else "NOT flat"
    print(f"peak RSS ratio 10M / 1M: {ratio:.3f} ({verdict}: limit {1 + TOLERANCE:.2f})")
    return 0 if abs(ratio - 1) <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
