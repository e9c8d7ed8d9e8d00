"""SARIF 2.1.0: one result per alert, one rule descriptor per rule, stable fingerprints."""

from __future__ import annotations

import io
import json
from typing import Any

from watchpost.alerts import Alert
from watchpost.sinks.sarif import SarifSink


def sarif_of(alerts: list[Alert]) -> dict[str, Any]:
    stream = io.BytesIO()
    sink = SarifSink(stream)
    for alert in alerts:
        sink.write(alert)
    sink.close()
    log: dict[str, Any] = json.loads(stream.getvalue())
    return log


def test_results_rules_and_locations(hostile_alerts: list[Alert]) -> None:
    log = sarif_of(hostile_alerts)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "watchpost"
    assert len(rules) == 1 and rules[0]["id"] == hostile_alerts[0].rule.id
    results = run["results"]
    assert len(results) == len(hostile_alerts)
    for result, alert in zip(results, hostile_alerts, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"  # a high rule
        assert result["partialFingerprints"]["watchpostAlertId/v1"] == alert.to_dict()["id"]
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("hostile.jsonl")
        assert physical["region"]["startLine"] == alert.events[0].origin.record
    assert len({r["partialFingerprints"]["watchpostAlertId/v1"] for r in results}) == len(results)
