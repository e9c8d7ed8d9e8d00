"""Alerts as written by the JSONL sink validate against docs/alert.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.conftest import PROJECT, SHARED
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.sinks.jsonl import dump_alert

SCHEMA = json.loads((PROJECT / "docs" / "alert.schema.json").read_text())
SEED_FIXTURES = PROJECT / "tests" / "fixtures" / "seed"
NET_USE_SAMPLE = SHARED / "samples" / "windows" / "evtx" / "mdecrevoisier_4688_net_use_and_net_view.evtx"
NET_USE_RULE = (SHARED / "sigma" / "rules" / "windows" / "process_creation"
                / "proc_creation_win_net_use_network_connections_discovery.yml")


def written_alerts(paths: list[Path], rules: list[Path]) -> list[dict[str, object]]:
    return [json.loads(dump_alert(alert)) for alert in Hunt(HuntOptions(rules=rules)).run(paths)]


def test_detection_alerts_validate() -> None:
    alerts = written_alerts([NET_USE_SAMPLE], [NET_USE_RULE])
    assert alerts
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA)
        assert alert["correlation"] is None
        assert alert["techniques"] == ["T1049"]


def test_correlation_alerts_validate_and_carry_their_events() -> None:
    alerts = written_alerts(sorted(SEED_FIXTURES.glob("*.xml")), [SEED_FIXTURES])
    correlations = [a for a in alerts if a["rule"]["kind"] == "correlation"]  # type: ignore[index]
    assert len(correlations) == 3
    for alert in correlations:
        jsonschema.validate(alert, SCHEMA)
        events = alert["events"]
        assert isinstance(events, list) and len(events) >= 2
        times = [event["timestamp"] for event in events]
        assert times == sorted(times)
        assert alert["group"]


def test_schema_rejects_an_alert_without_events() -> None:
    alert = written_alerts([NET_USE_SAMPLE], [NET_USE_RULE])[0]
    alert["events"] = []
    try:
        jsonschema.validate(alert, SCHEMA)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an alert without events must not validate")
