"""The Python API the README shows: `watchpost.hunt(paths, rules=...)` yields `Alert`s."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from watchpost import Hunt, HuntOptions, hunt
from watchpost.alerts import Alert
from watchpost.errors import InputNotFound, NoRunnableRules
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


def test_rule_and_input_paths_may_be_strings_or_paths() -> None:
    as_strings = Hunt(HuntOptions(rules=[str(path) for path in sorted(SEED.glob("*.yml"))]))
    as_paths = Hunt(HuntOptions(rules=sorted(SEED.glob("*.yml"))))
    by_string = [a.to_dict()["id"] for a in as_strings.run([str(SEED / "net_use_events.xml")])]
    by_path = [a.to_dict()["id"] for a in as_paths.run([SEED / "net_use_events.xml"])]
    assert by_string == by_path and len(by_path) == 1


def test_a_missing_input_or_rule_path_raises_at_once(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="no such input file or folder: .*missing.evtx"):
        hunt([tmp_path / "missing.evtx"], rules=sorted(SEED.glob("*.yml")))
    with pytest.raises(FileNotFoundError, match="no such rule file or folder"):
        hunt([SEED / "net_use_events.xml"], rules=[str(tmp_path / "no-rules")])


def test_a_rule_set_with_no_runnable_rule_raises_with_its_problems(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("title: broken\ndetection: [unclosed\n")
    with pytest.raises(NoRunnableRules) as refused:
        Hunt(HuntOptions(rules=[tmp_path]))
    assert [Path(problem.path).name for problem in refused.value.problems] == ["broken.yml"]
    with pytest.raises(NoRunnableRules):
        Hunt(HuntOptions(rules=[tmp_path / "broken.yml", SEED / "seed_net_use.yml"], strict=True))
    engine = Hunt(HuntOptions(rules=[tmp_path / "broken.yml", SEED / "seed_net_use.yml"]))
    assert engine.problems.count("rule") == 1
    assert engine.problems.of_stage("rule")[0].path.endswith("broken.yml")
    assert len(list(engine.run([SEED / "net_use_events.xml"]))) == 1
