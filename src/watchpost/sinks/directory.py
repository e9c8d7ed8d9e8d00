"""``hunt --output-dir DIR``: the same alerts written in several formats at once, one file each.

Each format's sink is the one ``--format`` uses (`watchpost.sinks.formats.make_sink`), so every
file holds exactly what ``--format X --output FILE`` would write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from typing import IO, Any

from watchpost.alerts import Alert
from watchpost.sinks.base import Sink
from watchpost.sinks.formats import BINARY_FORMATS, make_sink
from watchpost.sinks.report_context import HuntDescription
from watchpost.sinks.run_info import RunInfo

FILE_NAMES = {
    "table": "alerts.txt",
    "jsonl": "alerts.jsonl",
    "json": "alerts.json",
    "csv": "alerts.csv",
    "html": "alerts.html",
    "navigator": "alerts.navigator.json",
    "sarif": "alerts.sarif",
    "timesketch-csv": "alerts.timesketch.csv",
    "timesketch-jsonl": "alerts.timesketch.jsonl",
}


def output_file(folder: Path, output_format: str) -> Path:
    return folder / FILE_NAMES.get(output_format, f"alerts.{output_format}")


class DirectorySink:
    """Writes every alert to one sink per format; each file is opened at once and closed at the end.

    Raises OSError when the folder or a file cannot be created (the caller reports it).
    """

    def __init__(self, folder: Path, formats: Sequence[str], tz: tzinfo = UTC,
                 run_info: Callable[[], RunInfo] | None = None,
                 description: HuntDescription | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        self._streams: list[IO[Any]] = []
        self._sinks: list[Sink] = []
        for output_format in formats:
            path = output_file(folder, output_format)
            if output_format in BINARY_FORMATS:
                stream: IO[Any] = path.open("wb")
            else:
                stream = path.open("w", encoding="utf-8", newline="")
            self.paths.append(path)
            self._streams.append(stream)
            self._sinks.append(make_sink(output_format, stream, tz, run_info, description))

    def write(self, alert: Alert) -> None:
        for sink in self._sinks:
            sink.write(alert)

    def close(self) -> None:
        try:
            for sink in self._sinks:
                sink.close()
        finally:
            for stream in self._streams:
                stream.close()


def open_hunt_sink(output_format: str, stream: IO[Any], tz: tzinfo, run_info: Callable[[], RunInfo],
                   description: HuntDescription | None = None, output_dir: Path | None = None,
                   formats: Sequence[str] | None = None) -> Sink:
    """The sink of a hunt: ``output_format`` on ``stream``, or with ``output_dir`` one file per
    format of ``formats`` in that folder (instead of the stream)."""
    if output_dir is None:
        return make_sink(output_format, stream, tz, run_info, description)
    return DirectorySink(output_dir, formats or (output_format,), tz, run_info, description)
