"""JSON Lines and JSON array sinks (the schema of docs/alerts.md)."""

from __future__ import annotations

from typing import IO, Any

import orjson

from watchpost.alerts import Alert

JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dump_alert(alert: Alert) -> bytes:
    """One alert as compact JSON bytes (no newline)."""
    return orjson.dumps(alert.to_dict(), default=str, option=JSON_OPTIONS)


class JsonlSink:
    """One alert per line, flushed per alert so a reader of the file sees whole lines."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, alert: Alert) -> None:
        self._stream.write(dump_alert(alert) + b"\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()


class JsonSink:
    """A JSON array of alerts, written at close."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._alerts: list[dict[str, Any]] = []

    def write(self, alert: Alert) -> None:
        self._alerts.append(alert.to_dict())

    def close(self) -> None:
        self._stream.write(orjson.dumps(self._alerts, default=str, option=JSON_OPTIONS | orjson.OPT_INDENT_2))
        self._stream.write(b"\n")
        self._stream.flush()
