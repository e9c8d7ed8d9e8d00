"""Flat Windows field names from the pyevtx-rs JSON form: System, EventData, UserData, RenderingInfo."""

from __future__ import annotations

from typing import Any

from watchpost.readers.winevent import flatten_windows_event, integer_or_text, make_system_integers

A, T = "#attributes", "#text"


def system(**extra: Any) -> dict[str, Any]:
    return {
        "Provider": {A: {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{5484}"}},
        "EventID": 4688,
        "TimeCreated": {A: {"SystemTime": "2023-01-01T00:00:00.5Z"}},
        "EventRecordID": 77,
        "Correlation": None,
        "Execution": {A: {"ProcessID": 4, "ThreadID": 8}},
        "Channel": "Security",
        "Computer": "host1",
        "Security": {A: {"UserID": "S-1-5-18"}},
        **extra,
    }


def test_system_children_and_attributes() -> None:
    fields, time = flatten_windows_event({"System": system()})
    assert time == "2023-01-01T00:00:00.5Z"
    assert fields == {
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Provider_Guid": "{5484}",
        "EventID": 4688,
        "EventRecordID": 77,
        "Execution_ProcessID": 4,
        "Execution_ThreadID": 8,
        "Channel": "Security",
        "Computer": "host1",
        "Security_UserID": "S-1-5-18",
    }


def test_event_id_object_with_qualifiers_and_text_event_id() -> None:
    fields, _ = flatten_windows_event({"System": system(EventID={A: {"Qualifiers": 16384}, T: 7036})})
    assert (fields["EventID"], fields["EventID_Qualifiers"]) == (7036, 16384)
    fields, _ = flatten_windows_event({"System": system(EventID="4624")})
    assert fields["EventID"] == 4624


def test_unusual_system_elements_are_flattened_too() -> None:
    fields, time = flatten_windows_event(
        {"System": system(Extra={A: {"Kind": "k"}, T: "v"}, Empty=None, Many=[{T: "a"}, "b"])}
    )
    assert (fields["Extra"], fields["Extra_Kind"], fields["Many"]) == ("v", "k", ["a", "b"])
    assert "Empty" not in fields and "Correlation" not in fields
    assert fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert time == "2023-01-01T00:00:00.5Z"


def test_missing_time_created_gives_no_time() -> None:
    sys_without_time = system()
    del sys_without_time["TimeCreated"]
    assert flatten_windows_event({"System": sys_without_time})[1] is None


def test_event_data_named_members_nulls_text_objects_and_lists() -> None:
    data = {
        A: {"xmlns": "ignored"},
        "CommandLine": "net  use",
        "Path": None,
        "Hashes": {T: "SHA1=AB"},
        "Values": [{T: "x"}, "y"],
        "Binary": None,
    }
    fields, _ = flatten_windows_event({"System": system(), "EventData": data})
    assert fields["CommandLine"] == "net  use"
    assert "Path" in fields and fields["Path"] is None
    assert fields["Hashes"] == "SHA1=AB"
    assert fields["Values"] == ["x", "y"]
    assert "xmlns" not in fields and A not in fields


def test_unnamed_data_is_a_string_when_single_and_a_list_when_several() -> None:
    one, _ = flatten_windows_event({"EventData": {"Data": "only"}})
    several, _ = flatten_windows_event({"EventData": {"Data": {T: ["a", "", "c"]}}})
    assert one["Data"] == "only"
    assert several["Data"] == ["a", "", "c"]


def test_event_data_name_clashing_with_system_is_kept_under_a_prefix() -> None:
    fields, _ = flatten_windows_event({"System": system(), "EventData": {"Channel": "Application", "X": "1"}})
    assert fields["Channel"] == "Security"
    assert fields["EventData.Channel"] == "Application"
    assert fields["X"] == "1"


def test_nested_event_data_members_get_dotted_names() -> None:
    fields, _ = flatten_windows_event({"EventData": {"Outer": {"Inner": "v", "Other": {T: "w"}}}})
    assert fields == {"Outer.Inner": "v", "Outer.Other": "w"}


def test_user_data_members_nested_paths_leaf_aliases_and_clashes() -> None:
    user_data = {
        "RuleAndFileData": {
            A: {"xmlns": "http://schemas.microsoft.com/x"},
            "PolicyName": "EXE",
            "Channel": "cleared-log",
            "Target": {"Path": "C:\\a.exe", "Hash": {A: {"Kind": "SHA256"}, T: "AB12"}},
            "Source": {"Path": "C:\\b.exe"},
            "Param": ["p1", "p2"],
        }
    }
    fields, _ = flatten_windows_event({"System": system(), "UserData": user_data})
    assert fields["PolicyName"] == "EXE"
    assert fields["Channel"] == "Security" and fields["UserData.Channel"] == "cleared-log"
    assert fields["Target.Path"] == "C:\\a.exe" and fields["Source.Path"] == "C:\\b.exe"
    assert "Path" not in fields  # two leaves named Path: ambiguous, only dotted names
    assert fields["Target.Hash"] == "AB12" and fields["Hash"] == "AB12"
    assert fields["Target.Hash_Kind"] == "SHA256" and fields["Hash_Kind"] == "SHA256"
    assert fields["Param"] == ["p1", "p2"]
    assert not any("xmlns" in name for name in fields)


def test_user_data_child_with_text_only() -> None:
    fields, _ = flatten_windows_event({"UserData": {"Note": "hello"}})
    assert fields == {"Note": "hello"}


def test_rendering_info_message_is_kept_as_message() -> None:
    fields, _ = flatten_windows_event({"RenderingInfo": {"Message": "A process was created."}})
    assert fields == {"Message": "A process was created."}


def test_system_numbers_from_text() -> None:
    fields: dict[str, Any] = {"EventID": "4688", "Level": " 4 ", "Keywords": "0x80", "Computer": "1234"}
    make_system_integers(fields)
    assert fields == {"EventID": 4688, "Level": 4, "Keywords": "0x80", "Computer": "1234"}
    assert integer_or_text("٣") == "٣"  # non-ASCII digits stay text
