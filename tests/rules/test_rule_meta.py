"""RuleMeta from pySigma rules: ids, levels, tags, logsource terms, kinds."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from watchpost.rules.meta import describe_rule

RULE: dict[str, Any] = {
    "title": "Network Connections Discovery Via Net.EXE",
    "id": "1c67a717-32ba-409b-a45d-0fb704a73a81",
    "name": "net_use",
    "status": "test",
    "description": "Detects net use without arguments",
    "author": "someone",
    "references": ["https://attack.mitre.org/techniques/T1049/"],
    "tags": ["attack.discovery", "attack.t1049"],
    "falsepositives": ["Administrators"],
    "level": "High",
    "fields": ["CommandLine"],
    "logsource": {"product": "windows", "category": "process_creation"},
    "detection": {"sel": {"CommandLine|endswith": "net use"}, "condition": "sel"},
}


def rule_from(**changes: Any) -> SigmaRule:
    document = {key: value for key, value in RULE.items() if key not in changes}
    document.update({key: value for key, value in changes.items() if value is not None})
    return SigmaRule.from_dict(document)


def test_describes_every_attribute() -> None:
    meta = describe_rule(rule_from(), Path("rules/net_use.yml"))
    assert meta.id == RULE["id"]
    assert meta.title == RULE["title"]
    assert meta.level == "high"
    assert meta.path == "rules/net_use.yml"
    assert meta.tags == ("attack.discovery", "attack.t1049")
    assert meta.status == "test"
    assert meta.description == RULE["description"]
    assert meta.author == "someone"
    assert meta.falsepositives == ("Administrators",)
    assert meta.references == tuple(RULE["references"])
    assert meta.name == "net_use"
    assert meta.logsource == (("product", "windows"), ("category", "process_creation"))
    assert meta.kind == "detection"
    assert meta.fields == ("CommandLine",)


def test_missing_level_is_medium_and_missing_optional_attributes_are_empty() -> None:
    document = {"title": "bare", "logsource": {"service": "apache"}, "detection": RULE["detection"]}
    meta = describe_rule(SigmaRule.from_dict(document), Path("bare.yml"))
    assert meta.level == "medium"
    assert meta.status is None and meta.author is None and meta.name is None
    assert meta.tags == () and meta.falsepositives == () and meta.references == ()
    assert meta.logsource == (("service", "apache"),)


def test_rule_without_id_gets_a_stable_id_from_path_and_title() -> None:
    no_id = {key: value for key, value in RULE.items() if key != "id"}
    first = describe_rule(SigmaRule.from_dict(no_id), Path("a/rule.yml")).id
    again = describe_rule(SigmaRule.from_dict(no_id), Path("a/rule.yml")).id
    other_path = describe_rule(SigmaRule.from_dict(no_id), Path("b/rule.yml")).id
    other_title = describe_rule(SigmaRule.from_dict({**no_id, "title": "other"}), Path("a/rule.yml")).id
    assert first == again
    assert len({first, other_path, other_title}) == 3
    assert uuid.UUID(first)  # an id of the usual form


def test_correlation_rule_is_described_as_correlation() -> None:
    collection = SigmaCollection.from_dicts(
        [
            RULE,
            {
                "title": "Repeated net use",
                "id": "5d8d7b0c-1f56-4b61-9a6e-6f0b6f4a1c11",
                "level": "critical",
                "correlation": {
                    "type": "event_count",
                    "rules": ["net_use"],
                    "group-by": ["Computer"],
                    "timespan": "5m",
                    "condition": {"gte": 3},
                },
            },
        ]
    )
    correlation = next(rule for rule in collection.rules if isinstance(rule, SigmaCorrelationRule))
    meta = describe_rule(correlation, Path("c.yml"))
    assert meta.kind == "correlation"
    assert meta.level == "critical"
    assert meta.logsource == ()
    assert meta.id == "5d8d7b0c-1f56-4b61-9a6e-6f0b6f4a1c11"
