"""The ATT&CK Navigator layer validates against the layer format 4.5 and scores what fired."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.alerts import Alert
from watchpost.cli import main
from watchpost.sinks.navigator import NavigatorSink

SCHEMA = json.loads((Path(__file__).parent / "navigator_layer_4_5.schema.json").read_text())


def validate(layer: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(layer, SCHEMA, cls=jsonschema.Draft202012Validator)
    if "gradient" in layer:  # "maxValue must be > minValue"
        assert layer["gradient"]["maxValue"] > layer["gradient"]["minValue"]


def layer_of(alerts: list[Alert]) -> dict[str, Any]:
    stream = io.BytesIO()
    sink = NavigatorSink(stream)
    for alert in alerts:
        sink.write(alert)
    sink.close()
    layer: dict[str, Any] = json.loads(stream.getvalue())
    return layer


def test_the_schema_rejects_what_the_format_forbids() -> None:
    good = {"name": "x", "domain": "enterprise-attack", "versions": {"navigator": "5.2.0", "layer": "4.5"},
            "techniques": [{"techniqueID": "T1049", "score": 1}]}
    validate(good)
    nameless = {key: value for key, value in good.items() if key != "name"}
    for broken in ({**good, "domain": "attack"}, {**good, "versions": {"navigator": "4.8", "layer": "4.5"}},
                   {**good, "techniques": [{"techniqueID": "1049"}]}, nameless,
                   {**good, "techniques": [{"techniqueID": "T1049", "score": "high"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_layer_of_the_seed_case_scores_t1049_by_its_alerts() -> None:
    seed = sorted(str(p) for p in (PROJECT / "tests" / "fixtures" / "seed").glob("*.xml"))
    result = CliRunner().invoke(main, ["hunt", *seed, "-f", "navigator", "-q"], catch_exceptions=False)
    assert result.exit_code == 0
    layer = json.loads(result.stdout)
    validate(layer)
    alerts = CliRunner().invoke(main, ["hunt", *seed, "-f", "jsonl", "-q"]).stdout.splitlines()
    scored = {t["techniqueID"]: t for t in layer["techniques"]}
    assert scored["T1049"]["score"] == len(alerts) > 0
    assert layer["domain"] == "enterprise-attack" and layer["versions"]["layer"] == "4.5"


def test_sub_techniques_show_under_their_parent_and_hostile_titles_stay_strings(
        hostile_alerts: list[Alert]) -> None:
    first = hostile_alerts[0]
    sub = replace(first, rule=replace(first.rule, tags=("attack.t1059.001", "attack.t1049")))
    layer = layer_of([*hostile_alerts, sub])
    validate(layer)
    scored = {t["techniqueID"]: t for t in layer["techniques"]}
    assert scored["T1049"]["score"] == len(hostile_alerts) + 1
    assert scored["T1059.001"]["score"] == 1
    assert scored["T1059"]["showSubtechniques"] is True and "score" not in scored["T1059"]
    assert "<script>alert('rule')</script>" in scored["T1049"]["comment"]


def test_no_alerts_still_gives_a_valid_layer() -> None:
    layer = layer_of([])
    validate(layer)
    assert layer["techniques"] == []
