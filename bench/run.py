"""The watchpost benchmark: build the corpora, measure, print one table.

    python bench/run.py [--quick] [--corpora evtx,jsonl,emulated] [--sqlite-limit N] [--json FILE]

Corpora (built reproducibly under ``bench/corpora/``, gitignored; see ``bench/corpora.py``):
EVTX (every sample ``.evtx`` repeated to >= 500,000 records), JSONL (the OTRF lsass campaign
repeated to >= 500,000 lines), emulated (``watchpost simulate all --background 1000000``).

Per corpus, each measurement is one process run after the other (never two at once):

- the reading floor (``bench/floor.py``: EVTX records to dicts with pyevtx-rs + orjson; JSONL
  orjson per line; emulated: watchpost's readers alone, no rules);
- ``watchpost hunt`` through the engine API (``bench/hunt_once.py``) with (a) the bundled T1049
  pack and (b) all SigmaHQ Windows rules, at ``--jobs`` 1 and 2: events/s, ratio to the floor,
  peak RSS (largest process), alerts and a digest of them (identical across jobs);
- the SQLite reference (``bench/sqlite_reference.py``): the same rules converted by
  pysigma-backend-sqlite, the same events loaded into SQLite, every query run; on
  ``--sqlite-limit`` events and extrapolated linearly (a full table scan per query).

``--quick`` uses the first 5 copies of the EVTX corpus only (a smoke run). ``--start-time`` then
runs ``bench/start_time.py`` (start-up with the SigmaHQ rules: cached, end to end, and cold).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from corpora import CORPORA, SHARED, build_evtx, build_jsonl  # noqa: E402

PACK: list[str] = []  # the bundled pack is the engine's default
SIGMA_FOLDERS = ("rules/windows", "rules-threat-hunting/windows", "rules-emerging-threats")
SIGMA = [str(SHARED / "sigma" / p) for p in SIGMA_FOLDERS]
PACK_FILES = [str(BENCH.parent / "src" / "watchpost" / "packs")]


def run_json(command: list[str]) -> dict[str, Any]:
    """Run one measurement process; its last stdout line is JSON."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def build_emulated() -> tuple[Path, int]:
    folder = CORPORA / "emulated"
    stamp = CORPORA / "emulated.manifest.json"
    if not stamp.exists():
        subprocess.run(
            ["watchpost", "simulate", "all", "--background", "1000000", "--seed", "1049",
             "-o", str(folder), "--truth", str(CORPORA / "emulated-truth")],
            check=True, capture_output=True,
        )
        stamp.write_text(json.dumps({"background": 1_000_000, "seed": 1049}))
    return folder, 0


def floor(kind: str, target: Path) -> dict[str, Any]:
    if kind == "emulated":
        return run_json([sys.executable, str(BENCH / "floor.py"), "readers", str(target)])
    return run_json([sys.executable, str(BENCH / "floor.py"), kind, str(target)])


def hunt(rules: list[str], jobs: int, inputs: list[str]) -> dict[str, Any]:
    command = [sys.executable, str(BENCH / "hunt_once.py"), "--jobs", str(jobs)]
    for rule in rules:
        command += ["--rules", rule]
    return run_json(command + inputs)


def reference(rules: list[str], inputs: list[str], limit: int) -> dict[str, Any]:
    command = [sys.executable, str(BENCH / "sqlite_reference.py"), "--limit", str(limit)]
    for rule in rules:
        command += ["--rules", rule]
    return run_json(command + inputs)


def measure(name: str, inputs: list[str], kind: str, limit: int, rows: list[dict[str, Any]]) -> None:
    base = floor(kind, Path(inputs[0]))
    floor_rate = base["records"] / base["seconds"]
    rows.append({"corpus": name, "run": "reading floor", "events": base["records"],
                 "seconds": base["seconds"], "rate": floor_rate, "ratio": 1.0})
    for label, rules in (("T1049 pack", PACK), ("SigmaHQ Windows", SIGMA)):
        digests = set()
        ref = reference(rules or PACK_FILES, inputs, limit)
        ref_rate = ref["events"] / (ref["load_s"] + ref["query_s"])
        for jobs in (1, 2):
            result = hunt(rules, jobs, inputs)
            rate = result["events"] / result["hunt_s"]
            digests.add(result["digest"])
            rows.append({
                "corpus": name, "run": f"hunt {label} --jobs {jobs}", "events": result["events"],
                "seconds": result["hunt_s"], "rate": rate, "ratio": rate / floor_rate,
                "load_s": result["load_s"], "rss_mb": result["peak_rss_mb"], "alerts": result["alerts"],
                "digest": result["digest"], "vs_sqlite": rate / ref_rate,
            })
        rows.append({
            "corpus": name, "run": f"SQLite reference, {label}", "events": ref["events"],
            "seconds": ref["load_s"] + ref["query_s"], "rate": ref_rate, "ratio": ref_rate / floor_rate,
            "rss_mb": ref["peak_rss_mb"], "alerts": ref["hits"],
            "note": f"{ref['queries']} queries ({ref['unconverted']} rules unconverted, "
                    f"{ref['query_errors']} failed); first {ref['events']} events, rate extrapolated",
        })
        if len(digests) != 1:
            rows[-1]["note"] += "; ALERTS DIFFER ACROSS --jobs"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| corpus | run | events | s | events/s | × floor | load s | peak RSS MB | alerts | × SQLite |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        def cell(key: str, spec: str, row: dict[str, Any] = row) -> str:
            value = row.get(key)
            return "" if value is None else format(value, spec)
        print(f"| {row['corpus']} | {row['run']} | {row['events']:,} | {row['seconds']:.1f} | "
              f"{row['rate']:,.0f} | {cell('ratio', '.2f')} | {cell('load_s', '.1f')} | "
              f"{cell('rss_mb', '.0f')} | {cell('alerts', ',')} | {cell('vs_sqlite', '.0f')} |")
    for row in rows:
        if row.get("note"):
            print(f"- {row['corpus']}, {row['run']}: {row['note']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--corpora", default="evtx,jsonl,emulated")
    parser.add_argument("--sqlite-limit", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--start-time", action="store_true",
                        help="then run bench/start_time.py (cached and cold start-up, SigmaHQ rules)")
    args = parser.parse_args()
    chosen = args.corpora.split(",")
    rows: list[dict[str, Any]] = []
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}", file=sys.stderr)
    started = time.time()
    if "evtx" in chosen:
        folder, _ = build_evtx()
        inputs = [str(p) for p in sorted(folder.iterdir())[:5]] if args.quick else [str(folder)]
        measure("EVTX", inputs, "evtx", args.sqlite_limit, rows)
    if "jsonl" in chosen and not args.quick:
        path, _ = build_jsonl()
        measure("JSONL", [str(path)], "jsonl", args.sqlite_limit, rows)
    if "emulated" in chosen and not args.quick:
        folder, _ = build_emulated()
        measure("emulated", [str(folder)], "emulated", args.sqlite_limit, rows)
    print(f"load average after: {os.getloadavg()}, {time.time() - started:.0f} s", file=sys.stderr)
    print_table(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.start_time:
        subprocess.run([sys.executable, str(BENCH / "start_time.py")], check=True)


if __name__ == "__main__":
    main()
