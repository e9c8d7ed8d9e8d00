"""`RecordSelection` skips a record only when its decoded Channel/EventID pair is not admitted.

The oracle is the decoded record: every sample record's pair, taken from its flattened fields,
is looked up in the admitted pairs; the selection must admit every record whose pair is admitted
(it may admit more: records of unexpected shape are decoded).
"""

from __future__ import annotations

import orjson
import pytest
from evtx import PyEvtxParser

from tests.conftest import SHARED
from watchpost.readers.evtx import RecordSelection
from watchpost.readers.winevent import flatten_windows_event

PAIRS: dict[str, frozenset[tuple[str | None, str | None]]] = {
    "pack": frozenset({
        ("microsoft-windows-powershell/operational", "4104"), ("microsoft-windows-sysmon/operational", "1"),
        ("security", "4688"), ("security", "4689"), ("security", "4703"),
    }),
    "any id of a channel": frozenset({("security", "4688"), ("system", None)}),
    "an id on any channel": frozenset({("security", "4688"), (None, "7036"), (None, "1")}),
    "element-form ids": frozenset({("system", "7036"), ("system", "7045"), ("application", "1000")}),
    "nothing matches": frozenset({("no such channel", "4688")}),
}


def admitted(pairs: frozenset[tuple[str | None, str | None]], channel: str, event_id: str) -> bool:
    return any(
        (c is None or c == channel) and (e is None or e == event_id) for c, e in pairs
    )


@pytest.fixture(scope="module")
def sample_records() -> list[tuple[str, str, str]]:
    """(JSON text, lower-cased Channel, EventID text) of every readable sample record."""
    found: list[tuple[str, str, str]] = []
    folders = (SHARED / "samples" / "windows" / "evtx", SHARED / "sigma" / "regression_data")
    for path in sorted(p for folder in folders for p in folder.rglob("*.evtx")):
        try:
            for record in PyEvtxParser(str(path)).records_json():
                data: str = record["data"]  # type: ignore[index]
                fields, _ = flatten_windows_event(orjson.loads(data)["Event"])
                found.append((data, str(fields.get("Channel")).lower(), str(fields.get("EventID"))))
        except RuntimeError:
            continue  # damaged samples: the records before the damage count
    return found


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_no_admitted_record_is_skipped(name: str, sample_records: list[tuple[str, str, str]]) -> None:
    pairs = PAIRS[name]
    selection = RecordSelection(pairs)
    skipped = 0
    for _ in range(2):  # the second pass runs on what the first one learned
        for data, channel, event_id in sample_records:
            if not selection.admits(data):
                assert not admitted(pairs, channel, event_id), (channel, event_id)
                skipped += 1
    assert len(sample_records) > 5000
    assert skipped > len(sample_records)  # most records are skipped in both passes


def test_element_form_ids_are_learned_and_decided_by_their_text() -> None:
    selection = RecordSelection(frozenset({("system", "7036")}))
    element = '{"EventID":{"#attributes":{"Qualifiers":16384},"#text":%s},"Channel":"%s"}'
    assert selection.admits(element % (7036, "System"))
    assert not selection.admits(element % (7036, "Application"))
    assert not selection.admits(element % (7045, "System"))
    assert not selection.admits(element % (7045, "System"))  # decided from what was learned
    assert selection.admits(element % (7036, "SYSTEM"))


@pytest.mark.parametrize(
    "text",
    [
        '{"EventID":4688,"Channel":"Security"}',
        '{"EventID":4688,"Channel":"Secu\\"rity"}',  # an escape: not read, decoded
        '{"EventID":4688,"Channel":null}',  # not the expected shape: decoded
        '{"EventID":4688,"Version":1}',  # no Channel: decoded
    ],
)
def test_a_known_id_with_an_unreadable_channel_is_decoded(text: str) -> None:
    selection = RecordSelection(frozenset({("security", "4688")}))
    for _ in range(2):
        assert selection.admits(text)


def test_an_id_no_channel_admits_is_skipped_whatever_its_channel() -> None:
    selection = RecordSelection(frozenset({("security", "4688")}))
    for text in ('{"EventID":4689,"Channel":"Security"}', '{"EventID":4689,"Channel":null}'):
        assert not selection.admits(text)
        assert not selection.admits(text)


def test_every_pair_admitted_means_no_check() -> None:
    selection = RecordSelection(frozenset({(None, None), ("security", "4688")}))
    assert selection.pairs is None
    assert selection.admits('{"EventID":1,"Channel":"x"}')
