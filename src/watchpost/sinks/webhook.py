"""HTTP webhook transport for `watchpost watch`: one POST of the alert JSON per alert.

Used through `watchpost.watch.delivery.OutboxSink`, which queues alerts durably and retries with
exponential backoff; this module only sends one. A response other than 2xx, a refused connection
or a timeout raise `OSError`, so the alert stays queued. Each request carries the alert's id in
``X-Watchpost-Alert-Id`` (and ``Idempotency-Key``): a receiver that remembers ids drops the
resend that follows a crash between its 2xx and the removal of the alert from the queue.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from watchpost import __version__


class WebhookTransport:
    """POSTs alert JSON to ``url`` (http or https)."""

    def __init__(self, url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"webhook URL must be http or https: {url!r}")
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})

    def send(self, body: bytes, key: str, alert: dict[str, Any]) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"watchpost/{__version__}",
            "X-Watchpost-Alert-Id": key,
            "Idempotency-Key": key,
            **self.headers,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raise OSError(f"HTTP {exc.code} from {self.url}") from exc
        except TimeoutError as exc:
            raise OSError(f"timeout after {self.timeout} s") from exc
        if not 200 <= status < 300:
            raise OSError(f"HTTP {status} from {self.url}")

    def describe(self) -> str:
        return self.url

    def close(self) -> None:
        return None
