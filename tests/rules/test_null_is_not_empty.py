"""`field: null` matches a missing or null field, not an empty string (docs/rule-pack.md, "`null`
and empty values"): SigmaHQ's CACTUSTORCH rule (StartModule: null) on Sysmon 8 events, checked
against pySigma's SQLite backend, which says the same (`IS NULL`)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchpost.events import Event, LogsourceHint, Origin
from watchpost.hunting.ruleset import load_ruleset

RULE = Path("sigma/rules/windows/create_remote_thread/create_remote_thread_win_hktl_cactustorch.yml")
BASE = {
    "EventID": 8, "Channel": "Microsoft-Windows-Sysmon/Operational",
    "SourceImage": "C:\\Windows\\System32\\wscript.exe", "TargetImage": "C:\\Windows\\SysWOW64\\rundll32.exe",
}
CASES = {"absent": None, "null": None, "empty": "", "a module": "C:\\Windows\\SysWOW64\\ntdll.dll"}


def event(case: str) -> Event:
    fields: dict[str, object] = dict(BASE)
    if case != "absent":
        fields["StartModule"] = CASES[case]
    return Event(datetime(2024, 1, 1, tzinfo=UTC), fields, Origin("t", 1), LogsourceHint(product="windows"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rule_path(shared: Path) -> Path:
    return shared / RULE


def test_watchpost(rule_path: Path) -> None:
    ruleset = load_ruleset([rule_path])
    fired = {case for case in CASES if list(ruleset.index.match(event(case)))}
    assert fired == {"absent", "null"}


def test_the_sqlite_backend_agrees(rule_path: Path) -> None:
    from sigma.backends.sqlite import sqliteBackend  # type: ignore[attr-defined]
    from sigma.collection import SigmaCollection

    (query,) = sqliteBackend().convert(SigmaCollection.from_yaml(rule_path.read_text(encoding="utf-8")))  # type: ignore[no-untyped-call]
    assert "StartModule IS NULL" in str(query)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE logs (name TEXT, SourceImage TEXT, TargetImage TEXT, StartModule TEXT)")
    for case, value in CASES.items():
        row = (case, BASE["SourceImage"], BASE["TargetImage"], value)
        db.execute("INSERT INTO logs VALUES (?, ?, ?, ?)", row)
    found = {row[1] for row in db.execute(str(query).replace("SELECT *", "SELECT rowid, name"))}
    assert found == {"absent", "null"}
