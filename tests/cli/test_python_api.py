"""The Python API the README shows: `watchpost.hunt(paths, rules=...)` yields `Alert`s."""

from __future__ import annotations

import io

from tests.conftest import PROJECT
from watchpost import Hunt, HuntOptions, hunt
from watchpost.alerts import Alert
from watchpost.sinks.formats import make_sink

SEED = PROJECT / "tests" / "fixtures" / "seed"


def test_hunt_yields_alerts_with_the_schema() -> None:
    alerts = list(hunt(sorted(SEED.glob("*.xml")), rules=sorted(SEED.glob("*.yml"))))
    assert len(alerts) == 3 and all(isinstance(alert, Alert) for alert in alerts)
    first = alerts[0].to_dict()
    assert first["schema"] == "watchpost.alert/1"
    assert first["host"] == "WIN-SRV2016.contoso.local" and first["techniques"] == ["T1049"]


def test_the_pieces_hunt_options_stats_and_a_sink() -> None:
    engine = Hunt(HuntOptions(rules=sorted(SEED.glob("*.yml")), min_level="medium"))
    stream = io.StringIO(newline="")
    sink = make_sink("csv", stream)
    for alert in engine.run([str(SEED / "net_use_events.xml")]):
        sink.write(alert)
    sink.close()
    assert engine.stats.alerts == 1 and engine.stats.events == 2
    assert stream.getvalue().count("\r\n") == 2  # header and one row
