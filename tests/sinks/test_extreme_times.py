"""Times at the edge (issue 19, "Times at the edge"): every output format survives the extremes in
every display zone, and correlations over them fire instead of crashing.

The files in tests/fixtures/extreme_times hold three Sysmon process starts (netstat, whoami,
ipconfig from one logon: the bundled pack's burst correlation fires on them) dated year 1,
9999-12-31T23:59:59.99999x, epoch 0, far-future epoch numbers (1e20 ns is year 5138; 1e30 is
beyond any year and is reported, its event kept at 1970-01-01), and year 1 at +14:00 or 9999-12-31
at -12:00 (outside the years in UTC: clamped at read time). Before, year 1 crashed the burst
correlation (OverflowError, hunt and API), 9999-12-31 left the HTML report empty even in UTC,
table and CSV crashed in a zone the time could not be shown in, and an offset past year 1 or 9999
lost the whole file (OverflowError out of the reader).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost import hunt
from watchpost.cli import main
from watchpost.sinks.display_time import format_display_time, format_iso_time
from watchpost.sinks.formats import OUTPUT_FORMATS

EXTREMES = PROJECT / "tests" / "fixtures" / "extreme_times"
ZONES = ("UTC", "+14:00", "-12:00", "Europe/Paris")
FORMATS = ("table", "jsonl", "json", "csv", "html", "navigator", "sarif", "timesketch-csv",
           "timesketch-jsonl")
UTC_FORMATS = frozenset({"jsonl", "json", "sarif", "timesketch-csv", "timesketch-jsonl"})
BURST = "Burst Of Discovery Commands In One Logon Session (Windows)"
FIRST_EVENT = {  # the UTC date of each file's first event, and whether the burst correlation fires
    "year_1.jsonl": (date(1, 1, 1), True),
    "year_9999.jsonl": (date(9999, 12, 31), True),
    "epoch_0.jsonl": (date(1970, 1, 1), True),
    "far_epoch.jsonl": (date(5138, 11, 16), False),  # its third event is reported and kept at 1970
    "year_1_offset.jsonl": (date(1, 1, 1), True),  # +14:00: before year 1 in UTC, clamped to its start
    "year_9999_offset.jsonl": (date(9999, 12, 31), True),  # -12:00: clamped to the end of 9999
}


def shown_dates(day: date, output_format: str) -> set[str]:
    """The dates the first event may be shown on: its UTC date, or a day either side in a zone."""
    if output_format in UTC_FORMATS:
        return {day.isoformat()}
    found = {day.isoformat()}
    for shift in (-1, 1):
        try:
            found.add((day + timedelta(days=shift)).isoformat())
        except OverflowError:
            continue
    return found


def test_every_format_is_covered() -> None:
    assert set(FORMATS) == set(OUTPUT_FORMATS)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("name", sorted(FIRST_EVENT))
def test_every_format_survives_extreme_times_in_every_zone(name: str, output_format: str, zone: str,
                                                          tmp_path: Path) -> None:
    output = tmp_path / "alerts.out"
    result = CliRunner().invoke(main, ["hunt", str(EXTREMES / name), "-f", output_format, "--tz", zone,
                                       "-o", str(output)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    text = output.read_text(encoding="utf-8")
    assert text.strip(), "empty output"
    day, fires = FIRST_EVENT[name]
    alerts = 2 if fires else 1
    assert f"{alerts} alerts (" in result.stderr  # the summary: the correlation fired, or not, as it should
    if output_format == "navigator":
        assert json.loads(text)["description"].startswith(f"{alerts} alerts from watchpost")
    else:
        assert any(shown in text for shown in shown_dates(day, output_format)), text[:2000]
    if name == "far_epoch.jsonl":
        assert "line 3" in result.stderr and "unparsable time" in result.stderr  # reported, not dropped


@pytest.mark.parametrize("name", ["year_1.jsonl", "year_9999.jsonl", "year_1_offset.jsonl"])
def test_the_api_correlates_events_at_the_edges_of_time(name: str) -> None:
    alerts = list(hunt([EXTREMES / name]))
    burst = [alert for alert in alerts if alert.rule.title == BURST]
    assert len(burst) == 1
    window = burst[0].to_dict()["correlation"]
    first = datetime.fromisoformat(window["first"].replace("Z", "+00:00"))
    assert first.date() == FIRST_EVENT[name][0]


@pytest.mark.parametrize("moment", [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
@pytest.mark.parametrize("zone", ["+14:00", "-12:00", "Europe/Paris"])
def test_a_time_the_zone_cannot_show_is_shown_in_utc_with_its_offset(moment: datetime, zone: str) -> None:
    from watchpost.cli import parse_tz

    tz = parse_tz(zone)
    shown = format_display_time(moment, tz)
    iso = format_iso_time(moment, tz)
    assert shown[:4] in ("0001", "9999") and iso[:4] == shown[:4]  # four-digit years, never "1"
    try:
        local = moment.astimezone(tz)
    except (OverflowError, ValueError):
        assert shown.endswith("+00:00") and iso.endswith("+00:00")
        assert iso.startswith(moment.replace(tzinfo=None).isoformat())
    else:
        assert shown.startswith(local.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds"))
