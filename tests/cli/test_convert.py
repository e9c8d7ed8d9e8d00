"""`watchpost convert`: rules to SIEM queries through pySigma backends (sqlite is installed)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from watchpost.cli import main

NET_USE_RULE = (SHARED / "sigma" / "rules" / "windows" / "process_creation"
                / "proc_creation_win_net_use_network_connections_discovery.yml")


def convert(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["convert", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_rule_becomes_a_query_that_finds_what_the_rule_finds() -> None:
    code, out, err = convert("--target", "sqlite", str(NET_USE_RULE))
    assert code == 0, err
    query = out.strip()
    assert query.startswith("SELECT") and "CommandLine" in query
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE logs (Image TEXT, OriginalFileName TEXT, CommandLine TEXT)")
    database.executemany("INSERT INTO logs VALUES (?, ?, ?)", [
        ("C:\\Windows\\System32\\net.exe", "net.exe", "net use"),
        ("C:\\Windows\\System32\\net.exe", "net.exe", "net view"),
        ("C:\\Windows\\System32\\cmd.exe", "cmd.exe", "net use"),
    ])
    assert database.execute(query).fetchall() == [("C:\\Windows\\System32\\net.exe", "net.exe", "net use")]
    assert "1 rules converted to sqlite" in err


def test_jsonl_names_each_rule_and_its_file(tmp_path: Path) -> None:
    shutil.copy(NET_USE_RULE, tmp_path / "net_use.yml")
    (tmp_path / "broken.yml").write_text("title: broken\nlogsource: {product: windows}\ndetection: {}\n")
    target = tmp_path / "queries.jsonl"
    code, out, err = convert("-t", "sqlite", "-f", "jsonl", "-o", str(target), str(tmp_path))
    assert code == 1  # the broken rule
    assert out == ""
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == 1
    assert records[0]["rule_id"] == "1c67a717-32ba-409b-a45d-0fb704a73a81"
    assert records[0]["path"].endswith("net_use.yml") and records[0]["target"] == "sqlite"
    assert records[0]["queries"][0].startswith("SELECT")
    assert "broken.yml" in err and "1 failed" in err


def test_a_backend_format_is_passed_on_and_an_unknown_one_refused() -> None:
    code, out, _ = convert("-t", "sqlite", "--backend-format", "zircolite", str(NET_USE_RULE))
    assert code == 0
    assert json.loads(out)[0]["rule"][0].startswith("SELECT")
    code, _, err = convert("-t", "sqlite", "--backend-format", "nosuch", str(NET_USE_RULE))
    assert code == 2 and "zircolite" in err


def test_a_missing_backend_says_which_package_to_install() -> None:
    from sigma.plugins import InstalledSigmaPlugins

    if "splunk" in InstalledSigmaPlugins.autodiscover().backends:
        pytest.skip("a splunk backend is installed here")
    code, _, err = convert("--target", "splunk", str(NET_USE_RULE))
    assert code == 2
    assert "pysigma-backend-splunk" in err and "installed: " in err


def test_listing_targets_and_usage_errors() -> None:
    code, out, _ = convert("--list-targets")
    assert code == 0 and "sqlite" in out and "splunk (pysigma-backend-splunk)" in out
    assert convert(str(NET_USE_RULE))[0] == 2  # no target
    assert convert("-t", "sqlite")[0] == 2  # no rules
