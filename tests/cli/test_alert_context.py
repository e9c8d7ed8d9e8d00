"""Alerts that carry their context, through `watchpost hunt` (issue 17, item 3): every value of a
value_count, every command of a burst, cloud account and region for a host, a host for macOS
when the user gives it, the log and record of each event in the table, rule paths relative to
the rule folder given."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.alerts import Alert
from watchpost.cli import main
from watchpost.events import Event, Origin
from watchpost.rules.model import RuleMeta

RULE = RuleMeta(id="r", title="t", level="low", path="r.yml")

EXAMPLES = PROJECT / "examples"
PACK = PROJECT / "src" / "watchpost" / "packs" / "t1049"


def hunt(*args: str) -> tuple[int, str, str]:
    # A wide table, so that no value is folded over two lines.
    result = CliRunner().invoke(main, ["hunt", *args], catch_exceptions=False, env={"COLUMNS": "500"})
    return result.exit_code, result.stdout, result.stderr


def alerts_of(*args: str) -> list[dict[str, object]]:
    code, out, err = hunt(*args, "-f", "jsonl", "-q")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_value_count_alert_lists_every_distinct_value_that_made_it_fire() -> None:
    found = alerts_of(str(EXAMPLES / "cloud"))
    cloud = [a for a in found if a["correlation"] and a["correlation"]["type"] == "value_count"]  # type: ignore[index]
    assert len(cloud) == 1
    alert = cloud[0]
    names = list(dict.fromkeys(e["fields"]["eventName"] for e in alert["events"]))  # type: ignore[index,union-attr]
    assert len(names) >= 4
    assert alert["correlation"]["fields"] == ["eventName"]  # type: ignore[index]
    assert alert["correlation"]["values"] == names  # type: ignore[index]
    assert alert["correlation"]["value"] == len(names)  # type: ignore[index]
    _, table, _ = hunt(str(EXAMPLES / "cloud"), "-q")
    assert "values: " + " ; ".join(names) in table


def test_a_burst_alert_lists_every_command_in_order() -> None:
    found = alerts_of(str(EXAMPLES / "windows"))
    bursts = [a for a in found if "Burst" in a["rule"]["title"]]  # type: ignore[index]
    assert bursts
    for alert in bursts:
        events = alert["events"]
        commands = list(dict.fromkeys(e["fields"]["CommandLine"] for e in events))  # type: ignore[index,union-attr]
        assert len(commands) >= 3
        assert alert["summary"]["commands"] == commands  # type: ignore[index]
        times = [e["timestamp"] for e in events]  # type: ignore[index,union-attr]
        assert times == sorted(times)


def test_cloud_alerts_name_account_and_region_not_an_unknown_host() -> None:
    record = json.loads((EXAMPLES / "cloud" / "aws" / "cloudtrail.jsonl").read_text().splitlines()[0])
    account, region = record["recipientAccountId"], record["awsRegion"]
    alert = alerts_of(str(EXAMPLES / "cloud"))[0]
    assert alert["host"] == f"aws:{account}/{region}"
    assert alert["summary"]["account"] == account and alert["summary"]["region"] == region  # type: ignore[index]
    _, table, _ = hunt(str(EXAMPLES / "cloud"), "-q")
    assert f"aws:{account}/{region}" in table and "(unknown host)" not in table


def test_macos_alerts_name_the_host_the_user_gives_or_a_field_of_the_input(tmp_path: Path) -> None:
    macos = str(EXAMPLES / "macos")
    assert all(a["host"] is None for a in alerts_of(macos))
    named = alerts_of(macos, "--host", "mbp-alice")
    assert named and all(a["host"] == "mbp-alice" and a["summary"]["host"] == "mbp-alice"  # type: ignore[index]
                         for a in named)
    # A host written in the events wins over --host.
    _, out, _ = hunt(str(EXAMPLES / "windows" / "ws01"), "--host", "elsewhere", "-f", "jsonl", "-q")
    assert {json.loads(line)["host"] for line in out.splitlines()} == {"WS01.corp.example"}
    # ECS-style exports (Elastic Endpoint on macOS) name the host in a field: host.hostname.
    ecs = tmp_path / "ecs.json"
    ecs.write_text(json.dumps({"@timestamp": "2024-10-21T09:30:01Z", "host": {"hostname": "mbp-bob"},
                               "Image": "/usr/sbin/lsof", "CommandLine": "lsof -i"}) + "\n")
    result = CliRunner().invoke(main, ["search", str(ecs), "-k", "lsof", "-f", "jsonl", "-q"])
    assert [json.loads(line)["host"] for line in result.stdout.splitlines()] == ["mbp-bob"]
    event = Event(datetime(2024, 10, 21, tzinfo=UTC), {"host.hostname": "mbp-bob"}, Origin("x", 1, "line"))
    assert Alert(RULE, event.timestamp, (event,)).host == "mbp-bob"


def test_the_table_shows_the_log_event_id_and_record_of_each_alert() -> None:
    inputs = (str(EXAMPLES / "windows" / "win-srv2016"), str(EXAMPLES / "linux"))
    _, table, _ = hunt(*inputs, "-q")
    for alert in alerts_of(*inputs):
        for event in alert["events"]:  # type: ignore[union-attr]
            fields, origin = event["fields"], event["origin"]  # type: ignore[index]
            log = f"{fields['Channel']} {fields['EventID']}" if "Channel" in fields else "linux/"
            assert f"at: {log}" in table
            assert f"{origin['path']}:{origin['kind']} {origin['record']}" in table


def test_rule_paths_are_relative_to_the_rule_folder_given(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the rule folder is given as the analyst types it: my-rules
    folder = Path("my-rules")
    shutil.copytree(PACK / "windows", folder / "windows")
    windows = str(EXAMPLES / "windows" / "win-srv2016")
    found = alerts_of(windows, "--rules", str(folder))
    assert found
    paths = {a["rule"]["path"] for a in found}  # type: ignore[index]
    assert all(p.startswith("windows/") and p.endswith(".yml") for p in paths), paths
    single = tmp_path / folder / "windows" / "proc_creation_win_netstat.yml"
    assert {a["rule"]["path"] for a in alerts_of(windows, "--rules", str(single))} == {single.name}  # type: ignore[index]
    assert {a["rule"]["path"].split("/")[0] for a in alerts_of(windows)} == {"t1049"}  # type: ignore[index]
    out_dir = Path("out")
    code, _, err = hunt(windows, "--rules", str(folder), "--output-dir", str(out_dir), "--formats",
                        "html,csv,jsonl,sarif", "-q")
    assert code == 0, err
    written = sorted(path.name for path in out_dir.iterdir())
    assert written == ["alerts.csv", "alerts.html", "alerts.jsonl", "alerts.sarif"]
    for name in written:
        text = (out_dir / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text and str(Path.home()) not in text.replace(str(PROJECT), ""), name
    rows = list(csv.DictReader(io.StringIO((out_dir / "alerts.csv").read_text(encoding="utf-8"))))
    assert {row["rule_path"] for row in rows} == paths


def test_alerts_with_their_context_validate_against_the_schema() -> None:
    import jsonschema

    schema = json.loads((PROJECT / "docs" / "alert.schema.json").read_text(encoding="utf-8"))
    found = alerts_of(str(EXAMPLES))
    kinds = set()
    for alert in found:
        jsonschema.validate(alert, schema)
        kinds |= {key for key in ("commands", "account") if key in alert["summary"]}  # type: ignore[operator]
        kinds |= {"merged"} if "merged" in alert["extra"] else set()  # type: ignore[operator]
        kinds |= {"values"} if alert["correlation"] and alert["correlation"]["values"] else set()  # type: ignore[index]
    assert kinds == {"commands", "account", "merged", "values"}
    broken = dict(found[0], summary={"commands": ["only one"]})
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a one-command list must not validate")


def test_gcp_and_azure_events_name_project_and_subscription(tmp_path: Path) -> None:
    simulated = tmp_path / "sim"
    result = CliRunner().invoke(main, ["simulate", "cloud", "-o", str(simulated)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    gcp_log = simulated / "cloud" / "gcp" / "cloudaudit.jsonl"
    project = json.loads(gcp_log.read_text().splitlines()[0])["resource"]["labels"]["project_id"]
    gcp = [a for a in alerts_of(str(gcp_log)) if a["correlation"]]
    assert gcp and {a["host"] for a in gcp} == {f"gcp:{project}"}
    assert all(a["summary"]["account"] == project for a in gcp)  # type: ignore[index]
    azure = tmp_path / "activity.json"
    subscription = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    azure.write_text(json.dumps({
        "time": "2024-10-21T10:00:00Z", "category": "Administrative", "callerIpAddress": "203.0.113.9",
        "resourceId": f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Network/x",
        "operationName": {"value": "Microsoft.Network/networkWatchers/topology/action"},
        "location": "westeurope", "correlationId": "c1"}) + "\n")
    found = CliRunner().invoke(main, ["search", str(azure), "-k", "topology", "-f", "jsonl", "-q"]).stdout
    assert [json.loads(line)["host"] for line in found.splitlines()] == [f"azure:{subscription}/westeurope"]
