"""Benchmark (not a test): `watchpost watch` end-to-end latency and memory.

A writer appends Sysmon-style JSON lines to a watched file at ``--rate`` events per second (in
slices every 10 ms); about 1 % are ``netstat -ano`` process creations, each with a unique process
id, which the bundled pack alerts on. A reader follows the JSONL sink; the latency of an alert is
the time from the append of its line to the moment its alert line is in the sink file (written
and fsynced by the watch). The watch's resident set size is sampled every 5 s.

    python bench/watch_latency.py --seconds 600 --rate 5000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def line(number: int, rng: random.Random, marker: int | None) -> str:
    image = "NETSTAT.EXE" if marker is not None else rng.choice(["chrome.exe", "svchost.exe", "conhost.exe"])
    return json.dumps({
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": f"WKS-{number % 50}",
        "Image": f"C:\\Windows\\System32\\{image}", "CommandLine": "netstat -ano" if marker else image,
        "ParentImage": "C:\\Windows\\System32\\cmd.exe", "LogonId": f"0x{number % 97:x}",
        "ProcessId": marker if marker is not None else rng.randrange(100, 60000),
        "TimeCreated": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    })


def rss_kib(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1])
    return 0


def follow_sink(path: Path, seen: dict[int, float], stop: threading.Event) -> None:
    offset = 0
    while not stop.is_set():
        if path.exists():
            with open(path, "rb") as stream:
                stream.seek(offset)
                data = stream.read()
            cut = data.rfind(b"\n") + 1
            offset += cut
            now = time.monotonic()
            for raw in data[:cut].splitlines():
                alert = json.loads(raw)
                if alert["rule"]["kind"] == "detection":
                    seen.setdefault(int(alert["events"][0]["fields"]["ProcessId"]), now)
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--samples", type=Path, help="write every RSS sample (seconds, KiB) to this file")
    parser.add_argument("--filled", type=float, default=300.0,
                        help="seconds after which the longest correlation window is full (the pack's: 5 min)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    (work / "logs").mkdir()
    log, sink = work / "logs" / "sysmon.jsonl", work / "alerts.jsonl"
    log.touch()
    # Warm the rule cache first: a watch that has to build it imports pySigma (about 12 MiB more
    # resident for the whole run), which is not what a running watch looks like.
    subprocess.run([sys.executable, "-m", "watchpost.commands.watch", str(work / "logs"), "--state",
                    str(work / "warm-state"), "--jsonl", str(work / "warm.jsonl"), "--stop-when-idle", "0.5"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT, check=True)
    load_start = f"{os.getloadavg()[0]:.2f}"
    process = subprocess.Popen([sys.executable, "-m", "watchpost.commands.watch", str(work / "logs"),
                                "--state", str(work / "state"), "--jsonl", str(sink), "--poll", "0.05",
                                "--lateness", "5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=PROJECT)
    time.sleep(3)  # rules loaded
    written: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()
    threading.Thread(target=follow_sink, args=(sink, seen, stop), daemon=True).start()
    rng = random.Random(1)
    memory: list[tuple[float, int]] = []
    started = time.monotonic()
    number = marker = 0
    next_sample = started
    per_slice = max(1, args.rate // 100)
    with open(log, "a", encoding="utf-8") as out:
        while (now := time.monotonic()) - started < args.seconds:
            lines = []
            for _ in range(per_slice):
                number += 1
                tagged = None
                if rng.random() < 0.01:
                    marker += 1
                    tagged = 1_000_000 + marker
                lines.append(line(number, rng, tagged))
                if tagged is not None:
                    written[tagged] = -1.0
            out.write("\n".join(lines) + "\n")
            out.flush()
            stamp = time.monotonic()
            for key, value in written.items():
                if value < 0:
                    written[key] = stamp
            if now >= next_sample:
                memory.append((now - started, rss_kib(process.pid)))
                next_sample += args.sample_every
            time.sleep(max(0.0, started + number / args.rate - time.monotonic()))
    time.sleep(3)
    stop.set()
    process.terminate()
    process.wait(timeout=60)
    latencies = sorted(seen[k] - written[k] for k in written if k in seen)
    missing = len(written) - len(latencies)
    quantiles = statistics.quantiles(latencies, n=100)
    elapsed = time.monotonic() - started
    print(f"events written: {number} in {args.seconds:.0f} s ({number / args.seconds:.0f}/s); "
          f"alerts timed: {len(latencies)}, missing: {missing}")
    print(f"latency p50 {quantiles[49] * 1000:.0f} ms, p99 {quantiles[98] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    first = [kib for at, kib in memory if at <= 60]
    last = [kib for at, kib in memory if at >= args.seconds - 60]
    print(f"RSS first minute max {max(first) / 1024:.1f} MiB, last minute max {max(last) / 1024:.1f} MiB, "
          f"overall max {max(k for _, k in memory) / 1024:.1f} MiB ({len(memory)} samples, {elapsed:.0f} s)")
    series = [f"{at:.0f}s {kib / 1024:.1f}" for at, kib in memory
              if round(at) % 60 < args.sample_every or at == memory[-1][0]]
    print("RSS MiB over time: " + ", ".join(series))
    after = [kib for at, kib in memory if at >= args.filled]
    if after:
        print(f"RSS from {args.filled:.0f} s (window full) to the end: min {min(after) / 1024:.1f}, "
              f"max {max(after) / 1024:.1f} MiB; first and last sample {after[0] / 1024:.1f} and "
              f"{after[-1] / 1024:.1f} MiB")
    if args.samples is not None:
        args.samples.write_text("".join(f"{at:.1f} {kib}\n" for at, kib in memory))
    print(f"load average at start {load_start}, at end {os.getloadavg()[0]:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
