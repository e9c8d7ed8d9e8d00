"""JSON Lines and JSON array sinks (the schema of docs/alerts.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

import orjson

from watchpost.alerts import Alert
from watchpost.sinks.run_info import RunInfo

JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dump_alert(alert: Alert) -> bytes:
    """One alert as compact JSON bytes (no newline)."""
    return orjson.dumps(alert.to_dict(), default=str, option=JSON_OPTIONS)


class JsonlSink:
    """One alert per line, flushed per alert so a reader of the file sees whole lines. A run that
    stopped early ends with one more line, ``{"run": {...}}`` (docs/alerts.md), saying so."""

    def __init__(self, stream: IO[bytes], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo

    def write(self, alert: Alert) -> None:
        self._stream.write(dump_alert(alert) + b"\n")
        self._stream.flush()

    def close(self) -> None:
        info = self._run_info()
        if not info.complete:
            self._stream.write(orjson.dumps({"run": info.to_dict()}, option=JSON_OPTIONS) + b"\n")
        self._stream.flush()


class JsonSink:
    """One JSON object written at close: ``{"run": {...}, "alerts": [...]}`` (docs/alerts.md)."""

    def __init__(self, stream: IO[bytes], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo
        self._alerts: list[dict[str, Any]] = []

    def write(self, alert: Alert) -> None:
        self._alerts.append(alert.to_dict())

    def close(self) -> None:
        document = {"run": self._run_info().to_dict(), "alerts": self._alerts}
        self._stream.write(orjson.dumps(document, default=str, option=JSON_OPTIONS | orjson.OPT_INDENT_2))
        self._stream.write(b"\n")
        self._stream.flush()
