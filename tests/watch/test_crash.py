"""The crash test: `watchpost watch` killed with SIGKILL at random moments while a labelled
stream is written, restarted each time, delivers exactly the alerts of one `watchpost hunt`
over the same data, each once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from tests.watch.replay import (
    Line,
    append,
    jsonl_ids,
    kill,
    labelled_stream,
    run_to_end,
    start_watch,
    watch_command,
)
from watchpost.alert_merging import MergeSettings
from watchpost.hunting.engine import hunt

BULK = 5000


def slices_of(lines: list[Line], rng: random.Random) -> list[list[Line]]:
    """Random slices; every seed line ends a slice, so seed correlations span kill points."""
    out: list[list[Line]] = []
    current: list[Line] = []
    for line in lines:
        current.append(line)
        if line.file == "seed.xml" or len(current) >= rng.randrange(50, 400):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def replay_with_kills(tmp_path: Path, command: list[str], rng: random.Random,
                      between_slices: object = None) -> tuple[Path, int]:
    """Write the stream slice by slice into ``watched`` while killing and restarting the watch."""
    watched = tmp_path / "watched"
    log = tmp_path / "watch.log"
    lines = labelled_stream(BULK)
    slices = slices_of(lines, rng)
    process = start_watch(command, log)
    kills = 0
    for number, piece in enumerate(slices):
        if callable(between_slices):
            between_slices(number, len(slices))
        append(watched, piece)
        ends_seed = piece[-1].file == "seed.xml"
        threading.Event().wait(rng.uniform(0.3, 0.7) if ends_seed else rng.uniform(0.0, 0.12))
        if ends_seed or rng.random() < 0.12:
            kill(process)
            kills += 1
            process = start_watch(command, log)
            threading.Event().wait(rng.uniform(0.0, 0.9))
    kill(process)
    kills += 1
    run_to_end(command, log)
    return watched, kills


def expected_keys(watched: Path) -> list[str]:
    # watch gives one alert per match, as a hunt without merging activities (docs/watch.md)
    return sorted(alert.key for alert in hunt([str(watched)], merging=MergeSettings(merge_sources=False)))


def test_sigkill_at_random_moments_gives_the_hunt_alerts_once(tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    out = tmp_path / "alerts.jsonl"
    command = watch_command([watched], tmp_path / "state", "--jsonl", str(out))
    _, kills = replay_with_kills(tmp_path, command, random.Random(20240611))
    expected = expected_keys(watched)
    delivered = jsonl_ids(out)
    assert kills >= 10
    assert len(expected) > 70  # 79 with the 7 Dec pack (a process counted once across firings)
    assert [key for key, n in Counter(delivered).items() if n > 1] == []
    assert sorted(delivered) == expected
    kinds = Counter(orjson.loads(line)["rule"]["kind"] for line in out.read_bytes().splitlines())
    assert kinds["correlation"] >= 40  # the seed correlations and the discovery bursts survived


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1 that is "down" (503) while ``server.down`` is set."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        if getattr(server, "down", False):
            self.send_response(503)
            self.end_headers()
            return
        alert = orjson.loads(body)
        assert alert["id"] == self.headers["X-Watchpost-Alert-Id"]
        server.received.append(alert["id"])  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_sigkill_with_the_webhook_receiver_down_for_a_while(tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []  # type: ignore[attr-defined]
    server.down = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    out = tmp_path / "alerts.jsonl"
    command = watch_command([watched], tmp_path / "state", "--jsonl", str(out), "--webhook", url)

    def outage(number: int, total: int) -> None:
        server.down = total // 4 <= number < total // 2  # type: ignore[attr-defined]

    try:
        _, kills = replay_with_kills(tmp_path, command, random.Random(99), outage)
    finally:
        server.shutdown()
    expected = expected_keys(watched)
    received: list[str] = server.received  # type: ignore[attr-defined]
    assert sorted(set(received)) == expected
    assert sorted(jsonl_ids(out)) == expected
    # A resend can only follow a kill between the receiver's 2xx and the removal from the queue.
    resent = len(received) - len(set(received))
    assert resent <= kills
