"""The seed's test case as Windows event XML, and variants of it for the negative cases.

The fixtures (tests/fixtures/seed/*_events.xml) reproduce the seed note's three commands typed
in cmd.exe on a Windows Server 2016 host with process-creation, process-termination and
token-right auditing on. Variants are derived from them here (an event dropped, moved in time,
given another PID or host) and written next to the test as wevtutil-style XML.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

from watchpost.alerts import Alert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "seed"
SEED_RULES = sorted(FIXTURES.glob("seed_*.yml"))
EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_NS = "{" + EVENT_NS + "}"

ElementTree.register_namespace("", EVENT_NS)

NETSTAT = "netstat_events.xml"
NET_USE = "net_use_events.xml"
NET_SESSION = "net_session_events.xml"


def events_of(name: str) -> list[ElementTree.Element]:
    """The ``<Event>`` elements of a fixture file (fresh copies)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    root = ElementTree.fromstring(f"<Events>{text}</Events>")
    return [copy.deepcopy(element) for element in root]


def _find(event: ElementTree.Element, path: str) -> ElementTree.Element:
    found = event.find(_qualified(path))
    assert found is not None, path
    return found


def _qualified(path: str) -> str:
    return "/".join(_NS + part for part in path.split("/"))


def time_of(event: ElementTree.Element) -> datetime:
    text = _find(event, "System/TimeCreated").attrib["SystemTime"]
    return datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def moved(event: ElementTree.Element, seconds: float) -> ElementTree.Element:
    """A copy of ``event`` ``seconds`` later."""
    result = copy.deepcopy(event)
    when = time_of(event) + timedelta(seconds=seconds)
    _find(result, "System/TimeCreated").attrib["SystemTime"] = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    return result


def with_data(event: ElementTree.Element, **values: str) -> ElementTree.Element:
    """A copy of ``event`` with EventData members (or ``Computer``) replaced."""
    result = copy.deepcopy(event)
    for name, value in values.items():
        if name == "Computer":
            _find(result, "System/Computer").text = value
            continue
        data = _find(result, "EventData")
        for member in data:
            if member.attrib.get("Name") == name:
                member.text = value
                break
        else:
            raise KeyError(name)
    return result


def write_events(folder: Path, name: str, events: Sequence[ElementTree.Element]) -> Path:
    """``events`` (renumbered) as a wevtutil-style file: ``<Event>`` elements, no root."""
    path = folder / name
    parts = []
    for number, event in enumerate(events, start=1):
        renumbered = copy.deepcopy(event)
        _find(renumbered, "System/EventRecordID").text = str(90000 + number)
        parts.append(ElementTree.tostring(renumbered, encoding="unicode"))
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def hunt_seed(paths: Sequence[Path]) -> list[Alert]:
    """The seed rules (from the fixtures, translated by the loader hook) over ``paths``, run by
    the engine as a user would (`watchpost.hunting.engine.Hunt`); no rule or read problem is expected."""
    from watchpost.hunting.engine import Hunt, HuntOptions

    hunt = Hunt(HuntOptions(rules=SEED_RULES))
    assert hunt.problems.count() == 0, hunt.problems.problems
    alerts = list(hunt.run(list(paths)))
    assert hunt.problems.count() == 0, hunt.problems.problems
    return alerts
