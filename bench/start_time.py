"""Start-up time with all SigmaHQ Windows rules: cached repeat runs against a cold load.

    python bench/start_time.py [--repeat N] [--no-cold] [--cache-home DIR] [--json FILE]

The rule set is the one ``bench/run.py`` hunts with: ``../shared/sigma/rules/windows``,
``rules-threat-hunting/windows`` and ``rules-emerging-threats`` (about 3,000 rules). The rule
cache lives in its own ``XDG_CACHE_HOME`` (default ``bench/corpora/start-time-cache``) so that
other runs on the machine cannot prune or replace it while it is measured. First one process
loads the rules, which builds or refreshes the cache file; then, each in a fresh process, one
after the other, ``--repeat`` times (default 7; minimum and median reported):

(a) ``load``: time to a loaded rule set through the public API, imports included: from the
    first statement of the process (before ``import watchpost``) to ``watchpost.Hunt(...)``
    returning, measured inside the process; the process's wall time is shown too;
(b) ``hunt``: wall time of ``watchpost hunt --rules <the three folders> -f jsonl -q <one-record
    EVTX file>`` end to end (the console script next to this Python, interpreter start and exit
    included), from the cache;
(c) ``cold``: (a) with the cache turned off (``WATCHPOST_RULE_CACHE=0``), once: pySigma parsing
    and compiling every rule.

The load average before and after and the time of day are printed with the table: this machine
is shared and its speed varies between days, so compare figures taken in the same minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SHARED = BENCH.parent.parent / "shared"
SIGMA_FOLDERS = ("rules/windows", "rules-threat-hunting/windows", "rules-emerging-threats")
RULES = [str(SHARED / "sigma" / folder) for folder in SIGMA_FOLDERS]
TINY_LOG = SHARED / "samples" / "windows" / "evtx" / "sbousseaden_sysmon1_xpcmdshell_netstat_txt.evtx"
CONSOLE_SCRIPT = Path(sys.executable).parent / "watchpost"

LOAD_PROBE = """
import time
started = time.perf_counter()
import json, sys
from pathlib import Path
import watchpost
hunt = watchpost.Hunt(watchpost.HuntOptions(rules=[Path(p) for p in sys.argv[1:]]))
loaded = time.perf_counter() - started
print(json.dumps({"seconds": loaded, "rules": len(hunt.ruleset.detections),
                  "sigma_imported": "sigma" in sys.modules}))
"""


def run_load(env: dict[str, str]) -> dict[str, Any]:
    """One fresh process loading the rules: in-process seconds and the process's wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE, *RULES], capture_output=True, text=True, env=env, check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"load probe failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def run_hunt(env: dict[str, str]) -> float:
    """Wall time of one ``watchpost hunt`` over the tiny log; its output must be one alert line at least."""
    command = [str(CONSOLE_SCRIPT), "hunt", "-q", "-f", "jsonl"]
    for rules in RULES:
        command += ["--rules", rules]
    started = time.perf_counter()
    done = subprocess.run([*command, str(TINY_LOG)], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"hunt failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall


def describe(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "runs": len(values)}


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold load (c)")
    parser.add_argument("--cache-home", type=Path, default=BENCH / "corpora" / "start-time-cache")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    env = dict(os.environ, XDG_CACHE_HOME=str(args.cache_home.resolve()), WATCHPOST_RULE_CACHE="1")
    began, load_before = datetime.now(UTC), load_average()
    warm = run_load(env)  # builds or refreshes the cache file
    if warm["seconds"] > 3:
        warm = run_load(env)  # the first run built the cache; this one must read it
    loads = [run_load(env) for _ in range(args.repeat)]
    hunts = [run_hunt(env) for _ in range(args.repeat)]
    cold = None if args.no_cold else run_load(dict(env, WATCHPOST_RULE_CACHE="0"))
    figures: dict[str, Any] = {
        "began": began.isoformat(timespec="seconds"),
        "ended": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "rules": warm["rules"],
        "sigma_imported_when_cached": any(run["sigma_imported"] for run in loads),
        "load": describe([run["seconds"] for run in loads]),
        "load_wall": describe([run["wall"] for run in loads]),
        "hunt": describe(hunts),
        "cold": None if cold is None else {"seconds": cold["seconds"], "wall": cold["wall"]},
    }
    print_table(figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def print_table(figures: dict[str, Any]) -> None:
    print(f"{figures['rules']} detection rules; {figures['began']} .. {figures['ended']}; "
          f"load average {figures['load_average_before']} -> {figures['load_average_after']}")
    print(f"{'measure':<48} {'min s':>7} {'median s':>9} {'runs':>5}")
    rows = [
        ("(a) loaded rule set, cached (in process)", figures["load"]),
        ("    the same, process wall time", figures["load_wall"]),
        ("(b) watchpost hunt, tiny log, cached (wall)", figures["hunt"]),
    ]
    for name, stats in rows:
        print(f"{name:<48} {stats['min']:>7.3f} {stats['median']:>9.3f} {stats['runs']:>5}")
    cold = figures["cold"]
    if cold is not None:
        print(f"{'(c) loaded rule set, cold (in process / wall)':<48} {cold['seconds']:>7.3f} "
              f"{cold['wall']:>9.3f} {1:>5}")
    print(f"pySigma imported by a cached load: {figures['sigma_imported_when_cached']}")


if __name__ == "__main__":
    main()
