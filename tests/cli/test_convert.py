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

    if "kusto" in InstalledSigmaPlugins.autodiscover().backends:
        pytest.skip("a kusto backend is installed here")
    code, _, err = convert("--target", "kusto", str(NET_USE_RULE))
    assert code == 2
    assert "pysigma-backend-kusto" in err and "installed: " in err and "splunk" in err


@pytest.mark.parametrize(("target", "expected"), [
    ("splunk", 'Image IN ("*\\\\net.exe", "*\\\\net1.exe") OR OriginalFileName IN ("net.exe", "net1.exe") '
               'CommandLine IN ("* use", "* sessions") OR CommandLine IN ("* use *", "* sessions *")'),
    ("elasticsearch", "((Image:(*\\\\net.exe OR *\\\\net1.exe)) OR (OriginalFileName:(net.exe OR net1.exe))) "
                      "AND ((CommandLine:(*\\ use OR *\\ sessions)) OR (CommandLine:(*\\ use\\ * OR "
                      "*\\ sessions\\ *)))"),
])
def test_the_built_in_splunk_and_lucene_backends_convert_without_installing_anything(
        target: str, expected: str) -> None:
    code, out, err = convert("--target", target, str(NET_USE_RULE))
    assert code == 0, err
    assert out.strip() == expected
    assert f"1 rules converted to {target}" in err


def test_an_installed_plugin_wins_over_a_built_in_backend() -> None:
    from watchpost.backends import LuceneBackend, SplunkBackend
    from watchpost.commands.convert import merge_builtin_backends

    official = type("OfficialSplunk", (), {})
    merged = merge_builtin_backends({"splunk": official})
    assert merged["splunk"] is official
    assert merged["lucene"] is LuceneBackend and merged["elasticsearch"] is LuceneBackend
    assert merge_builtin_backends({})["splunk"] is SplunkBackend
    assert merge_builtin_backends({"lucene": official})["elasticsearch"] is official


def test_a_rule_the_backend_cannot_express_is_reported_and_the_others_converted(tmp_path: Path) -> None:
    shutil.copy(NET_USE_RULE, tmp_path / "net_use.yml")
    (tmp_path / "cased.yml").write_text(
        "title: Cased\nlogsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {CommandLine|cased: Net Use}, condition: sel}\n")
    code, out, err = convert("--target", "lucene", str(tmp_path))
    assert code == 1
    assert out.count("\n") == 1 and "CommandLine" in out
    assert "cased.yml" in err and "Case-sensitive" in err and "1 failed" in err


def test_listing_targets_and_usage_errors() -> None:
    code, out, _ = convert("--list-targets")
    assert code == 0 and "sqlite" in out and "kusto (pysigma-backend-kusto)" in out
    assert "splunk: Splunk SPL (watchpost built-in)" in out and "elasticsearch: Elasticsearch Lucene" in out
    assert "splunk (pysigma-backend-splunk)" not in out
    assert convert(str(NET_USE_RULE))[0] == 2  # no target
    assert convert("-t", "sqlite")[0] == 2  # no rules


def test_a_yaml_pipeline_maps_the_field_names_for_a_built_in_backend(tmp_path: Path) -> None:
    pipeline = tmp_path / "ecs.yml"
    pipeline.write_text("name: ECS process fields\npriority: 30\ntransformations:\n"
                        "  - id: ecs\n    type: field_name_mapping\n    mapping:\n"
                        "      Image: process.executable\n      CommandLine: process.command_line\n")
    code, out, err = convert("--target", "splunk", "--pipeline", str(pipeline), str(NET_USE_RULE))
    assert code == 0, err
    assert out.startswith('process.executable IN ("*\\\\net.exe", "*\\\\net1.exe") OR OriginalFileName IN')
    assert 'process.command_line IN ("* use", "* sessions")' in out and " Image" not in out
