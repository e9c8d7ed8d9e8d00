"""The hunt: its stages and the runners that drive them (ARCHITECTURE.md, "The hunt and its runners").

Stages: `ruleset` (+ `rule_cache`) loads and indexes rules; `record_gates` skips raw records no
rule can match; `source_hunts` matches one source into keyed matches; `detection` is the seam
(`detect` -> `Detection`, `correlate` -> alerts); `byte_ranges`, `sources` and `records` say
what a source can be (a byte range, a `SourceRef` read elsewhere, rows of a table).

Runners, each producing detections in source order and correlating them the same way:
`engine.Hunt` (local: inputs read side by side; ``jobs``: worker processes) and
`spark.SparkHunt` (Spark tasks; `watchpost.spark`). A new runner goes next to them.

The seam's names are importable from here (loaded on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "detect": "detection", "correlate": "detection", "Detection": "detection", "Detector": "detection",
    "Correlator": "detection", "SourceRef": "sources", "list_refs": "sources",
    "events_from_records": "records", "RecordOrigin": "records", "RuleSet": "ruleset",
    "Hunt": "engine", "HuntOptions": "engine",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"watchpost.hunting.{home}"), name)
