"""watchpost's own pySigma 2 query backends, for the SIEMs whose published backends need pySigma < 2.

Each is a `sigma.conversion.base.TextQueryBackend`: the query shape is set by class attributes, with
a few methods overridden where the official backend's output needs more than a template. They write
the queries the official backends write (checked against them on SigmaHQ rules by
`tests/convert/test_backends.py`, see `docs/convert.md`), without a processing pipeline: field names
are Sigma's unless a pipeline maps them.

`watchpost convert` merges them into the backends pySigma's plugin discovery finds; an installed
plugin with the same name wins, so a future pySigma-2 release of an official backend takes over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchpost.backends.eql import EqlBackend
from watchpost.backends.esql import EsqlBackend
from watchpost.backends.lucene import LuceneBackend
from watchpost.backends.sparksql import SparkSqlBackend
from watchpost.backends.splunk import SplunkBackend

# Target name -> backend class, as `watchpost convert --target` knows them.
BUILTIN_BACKENDS: dict[str, Any] = {
    "splunk": SplunkBackend, "lucene": LuceneBackend, "sparksql": SparkSqlBackend,
    "esql": EsqlBackend, "eql": EqlBackend,
}
# Processing pipelines for `--pipeline NAME` (YAML files next to this module): name -> file.
PIPELINE_FOLDER = Path(__file__).resolve().parent / "pipelines"
BUILTIN_PIPELINES: dict[str, Path] = {
    "splunk_windows": PIPELINE_FOLDER / "splunk_windows.yml",
    "ecs_windows": PIPELINE_FOLDER / "ecs_windows.yml",
    "sysmon": PIPELINE_FOLDER / "sysmon.yml",
}
# Other names people use for a target: alias -> target name.
TARGET_ALIASES = {"elasticsearch": "lucene", "databricks": "sparksql"}

__all__ = ["BUILTIN_BACKENDS", "BUILTIN_PIPELINES", "TARGET_ALIASES", "EqlBackend", "EsqlBackend",
           "LuceneBackend", "SparkSqlBackend", "SplunkBackend"]
