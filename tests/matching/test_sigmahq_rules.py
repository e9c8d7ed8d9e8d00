"""Every SigmaHQ rule (rules, rules-threat-hunting, rules-emerging-threats) compiles, runs, and
matches its own regression events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from watchpost.events import Event, Origin
from watchpost.matching import CompileError, RuleMatcher, compile_rule_condition
from watchpost.rules.modifiers import register_modifier_aliases

SIGMA = Path(__file__).resolve().parents[2].parent / "shared" / "sigma"
RULE_DIRS = ("rules", "rules-threat-hunting", "rules-emerging-threats")


@dataclass
class Corpus:
    files: int = 0
    correlations: int = 0
    rejected_by_pysigma: list[str] = field(default_factory=list)
    compiled: dict[str, RuleMatcher] = field(default_factory=dict)  # rule id -> matcher
    placeholder_errors: list[str] = field(default_factory=list)
    compile_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    register_modifier_aliases()
    result = Corpus()
    for directory in RULE_DIRS:
        for path in sorted((SIGMA / directory).rglob("*.yml")):
            result.files += 1
            try:
                collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
            except (SigmaError, yaml.YAMLError) as error:
                result.rejected_by_pysigma.append(f"{path}: {error}")
                continue
            for problem in collection.errors:
                result.rejected_by_pysigma.append(f"{path}: {problem}")
            for rule in collection.rules:
                _compile(result, path, rule)
    return result


def _compile(result: Corpus, path: Path, rule: SigmaRule | SigmaCorrelationRule) -> None:
    if isinstance(rule, SigmaCorrelationRule):
        result.correlations += 1
        return
    if rule.errors:
        result.rejected_by_pysigma.append(f"{path}: {rule.errors[0]}")
        return
    try:
        result.compiled[str(rule.id)] = compile_rule_condition(rule)
    except CompileError as error:
        placeholder = "unresolved placeholder" in str(error)
        target = result.placeholder_errors if placeholder else result.compile_errors
        target.append(f"{path}: {error}")


def test_every_sigmahq_rule_compiles(corpus: Corpus) -> None:
    print(
        f"\nSigmaHQ: {corpus.files} files, {len(corpus.compiled)} rules compiled, "
        f"{corpus.correlations} correlation rules skipped, "
        f"{len(corpus.rejected_by_pysigma)} rejected by pySigma, "
        f"{len(corpus.placeholder_errors)} with unresolved placeholders, "
        f"{len(corpus.compile_errors)} compile errors"
    )
    assert corpus.compile_errors == []
    assert len(corpus.compiled) > 3000


def test_only_expand_rules_lack_placeholder_values(corpus: Corpus) -> None:
    for problem in corpus.placeholder_errors:
        path = Path(problem.split(": ", 1)[0])
        assert "|expand" in path.read_text(encoding="utf-8"), problem


SAMPLE_EVENTS = [
    {},
    {"EventID": 1, "Channel": "Security", "Image": r"C:\Windows\System32\cmd.exe", "CommandLine": None},
    {
        "EventID": "4688",
        "CommandLine": "powershell -enc SQBFAFgA /c net use \\\\host\\c$ -user",
        "ParentImage": r"C:\Windows\explorer.exe",
        "DestinationIp": "10.1.2.3",
        "DestinationPort": 445,
        "Hashes": ["MD5=00", "SHA256=11"],
        "UtcTime": "2024-05-06 13:45:10.123",
        "Enabled": True,
        "Ratio": 0.5,
    },
]


def test_compiled_rules_run_on_assorted_events(corpus: Corpus) -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    events = [Event(moment, fields, Origin("sample", 1)) for fields in SAMPLE_EVENTS]
    for matcher in corpus.compiled.values():
        for sample in events:
            assert matcher.matches(sample) in (True, False)
    # a rule that requires nothing of an empty event must not be one with required equalities
    empty = events[0]
    for matcher in corpus.compiled.values():
        if matcher.required_equalities():
            assert not matcher.matches(empty)


def _json_documents(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return documents
        document, position = decoder.raw_decode(text, position)
        documents.append(document)


def _flatten_exported_event(document: dict[str, Any]) -> dict[str, Any]:
    """Fields of an EVTX record as exported to JSON: System members (attributes as
    ``Member_Attribute``) and the leaves of EventData/UserData, names without spaces (spec)."""
    record = document.get("Event", document)
    fields: dict[str, Any] = {}
    for name, value in record.get("System", {}).items():
        if isinstance(value, dict):
            if "#text" in value:
                fields[name] = value["#text"]
            for attribute, attribute_value in value.get("#attributes", {}).items():
                fields[f"{name}_{attribute}"] = attribute_value
        else:
            fields[name] = value
    pending = [record.get(section) for section in ("EventData", "UserData")]
    while pending:
        data = pending.pop()
        if not isinstance(data, dict):
            continue
        for name, value in data.items():
            if name == "#attributes":
                continue
            if isinstance(value, dict):
                pending.append(value)
            else:
                fields[name.replace(" ", "")] = value
    return fields


def test_rules_match_their_regression_events(corpus: Corpus) -> None:
    infos = sorted((SIGMA / "regression_data").rglob("info.yml"))
    assert infos
    missed = []
    for info in infos:
        meta = yaml.safe_load(info.read_text(encoding="utf-8"))
        rule_id = str(meta["rule_metadata"][0]["id"])
        matcher = corpus.compiled[rule_id]
        for case in meta["regression_tests_info"]:
            exported = (SIGMA / case["path"]).with_suffix(".json")
            moment = datetime(2024, 1, 1, tzinfo=UTC)
            events = [
                Event(moment, _flatten_exported_event(doc), Origin(str(exported), n))
                for n, doc in enumerate(_json_documents(exported), start=1)
            ]
            if not any(matcher.matches(sample) for sample in events):
                missed.append(f"{info.parent.name}: {case['name']}")
    print(f"\nregression data: {len(infos)} rules checked, {len(missed)} missed")
    assert missed == []
