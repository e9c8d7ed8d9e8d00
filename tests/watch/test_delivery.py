"""Sinks of the watch: the durable JSONL file after a crash, the webhook's retries and backoff,
RFC 5424 syslog over UDP and TCP (loopback only), and the correlation state across a restart."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from tests.watch.replay import SEED_EVENTS, wait_until
from watchpost.alerts import Alert
from watchpost.correlation import CorrelationEngine
from watchpost.hunting.engine import bundled_pack
from watchpost.hunting.ruleset import RuleSet, load_ruleset
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events
from watchpost.sinks.jsonl import dump_alert
from watchpost.sinks.syslog import SyslogTransport, format_message
from watchpost.sinks.webhook import WebhookTransport
from watchpost.watch.correlation_state import restore_engine, save_engine
from watchpost.watch.delivery import DurableJsonlSink, OutboxSink
from watchpost.watch.state import Checkpoint, StateStore


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset([bundled_pack()])


def seed_matches(ruleset: RuleSet) -> list[Match]:
    events = sorted(read_events(sorted(SEED_EVENTS.glob("*.xml")), ProblemLog()), key=lambda e: e.timestamp)
    return [Match(rule.meta, event) for event in events for rule in ruleset.index.match(event)
            if rule.meta.id in ruleset.correlated_ids]


def detection_alerts(ruleset: RuleSet) -> list[Alert]:
    return [Alert(m.rule, m.event.timestamp, (m.event,), (m.rule.id,)) for m in seed_matches(ruleset)]


def test_correlation_state_saved_at_every_point_gives_the_same_alerts(ruleset: RuleSet) -> None:
    matches = seed_matches(ruleset)
    specs = ruleset.correlations

    def run(cut: int | None) -> list[str]:
        engine = CorrelationEngine(specs)
        keys = []
        for number, match in enumerate(matches):
            if number == cut:
                saved = save_engine(engine)
                engine = restore_engine(saved, specs, timedelta(minutes=5), 100_000, ProblemLog())
            keys += [a.key for a in engine.feed(match)]
        return keys + [a.key for a in engine.flush()]

    whole = run(None)
    assert len(whole) >= 6
    for cut in range(1, len(matches)):
        assert run(cut) == whole


def test_jsonl_sink_cuts_a_torn_line_and_does_not_write_an_alert_twice(tmp_path: Path,
                                                                         ruleset: RuleSet) -> None:
    alerts = detection_alerts(ruleset)[:3]
    store = StateStore(tmp_path / "state")
    out = tmp_path / "alerts.jsonl"
    sink = DurableJsonlSink(out, store)
    batch = Checkpoint()
    sink.deliver(alerts[:1], batch)
    store.checkpoint(batch)
    sink.deliver(alerts[1:2], Checkpoint())  # written and fsynced, then a crash before the checkpoint
    sink.close()
    with open(out, "ab") as stream:
        stream.write(dump_alert(alerts[2])[:40])  # a torn write
    again = DurableJsonlSink(out, StateStore(tmp_path / "state"))
    again.deliver(alerts, Checkpoint())  # the restarted watch produces all three again
    again.close()
    ids = [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()]
    assert ids == [alerts[0].key, alerts[1].key, alerts[2].key]


class Flaky(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.attempts += 1  # type: ignore[attr-defined]
        if server.attempts <= 3:  # type: ignore[attr-defined]
            self.send_response(500)
        else:
            server.received.append((self.headers["X-Watchpost-Alert-Id"], body))  # type: ignore[attr-defined]
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_webhook_retries_with_backoff_and_keeps_the_queue_on_disk(tmp_path: Path, ruleset: RuleSet) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    server.attempts, server.received = 0, []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    alerts = detection_alerts(ruleset)[:2]
    store = StateStore(tmp_path / "state")
    sink = OutboxSink("webhook", WebhookTransport(url, timeout=5), store, backoff=(0.05, 0.2))
    batch = Checkpoint()
    sink.deliver(alerts, batch)
    assert store.queued("webhook") == 0  # nothing is queued before the checkpoint
    store.checkpoint(batch)
    assert store.queued("webhook") == 2
    sink.committed()
    started = time.monotonic()
    assert wait_until(lambda: len(server.received) == 2, timeout=10)  # type: ignore[attr-defined]
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2 * 0.9  # three waits, doubling
    sink.close(wait=2)
    server.shutdown()
    assert [key for key, _ in server.received] == [a.key for a in alerts]  # type: ignore[attr-defined]
    assert sink.failures == 3 and store.queued("webhook") == 0


def test_webhook_refuses_other_schemes() -> None:
    with pytest.raises(ValueError):
        WebhookTransport("file:///etc/passwd")


def test_syslog_message_is_rfc5424(ruleset: RuleSet) -> None:
    alert = detection_alerts(ruleset)[0].to_dict()
    message = format_message(alert, hostname="sensor 1")
    header, _, rest = message.partition(b" [watchpost@32473 ")
    pri_version, stamp, host, app, pid, msgid = header.decode().split(" ")
    severity = {"informational": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}[alert["rule"]["level"]]
    assert pri_version == f"<{16 * 8 + severity}>1"
    assert stamp.endswith("Z") and host == "sensor_1" and app == "watchpost" and msgid == "ALERT"
    assert pid == str(os.getpid())
    structured, _, payload = rest.partition(b"] \xef\xbb\xbf")
    assert f'id="{alert["id"]}"'.encode() in structured
    assert orjson.loads(payload)["id"] == alert["id"]


def test_syslog_over_udp_and_tcp_on_loopback(tmp_path: Path, ruleset: RuleSet) -> None:
    alerts = detection_alerts(ruleset)[:2]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    store = StateStore(tmp_path / "state")
    sinks = [OutboxSink("udp", SyslogTransport(f"udp://127.0.0.1:{udp.getsockname()[1]}"), store),
             OutboxSink("tcp", SyslogTransport(f"tcp://127.0.0.1:{listener.getsockname()[1]}"), store)]
    batch = Checkpoint()
    for sink in sinks:
        sink.deliver(alerts, batch)
    store.checkpoint(batch)
    for sink in sinks:
        sink.committed()
    datagrams = [udp.recv(65535) for _ in alerts]
    connection, _ = listener.accept()
    connection.settimeout(5)
    stream = b""
    while stream.count(b"watchpost@32473") < 2:
        stream += connection.recv(65535)
    frames = []
    while stream:
        length, _, rest = stream.partition(b" ")
        frames.append(rest[: int(length)])
        stream = rest[int(length):]
    for sink in sinks:
        sink.close(wait=2)
    connection.close()
    for messages in (datagrams, frames):
        ids = [orjson.loads(m.split(b"\xef\xbb\xbf", 1)[1])["id"] for m in messages]
        assert ids == [a.key for a in alerts]


def test_terminal_sink_strips_control_characters_from_log_text(ruleset: RuleSet) -> None:
    """The host name comes from the log (attacker-controlled): no escape reaches the console."""
    import io

    from watchpost.watch.delivery import TerminalSink

    alert = detection_alerts(ruleset)[0]
    event = alert.events[0]
    event.fields["Computer"] = "WS01\x1b]0;owned\x07\x1b[2J"
    stream = io.StringIO()
    TerminalSink(stream).deliver([alert], Checkpoint())
    written = stream.getvalue()
    assert "WS01" in written and alert.key in written
    assert "\x1b" not in written and "\x07" not in written
    assert written.count("\n") == 1
