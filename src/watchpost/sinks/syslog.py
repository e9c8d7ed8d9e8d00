"""Syslog transport for `watchpost watch`: RFC 5424 messages over UDP or TCP.

One message per alert: ``<PRI>1 TIMESTAMP HOST watchpost PID ALERT [watchpost@32473 id=".."
rule=".." level=".." technique=".."] BOM{alert JSON}``. Facility ``local0`` unless told otherwise;
severity from the rule level (critical 2, high 3, medium 4, low 5, informational 6). Over TCP
messages are framed by octet counting (RFC 6587 3.4.1: ``LENGTH SP MESSAGE``); over UDP a message
that would not fit in a datagram carries the alert without its events (``events_omitted``).
Used through `watchpost.watch.delivery.OutboxSink` (queue, retries); a failed send raises
`OSError`.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import orjson

SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
LOCAL0 = 16
ENTERPRISE_ID = 32473  # the example private enterprise number of RFC 5612, for documentation
MAX_DATAGRAM = 60_000
BOM = b"\xef\xbb\xbf"


def parse_syslog_target(target: str) -> tuple[str, str, int]:
    """``udp://host:port`` or ``tcp://host:port`` -> (protocol, host, port)."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname:
        raise ValueError(f"syslog target must be udp://HOST:PORT or tcp://HOST:PORT: {target!r}")
    return parts.scheme, parts.hostname, parts.port or 514


def _sd_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(alert: dict[str, Any], facility: int = LOCAL0, hostname: str | None = None,
                   body: bytes | None = None) -> bytes:
    """One RFC 5424 message for ``alert`` (an `Alert.to_dict()`)."""
    rule = alert.get("rule") or {}
    severity = SEVERITY.get(str(rule.get("level")), 5)
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    host = (hostname or socket.gethostname() or "-").replace(" ", "_")[:255]
    params = {"id": str(alert.get("id", "")), "rule": str(rule.get("id", "")),
              "level": str(rule.get("level", "")), "technique": ",".join(alert.get("techniques", []))}
    data = " ".join(f'{name}="{_sd_value(value)}"' for name, value in params.items())
    header = f"<{facility * 8 + severity}>1 {now} {host} watchpost {os.getpid()} ALERT "
    payload = body if body is not None else orjson.dumps(alert, default=str)
    return header.encode() + f"[watchpost@{ENTERPRISE_ID} {data}] ".encode() + BOM + payload


class SyslogTransport:
    """Sends alerts to a syslog receiver (see the module docstring)."""

    def __init__(self, target: str, facility: int = LOCAL0, timeout: float = 10.0) -> None:
        self.protocol, self.host, self.port = parse_syslog_target(target)
        self.target = target
        self.facility = facility
        self.timeout = timeout
        self.connection: socket.socket | None = None

    def send(self, body: bytes, key: str, alert: dict[str, Any]) -> None:
        message = format_message(alert, self.facility, body=body)
        if self.protocol == "udp":
            if len(message) > MAX_DATAGRAM:
                smaller = {k: v for k, v in alert.items() if k != "events"} | {"events_omitted": True}
                message = format_message(smaller, self.facility)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(message, (self.host, self.port))
            return
        try:
            if self.connection is None:
                self.connection = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.connection.sendall(str(len(message)).encode() + b" " + message)
        except OSError:
            self.close()
            raise

    def describe(self) -> str:
        return self.target

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
