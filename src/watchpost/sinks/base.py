"""What every sink shares. Sinks receive `Alert`s and render `Alert.to_dict()`; no pySigma here."""

from __future__ import annotations

from typing import Protocol

from watchpost.alerts import Alert


class Sink(Protocol):
    """Where alerts go. ``write`` is called once per alert, ``close`` once at the end."""

    def write(self, alert: Alert) -> None: ...

    def close(self) -> None: ...
