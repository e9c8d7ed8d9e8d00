"""Write a simulation: scenario and background records merged in time order into their log files,
the labels beside them (``labels.csv``) and a summary (``manifest.json``).

Layout of the output folder::

    windows/<host>/Security.xml, Sysmon.xml, PowerShell-Operational.xml   (wevtutil /f:xml)
    linux/<host>/audit.log                                                  (auditd, ENRICHED)
    macos/<host>/eslogger.jsonl                                             (eslogger exec)
    cloud/aws/cloudtrail.jsonl, cloud/gcp/cloudaudit.jsonl
    labels.csv, manifest.json

``labels.csv`` has one row per labelled record: ``log`` (path in the folder), ``place`` (the
element number in XML files, the line number of the record's first line elsewhere: what
watchpost reports as an event's origin), ``kind``, ``timestamp``, ``scenario``, ``activity``
(records of one action share it), ``label`` (positive, companion, context, negative) and ``note``.
Scenario records are all labelled; background records only when they are near misses.
"""

from __future__ import annotations

import csv
import heapq
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from watchpost.simulation.background import background_stream
from watchpost.simulation.catalog import Scenario
from watchpost.simulation.records import HOUR, MINUTE, Record, iso_micros, us_of
from watchpost.simulation.world import World

DEFAULT_START = datetime(2024, 10, 21, 6, 0, tzinfo=UTC)
SCENARIO_SPACING = 30 * MINUTE
LABEL_COLUMNS = ("log", "place", "kind", "timestamp", "scenario", "activity", "label", "note")
PLATFORM_LOGS = {
    "windows-server": lambda world: world.server.logs,
    "windows-workstation": lambda world: world.workstation.logs,
    "linux": lambda world: world.linux.logs,
    "macos": lambda world: world.mac.logs,
    "aws": lambda world: (world.cloud.cloudtrail_log,),
    "gcp": lambda world: (world.cloud.gcp_log,),
}


@dataclass
class SimulationSummary:
    """What was written."""

    out: Path
    seed: int
    scenarios: list[dict[str, object]] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    background: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "scenarios": self.scenarios,
            "records": dict(sorted(self.records.items())),
            "labels": dict(sorted(self.labels.items())),
            "background": self.background,
        }


class LogFiles:
    """Open log files of the output folder, with each file's record and line counters."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: dict[str, IO[str]] = {}
        self.records: Counter[str] = Counter()
        self.lines: Counter[str] = Counter()

    def write(self, record: Record) -> tuple[str, int, str]:
        """Write ``record``; (log, place, kind) of where it went."""
        log = record.log
        stream = self.files.get(log)
        if stream is None:
            path = self.out / log
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.files[log] = path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.records[log] += 1
        number = self.records[log]
        text = record.render(number)
        first_line = self.lines[log] + 1
        self.lines[log] += text.count("\n") + 1
        stream.write(text)
        stream.write("\n")
        if log.endswith(".xml"):
            return log, number, "element"
        return log, first_line, "line"

    def close(self) -> None:
        for stream in self.files.values():
            stream.close()


def simulate(
    scenarios: Sequence[Scenario],
    out: Path,
    background: int = 0,
    seed: int = 1049,
    start: datetime = DEFAULT_START,
) -> SimulationSummary:
    """Write ``scenarios`` and ``background`` benign records to ``out`` (see the module docstring)."""
    world = World(random.Random(seed))
    out.mkdir(parents=True, exist_ok=True)
    summary = SimulationSummary(out, seed)
    begin = us_of(start)
    scenario_records: list[Record] = []
    for index, scenario in enumerate(scenarios):
        at = begin + HOUR + index * SCENARIO_SPACING
        built = sorted(scenario.build(world, at), key=lambda record: record.time_us)
        scenario_records.extend(built)
        summary.scenarios.append(
            {
                "name": scenario.name,
                "source": scenario.source,
                "platform": scenario.platform,
                "summary": scenario.summary,
                "start": iso_micros(built[0].time_us),
                "end": iso_micros(built[-1].time_us),
                "records": len(built),
            }
        )
    scenario_records.sort(key=lambda record: record.time_us)
    end = begin + 2 * HOUR + len(scenarios) * SCENARIO_SPACING
    platforms = sorted({scenario.platform for scenario in scenarios}) or sorted(PLATFORM_LOGS)
    streams: list[Iterable[Record]] = [scenario_records]
    if background > 0:
        streams.append(background_stream(world, platforms, background, begin, end))
    write_records(heapq.merge(*streams, key=lambda record: record.time_us), out, summary)
    summary.background = sum(summary.records.values()) - len(scenario_records)
    (out / "manifest.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    return summary


def write_records(records: Iterable[Record], out: Path, summary: SimulationSummary) -> None:
    files = LogFiles(out)
    try:
        with (out / "labels.csv").open("w", encoding="utf-8", newline="") as stream:
            labels = csv.writer(stream)
            labels.writerow(LABEL_COLUMNS)
            for record in records:
                log, place, kind = files.write(record)
                label = record.label
                if label is not None:
                    summary.labels[label.label] += 1
                    labels.writerow(
                        (
                            log,
                            place,
                            kind,
                            iso_micros(record.time_us),
                            label.scenario,
                            label.activity,
                            label.label,
                            label.note,
                        )
                    )
    finally:
        files.close()
    summary.records.update(files.records)
