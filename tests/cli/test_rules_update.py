"""`watchpost rules update` end to end (issue 17, item 7) against a local HTTP server on 127.0.0.1
serving release packages made from the shared SigmaHQ snapshot: install, update, corrupt
download (nothing replaced), rollback, no network."""

from __future__ import annotations

import functools
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from watchpost.cli import main

PROCESS_CREATION = SHARED / "sigma" / "rules" / "windows" / "process_creation"
NET_RULES = sorted(PROCESS_CREATION.glob("proc_creation_win_net_*.yml"))


def make_package(path: Path, rules: list[Path], version: str | None) -> Path:
    """A zip laid out as SigmaHQ's release packages: rules/… beside LICENSE (and VERSION)."""
    sigma = SHARED / "sigma"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for rule in rules:
            package.write(rule, rule.relative_to(sigma).as_posix())
        package.write(sigma / "LICENSE", "LICENSE")
        if version is not None:
            package.writestr("VERSION", version + "\n")
    return path


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def update(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["rules", "update", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rule_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.yml")}


def test_update_corrupt_download_and_rollback(served: tuple[Path, str], tmp_path: Path) -> None:
    assert len(NET_RULES) >= 6
    root, base = served
    folder = tmp_path / "user-rules"
    first, second = NET_RULES[:3], NET_RULES[3:]
    make_package(root / "r1.zip", first, "r2026-07-01")
    make_package(root / "r2.zip", second, "r2026-08-05")

    code, out, err = update("--dir", str(folder), "--url", f"{base}/r1.zip")
    assert code == 0, err
    assert "installed SigmaHQ r2026-07-01: 3 rules runnable of 3 files" in out
    assert rule_files(folder / "current") == {f"rules/windows/process_creation/{p.name}" for p in first}

    code, out, err = update("--dir", str(folder), "--url", f"{base}/r2.zip")
    assert code == 0, err
    assert {Path(p).name for p in rule_files(folder / "current")} == {p.name for p in second}
    assert {Path(p).name for p in rule_files(folder / "previous")} == {p.name for p in first}
    record = json.loads((folder / "installed.json").read_text())
    assert record["current"]["version"] == "r2026-08-05" and record["previous"]["version"] == "r2026-07-01"
    assert record["current"]["url"] == f"{base}/r2.zip" and len(record["current"]["sha256"]) == 64

    # The installed rules are what hunt and rules list run (noisy ones included when asked).
    listing = CliRunner().invoke(main, ["rules", "list", str(folder / "current"), "-f", "jsonl",
                                        "--enable-noisy-rules"])
    assert len(listing.stdout.splitlines()) == len(second)

    # A truncated download: a clear error, nothing replaced, no leftovers.
    whole = (root / "r2.zip").read_bytes()
    (root / "broken.zip").write_bytes(whole[: len(whole) // 2])
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    code, out, err = update("--dir", str(folder), "--url", f"{base}/broken.zip")
    assert code == 1
    assert err.count("\n") == 1 and "damaged package" in err and "the installed rules are unchanged" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in folder.iterdir()) == ["current", "installed.json", "previous"]

    # A package whose SHA-256 is not the one expected is refused the same way.
    code, _, err = update("--dir", str(folder), "--url", f"{base}/r1.zip", "--sha256", "0" * 64)
    assert code == 1 and "SHA-256" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before

    # Rollback swaps back, and a second rollback undoes the first.
    code, out, _ = update("--dir", str(folder), "--rollback")
    assert code == 0 and "rolled back to SigmaHQ r2026-07-01" in out
    assert {Path(p).name for p in rule_files(folder / "current")} == {p.name for p in first}
    code, out, _ = update("--dir", str(folder), "--show")
    assert "current: r2026-07-01" in out and "previous: r2026-08-05" in out
    code, out, _ = update("--dir", str(folder), "--rollback")
    assert code == 0 and {Path(p).name for p in rule_files(folder / "current")} == {p.name for p in second}


def test_a_package_without_rules_or_with_a_bad_path_is_refused(served: tuple[Path, str],
                                                               tmp_path: Path) -> None:
    root, base = served
    folder = tmp_path / "user-rules"
    with zipfile.ZipFile(root / "empty.zip", "w") as package:
        package.writestr("README.md", "nothing here")
    code, _, err = update("--dir", str(folder), "--url", f"{base}/empty.zip")
    assert code == 1 and "no rule that can run" in err
    with zipfile.ZipFile(root / "escape.zip", "w") as package:
        package.writestr("../outside.yml", "title: x")
    code, _, err = update("--dir", str(folder), "--url", f"{base}/escape.zip")
    assert code == 1 and "leaves the folder" in err
    assert not (tmp_path / "outside.yml").exists() and not (folder / "current").exists()


def test_without_a_version_file_the_release_tag_of_the_url_is_recorded(served: tuple[Path, str],
                                                                      tmp_path: Path) -> None:
    root, base = served
    (root / "download" / "r2026-09-01").mkdir(parents=True)
    make_package(root / "download" / "r2026-09-01" / "sigma_all_rules.zip", NET_RULES[:2], None)
    url = f"{base}/download/r2026-09-01/sigma_all_rules.zip"
    code, out, err = update("--dir", str(tmp_path / "u"), "--url", url)
    assert code == 0, err
    assert "installed SigmaHQ r2026-09-01" in out


def test_without_network_it_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = update("--dir", str(tmp_path / "u"), "--url", f"http://127.0.0.1:{port}/sigma_core.zip")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: cannot download") and "no network?" in err and "unchanged" in err
    assert not (tmp_path / "u" / "current").exists()


def test_a_missing_release_is_one_line_too(served: tuple[Path, str], tmp_path: Path) -> None:
    _, base = served
    code, _, err = update("--dir", str(tmp_path / "u"), "--url", f"{base}/nope.zip")
    assert code == 2 and err.count("\n") == 1 and "HTTP 404" in err


def test_rollback_with_nothing_to_roll_back_to_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = update("--dir", str(tmp_path / "u"), "--rollback")
    assert code == 2 and "no previous rules to roll back to" in err
