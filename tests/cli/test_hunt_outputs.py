"""`watchpost hunt` outputs (issue 17, item 5): several formats at once with --output-dir, the
Timesketch profile, the HTML report's record of the command line, options and rules, and one
summary order in every output."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.alerts import SUMMARY_ORDER
from watchpost.cli import main
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.rules.selection import RuleSelection

EXAMPLES = PROJECT / "examples"
WINDOWS = EXAMPLES / "windows"


def hunt(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["hunt", *args], catch_exceptions=False, env={"COLUMNS": "500"})
    return result.exit_code, result.stdout, result.stderr


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_output_dir_writes_each_format_as_its_own_format_option_would(tmp_path: Path) -> None:
    folder = tmp_path / "case-42"
    code, out, err = hunt(str(WINDOWS), "--output-dir", str(folder), "-q")
    assert code == 0, err
    assert out == ""  # the alerts went to the files
    assert sorted(p.name for p in folder.iterdir()) == ["alerts.csv", "alerts.html", "alerts.jsonl"]
    _, alone, _ = hunt(str(WINDOWS), "-f", "jsonl", "-q")
    assert [a["id"] for a in jsonl((folder / "alerts.jsonl").read_text())] == [a["id"] for a in jsonl(alone)]
    rows = list(csv.DictReader(io.StringIO((folder / "alerts.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(jsonl(alone))
    assert (folder / "alerts.html").read_text(encoding="utf-8").count('<details class="alert ') == len(rows)
    code, _, _ = hunt(str(WINDOWS), "--output-dir", str(folder / "two"), "--formats", "sarif,timesketch-csv")
    assert code == 0 and sorted(p.name for p in (folder / "two").iterdir()) == [
        "alerts.sarif", "alerts.timesketch.csv"]
    code, _, err = hunt(str(WINDOWS), "--output-dir", str(folder), "--formats", "html,pdf")
    assert code == 2 and "pdf" in err
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code, _, err = hunt(str(WINDOWS), "--output-dir", str(blocked / "sub"))
    assert code == 2 and "cannot create" in err and "Traceback" not in err
    code, _, err = hunt(str(WINDOWS), "--output-dir", str(folder), "--output", str(tmp_path / "x.csv"))
    assert code == 2 and "not both" in err


def test_timesketch_profile_has_datetime_message_and_timestamp_desc() -> None:
    _, alone, _ = hunt(str(EXAMPLES), "-f", "jsonl", "-q")
    alerts = jsonl(alone)
    _, out, _ = hunt(str(EXAMPLES), "-f", "timesketch-jsonl", "-q")
    records = jsonl(out)
    assert len(records) == len(alerts)
    for record, alert in zip(records, alerts, strict=True):
        assert list(record)[:4] == ["datetime", "timestamp_desc", "message", "timestamp"]
        assert record["datetime"] == alert["timestamp"] and record["timestamp_desc"]
        moment = datetime.fromisoformat(str(record["datetime"]).replace("Z", "+00:00"))
        assert record["timestamp"] == int(moment.timestamp() * 1_000_000)
        assert alert["rule"]["title"] in str(record["message"])  # type: ignore[index]
        assert record["alert_id"] == alert["id"]
    _, out, _ = hunt(str(EXAMPLES), "-f", "timesketch-csv", "-q")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and list(rows[0])[:3] == ["datetime", "timestamp_desc", "message"]
    assert [row["alert_id"] for row in rows] == [a["id"] for a in alerts]


def test_the_html_report_records_the_command_line_options_and_rules_that_ran() -> None:
    code, html, _ = hunt(str(WINDOWS), "--min-level", "medium", "--tz", "+02:00", "-X", "-f", "html", "-q")
    assert code == 0
    assert "watchpost hunt --format html --min-level medium --tz +02:00 --quiet --remove-duplicates" in html
    assert "<th>option --min-level</th><td>medium</td>" in html
    assert "<th>option --remove-duplicates</th><td>(on)</td>" in html
    # every rule that ran with the same filters (--min-level): helper rules (generate: false) too
    ruleset = Hunt(HuntOptions(min_level="medium", selection=RuleSelection())).ruleset
    assert f"{len(ruleset.detections) + len(ruleset.correlations)} rules ran" in html
    listed = CliRunner().invoke(main, ["rules", "list", "--min-level", "medium", "-f", "jsonl"]).stdout
    rules = [json.loads(line) for line in listed.splitlines()]
    for rule in rules:
        assert rule["id"] in html


def test_the_summary_order_is_the_same_in_every_output() -> None:
    _, out, _ = hunt(str(EXAMPLES), "-f", "jsonl", "-q")
    order = {key: n for n, key in enumerate(SUMMARY_ORDER)}
    for alert in jsonl(out):
        keys = list(alert["summary"])  # type: ignore[arg-type]
        assert keys == sorted(keys, key=order.__getitem__)
    _, text, _ = hunt(str(EXAMPLES), "-f", "csv", "-q")
    header = next(csv.reader(io.StringIO(text)))
    in_csv = [column for column in header if column in order]
    assert in_csv == sorted(in_csv, key=order.__getitem__) and set(in_csv) == set(SUMMARY_ORDER)
    _, html, _ = hunt(str(EXAMPLES), "-f", "html", "-q")
    checked = 0
    for block in html.split('<table class="kv">')[1:]:
        block = block.split("</table>")[0]
        shown = [key for key in order if f"<tr><th>{key}</th>" in block]
        positions = [block.index(f"<tr><th>{key}</th>") for key in shown]
        assert positions == sorted(positions)
        checked += len(shown) >= 3
    assert checked >= 10
    _, table, _ = hunt(str(EXAMPLES), "-q")
    checked = 0
    for block in table.split("at: "):
        lines = [line.split("│")[-2].strip() for line in block.splitlines() if line.count("│") >= 4]
        keys = [line.split(":")[0] for line in lines if line.split(":")[0] in order]
        assert keys == sorted(keys, key=order.__getitem__)
        checked += len(keys) >= 3
    assert checked >= 10
