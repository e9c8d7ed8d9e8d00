"""The exit-status contract (`watchpost.exit_codes`): one test per row, and the docs agree with it.

SIGINT (130) and SIGTERM (143) are tested on a real subprocess in test_interrupted_runs.py; the
`watch` rows (4, 5) in tests/watch.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main
from watchpost.exit_codes import (
    EXIT_ALERTS,
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_RULES,
    EXIT_STATUSES,
    EXIT_USAGE,
)
from watchpost.hunting import engine

SEED = PROJECT / "tests" / "fixtures" / "seed"
NET_USE = str(SEED / "net_use_events.xml")
GOOD_RULE = SEED / "seed_net_use.yml"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
       b"\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_0_completed_with_alerts_but_without_fail_on_alert() -> None:
    status, out, err = invoke("hunt", NET_USE, "-f", "jsonl")
    assert status == EXIT_OK and out.count("\n") == 3 and "3 alerts" in err


def test_0_completed_with_nothing_found_even_with_fail_on_alert(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.jsonl"
    quiet.write_text('{"EventID": 4624, "Channel": "Security", "TimeCreated": "2024-01-01T00:00:00Z"}\n')
    status, out, _ = invoke("hunt", str(quiet), "-f", "jsonl", "--fail-on-alert")
    assert status == EXIT_OK and out == ""


def test_1_alerts_with_fail_on_alert() -> None:
    status, _, _ = invoke("hunt", NET_USE, "-f", "jsonl", "--fail-on-alert")
    assert status == EXIT_ALERTS


@pytest.mark.parametrize("arguments", [
    ("hunt", NET_USE, "--no-such-option"),
    ("hunt", "/no/such/log.evtx"),
    ("hunt", NET_USE, "--from", "2024-01-02T00:00:00Z", "--to", "2024-01-01T00:00:00Z"),
    ("hunt", NET_USE, "--output", "/no/such/folder/report.html", "-f", "html"),
], ids=["unknown option", "missing input", "from after to", "unwritable output"])
def test_2_usage_errors_are_one_message_without_traceback(arguments: tuple[str, ...]) -> None:
    status, _, err = invoke(*arguments)
    assert status == EXIT_USAGE
    assert "Traceback" not in err and "Error" in err


def test_2_the_unwritable_output_is_named() -> None:
    _, _, err = invoke("hunt", NET_USE, "-o", "/no/such/folder/report.html", "-f", "html")
    assert "cannot write /no/such/folder/report.html: No such file or directory" in err


def test_2_no_input_could_be_read(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 not a log at all")
    status, _, err = invoke("hunt", str(garbage))
    assert status == EXIT_USAGE
    assert "garbage.bin" in err and "no input could be read" in err


BAD_RULES = {
    "yaml error": ("bad.yml", b"title: broken\ndetection: [unclosed\n"),
    "unknown modifier": ("modifier.yml", b"title: x\nlogsource: {product: windows}\ndetection:\n"
                         b"  selection:\n    CommandLine|nosuchmodifier: netstat\n  condition: selection\n"),
    "undefined identifier": ("ident.yml", b"title: x\nlogsource: {product: windows}\ndetection:\n"
                             b"  selection:\n    CommandLine: netstat\n  condition: selection and missing\n"),
    "non-text file": ("picture.png", PNG),
}


@pytest.mark.parametrize("kind", sorted(BAD_RULES))
def test_3_when_no_rule_can_run(tmp_path: Path, kind: str) -> None:
    name, content = BAD_RULES[kind]
    rule = tmp_path / name
    rule.write_bytes(content)
    status, out, err = invoke("hunt", NET_USE, "--rules", str(rule), "-f", "jsonl")
    assert status == EXIT_RULES, err
    assert out == "" and "No alerts" not in out
    assert "0 rules run" in err and name in err
    assert "Traceback" not in err


def test_3_an_empty_rule_folder(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    status, _, err = invoke("hunt", NET_USE, "--rules", str(tmp_path / "rules"))
    assert status == EXIT_RULES
    assert "no rule can run (no rule file found, 0 could not be loaded): 0 rules run" in err


def test_3_with_strict_when_any_rule_cannot_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_bytes(BAD_RULES["yaml error"][1])
    arguments = ("hunt", NET_USE, "--rules", str(bad), "--rules", str(GOOD_RULE), "-f", "jsonl")
    status, out, err = invoke(*arguments)
    assert status == EXIT_OK and out.count("\n") == 1
    assert re.search(r"rules: \d+ ran \(\d+ detection, \d+ correlation\), 1 could not run", err)
    status, out, err = invoke(*arguments, "--strict")
    assert status == EXIT_RULES and out == "" and "bad.yml" in err


def test_70_an_unexpected_error_is_one_line_naming_where(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, paths: object) -> object:
        raise RuntimeError("something \x1b[31mbroke")

    monkeypatch.setattr(engine.Hunt, "run", broken)
    status, _, err = invoke("hunt", NET_USE)
    assert status == EXIT_INTERNAL
    assert "Traceback" not in err and "\x1b" not in err
    where = r"\(at test_exit_statuses\.py:\d+ in broken\)"
    assert re.search(r"internal error: RuntimeError: something .*broke " + where, err)
    assert "--debug" in err
    status, _, err = invoke("--debug", "hunt", NET_USE)
    assert status == EXIT_INTERNAL and "Traceback" in err


@pytest.mark.parametrize("output_format", ["table", "jsonl"])
def test_141_when_the_reader_of_standard_output_goes_away(output_format: str) -> None:
    command = [sys.executable, "-c", "from watchpost.cli import main; main()", "hunt",
               str(PROJECT / "examples"), "-f", output_format]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.read(10)
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_BROKEN_PIPE
    assert b"Traceback" not in err and b"Exception ignored" not in err


def documented_rows(text: str) -> list[tuple[int, str]]:
    return [(int(status), meaning) for status, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", text, re.M)]


@pytest.mark.parametrize("document", ["README.md", "docs/cli.md"])
def test_the_documents_state_the_contract_of_the_code(document: str) -> None:
    assert documented_rows((PROJECT / document).read_text(encoding="utf-8")) == list(EXIT_STATUSES)
