"""The SparkSession `watchpost hunt --engine spark` makes: ``local[*]`` unless a master is given.

Local masters run the executors' Python with this interpreter and this copy of watchpost on
their path, so nothing needs shipping; cluster masters need watchpost installed on the
executors (docs/spark.md). Column names are case-sensitive (``spark.sql.caseSensitive``:
Windows data holds both ``ProcessId`` and ``ProcessID``) unless ``conf`` says otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_MASTER = "local[*]"


def parse_conf(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """``key=value`` texts as pairs; raises ValueError naming one without ``=``."""
    found = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r} is not key=value")
        found.append((key.strip(), value))
    return found


def session(master: str | None = None, conf: Sequence[tuple[str, str]] = (), app: str = "watchpost") -> Any:
    """A SparkSession (pyspark imported here); ``conf`` pairs are applied last."""
    from pyspark.sql import SparkSession

    import watchpost

    chosen = master or DEFAULT_MASTER
    builder = SparkSession.builder.master(chosen).appName(app)
    builder = builder.config("spark.sql.caseSensitive", "true")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    if chosen.startswith("local"):
        package_root = str(Path(watchpost.__file__).resolve().parent.parent)
        path = os.pathsep.join(part for part in (package_root, os.environ.get("PYTHONPATH", "")) if part)
        builder = builder.config("spark.executorEnv.PYTHONPATH", path)
        builder = builder.config("spark.pyspark.python", sys.executable)
        builder = builder.config("spark.ui.enabled", "false")
    for key, value in conf:
        builder = builder.config(key, value)
    return builder.getOrCreate()
