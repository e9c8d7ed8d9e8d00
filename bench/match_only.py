"""Matching alone, without reading: events are read into memory once, then matched several times.

    python bench/match_only.py [--rules PATH]... [--rounds N] [--format NAME] [--no-prefilter] INPUT...

Prints one JSON line: events, CPU seconds of the fastest round (``time.process_time``), µs per
event, matches and a digest of (event number, rule id) pairs to compare code versions, and the
average number of candidates evaluated per event. Meant for iterating on `matching/` and
`ruleset.py`, where the reading floor of `hunt_once.py` hides small changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from watchpost.hunting.ruleset import RuleIndex, load_ruleset
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", default=None)
    parser.add_argument("--no-prefilter", action="store_true")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    ruleset = load_ruleset([Path(r) for r in args.rules])
    index = ruleset.index
    if args.no_prefilter:
        index = RuleIndex(ruleset.detections, prefilter=False)
    events = list(read_events(args.inputs, ProblemLog(), args.format))
    for event in events:  # plans for every key, built outside the timed rounds
        index.candidates(event)
    best = float("inf")
    digest = ""
    matches = 0
    for _ in range(args.rounds):
        for event in events:
            event.forget_lowered()
        forget_clean_values(index)
        hasher = hashlib.sha256()
        matches = 0
        match = index.match
        started = time.process_time()
        for number, event in enumerate(events):
            for rule in match(event):
                matches += 1
                hasher.update(f"{number}|{rule.meta.id}\n".encode())
        best = min(best, time.process_time() - started)
        digest = hasher.hexdigest()[:16]
    print(json.dumps({
        "events": len(events),
        "cpu_s": round(best, 3),
        "us_per_event": round(best / max(len(events), 1) * 1e6, 2),
        "matches": matches,
        "digest": digest,
    }))


def forget_clean_values(index: RuleIndex) -> None:
    """Later rounds would find the prefilter's memories (values already searched) filled."""
    prefilter = getattr(index, "_prefilter", None)
    for memory in (getattr(getattr(prefilter, "keyword_gate", None), "clean", None),
                   getattr(prefilter, "found", None)):
        if memory is not None:
            memory.clear()


if __name__ == "__main__":
    main()
