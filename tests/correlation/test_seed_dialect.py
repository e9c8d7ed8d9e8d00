"""The seed-dialect translator: recognition, timeframes, conditions, fields, ids, structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watchpost.rules.loader import load_rules
from watchpost.rules.seed import SeedDialectError, parse_timeframe, translate_seed_document

from .seed_cases import SEED_RULES

PATH = Path("seed.yml")


def seed(detection: dict[str, Any], **meta: Any) -> dict[str, Any]:
    document = {"title": "t", "logsource": {"product": "windows", "service": "security"}, "level": "high"}
    document.update(meta)
    document["detection"] = detection
    return document


CREATE = {"EventID": 4688, "Newprocessname": "C:\\Windows\\System32\\whoami.exe"}
EXIT = {"EventID": 4689, "ProcessName": "C:\\Windows\\System32\\whoami.exe"}


def correlations(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if "correlation" in d]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last 5s", "5s"),
        ("5s", "5s"),
        ("1m", "1m"),
        ("last 1h", "1h"),
        ("90 seconds", "90s"),
        ("120s", "2m"),
        ("LAST 2 Days", "2d"),
        ("last 1 min", "1m"),
    ],
)
def test_timeframes(text: str, expected: str) -> None:
    assert parse_timeframe(text) == expected


@pytest.mark.parametrize("text", ["soon", "0s", "5", "last 5 fortnights", None])
def test_bad_timeframes(text: str | None) -> None:
    with pytest.raises(SeedDialectError):
        parse_timeframe(text)


@pytest.mark.parametrize(
    "detection",
    [
        {"timeframe": "5s", "a": CREATE, "b": EXIT, "condition": "all of them"},
        {"a": CREATE, "b": EXIT, "condition": "all of them", "timeframe": "5s"},
        {"a": CREATE, "timeframe": "5s", "b": EXIT, "condition": "a and b"},
    ],
)
def test_timeframe_anywhere_in_the_detection(detection: dict[str, Any]) -> None:
    documents = translate_seed_document(seed(detection), PATH)
    (correlation,) = correlations(documents)
    assert correlation["correlation"]["timespan"] == "5s"
    assert all("timeframe" not in d.get("detection", {}) for d in documents)


def test_timeframe_at_the_top_level() -> None:
    document = seed({"a": CREATE, "b": EXIT, "condition": "all of selection*"}, timeframe="last 1m")
    document["detection"] = {"selection1": CREATE, "selection2": EXIT, "condition": "all of selection*"}
    (correlation,) = correlations(translate_seed_document(document, PATH))
    assert correlation["correlation"]["timespan"] == "1m"
    assert len(correlation["correlation"]["rules"]) == 2


def test_one_of_needs_no_correlation() -> None:
    for condition in ("1 of selection*", "selection1 or selection2", "any of them"):
        document = seed({"selection1": CREATE, "selection2": EXIT, "timeframe": "5s", "condition": condition})
        (only,) = translate_seed_document(document, PATH)
        assert only["detection"]["condition"] == condition
        assert "timeframe" not in only["detection"]
        assert only["detection"]["selection1"]["NewProcessName"] == CREATE["Newprocessname"]


def test_a_subset_of_selections() -> None:
    third = {"EventID": 4703, "ProcessName": "C:\\Windows\\System32\\whoami.exe"}
    document = seed({"s1": CREATE, "s2": third, "s3": EXIT, "timeframe": "5s", "condition": "s1 and s3"})
    documents = translate_seed_document(document, PATH)
    assert len(documents) == 3
    (correlation,) = correlations(documents)
    assert [r.rsplit("_", 1)[1] for r in correlation["correlation"]["rules"]] == ["s1", "s3"]


@pytest.mark.parametrize("condition", ["not a", "a and (b or c)", "a and z", "2 of them"])
def test_unsupported_conditions_are_errors(condition: str) -> None:
    document = seed({"a": CREATE, "b": EXIT, "c": EXIT, "timeframe": "5s", "condition": condition})
    with pytest.raises(SeedDialectError):
        translate_seed_document(document, PATH)


def test_other_documents_pass_through() -> None:
    plain = seed({"a": CREATE, "condition": "a"})
    correlation = {"title": "c", "correlation": {"type": "temporal"}, "detection": {"timeframe": "5s"}}
    assert translate_seed_document(plain, PATH) == [plain]
    assert translate_seed_document(correlation, PATH) == [correlation]


def test_display_names_map_case_insensitively_and_keep_modifiers() -> None:
    body = {"EventID": 4688, "NEWPROCESSNAME|endswith": "\\whoami.exe", "creatorProcessName": "x", "Other": 1}
    document = seed({"a": body, "b": EXIT, "timeframe": "5s", "condition": "all of them"})
    first = translate_seed_document(document, PATH)[0]
    assert first["detection"]["a"] == {
        "EventID": 4688,
        "NewProcessName|endswith": "\\whoami.exe",
        "ParentProcessName": "x",
        "Other": 1,
    }


def test_ids_are_stable_and_distinct() -> None:
    document = seed({"a": CREATE, "b": EXIT, "timeframe": "5s", "condition": "all of them"})
    once = translate_seed_document(document, PATH)
    again = translate_seed_document(yaml.safe_load(yaml.safe_dump(document)), PATH)
    assert [d["id"] for d in once] == [d["id"] for d in again]
    assert len({d["id"] for d in once}) == 3 and len({d.get("name") for d in once[:2]}) == 2
    other = translate_seed_document(
        seed({"a": CREATE, "b": dict(EXIT, EventID=4703), "timeframe": "5s", "condition": "all of them"}),
        PATH,
    )
    assert not {d["id"] for d in once} & {d["id"] for d in other}
    named = translate_seed_document({**document, "id": "9f1c0d7e-0000-4000-8000-000000000001"}, PATH)
    assert correlations(named)[0]["id"] == "9f1c0d7e-0000-4000-8000-000000000001"


def test_selections_of_no_single_process_are_correlated_by_host() -> None:
    logon = {"EventID": 4624, "LogonType": 3}
    document = seed({"a": logon, "b": CREATE, "timeframe": "1m", "condition": "all of them"})
    (correlation,) = correlations(translate_seed_document(document, PATH))
    assert correlation["correlation"]["type"] == "temporal"
    assert correlation["correlation"]["group-by"] == ["Computer"]


def test_seed_rules_translate_to_process_correlations() -> None:
    by_file = {}
    for path in SEED_RULES:
        by_file[path.name] = translate_seed_document(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    netstat = by_file["seed_netstat.yml"]
    (correlation,) = correlations(netstat)
    assert correlation["title"] == "windows 系统网络链接发现" and correlation["level"] == "medium"
    assert correlation["tags"] == ["attack.t1049"] and correlation["author"] == "12306Bro"
    body = correlation["correlation"]
    assert body["type"] == "temporal_ordered" and body["timespan"] == "5s"
    assert body["group-by"] == ["Computer", "ProcessKey"]
    assert list(body["aliases"]["ProcessKey"].values()) == ["NewProcessId", "ProcessId", "ProcessId"]
    assert netstat[1]["detection"]["selection2"]["EnabledPrivilegeList"] == "SeDebugPrivilege"
    assert netstat[0]["detection"]["selection1"]["CommandLine"] == "netstat"
    session = by_file["seed_net_session.yml"]
    inner, outer = correlations(session)
    assert [r.rsplit("_", 1)[1] for r in inner["correlation"]["rules"]] == ["selection2", "selection3"]
    assert outer["correlation"]["rules"][1] == inner["name"]
    assert outer["correlation"]["aliases"]["ProcessKey"][inner["name"]] == "ProcessId"
    assert outer["correlation"]["timespan"] == inner["correlation"]["timespan"] == "1m"
    assert "level" not in inner  # only the outermost correlation carries meta information


def test_the_loader_hook_recognises_the_dialect_before_pysigma() -> None:
    without = load_rules(SEED_RULES)
    assert without.rules == [] and len(without.problems) == 3
    loaded = load_rules(SEED_RULES, translators=[translate_seed_document])
    assert loaded.problems == []
    assert (len(loaded.rules), len(loaded.correlations)) == (9, 4)
    assert not any(rule.output for rule in loaded.rules)
