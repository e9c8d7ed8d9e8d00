"""Flat fields of a Windows event, shared by the EVTX, Windows XML and JSON readers.

The input is an ``Event`` element in the JSON form pyevtx-rs renders (``evtx_dump -o json``):
elements are dicts, attributes sit under ``"#attributes"``, an element that has attributes (or
children) and text keeps the text under ``"#text"``. The Windows XML reader builds the same form,
so every Windows reader names fields the same way:

``System``
    Each child under its own name (``EventID``, ``Channel``, ``Computer``, ``Level``, ``Task``,
    ``Opcode``, ``Keywords``, ``Version``, ``EventRecordID``); each attribute as
    ``<Element>_<Attribute>`` (``Provider_Name``, ``Provider_Guid``, ``Provider_EventSourceName``,
    ``Execution_ProcessID``, ``Execution_ThreadID``, ``Security_UserID``, ``Correlation_ActivityID``,
    ``EventID_Qualifiers``). ``TimeCreated`` is not a field: it is the event's timestamp.
    ``EventID`` is an int whenever it is numeric.
``EventData``
    Each named ``<Data Name="X">`` under ``X``. Unnamed ``<Data>`` values go to ``Data``: a string
    when there is one, a list when there are several. ``Binary`` stays ``Binary``. A member whose
    name is already taken by a ``System`` field is kept as ``EventData.<name>``. Null values stay
    None; a value with nested elements is flattened with dotted names under its member name.
    A member whose name holds spaces (Windows Defender writes ``Threat Name``, ``Source Name``) is
    also set under the name without spaces (``ThreatName``), as SigmaHQ's rules spell them, unless
    that name is taken.
``UserData``
    The members of its child element (``<LogFileCleared>``...) under their own names. Deeper
    elements get dotted paths relative to that child (``Param.Name``); their leaf name (``Name``)
    is also set when exactly one leaf in the ``UserData`` has it and no other field uses it.
    Attributes of nested elements are ``<path>_<Attribute>``; ``xmlns`` attributes are dropped.
    Repeated elements with the same path become a list. A member whose name is already taken is
    kept as ``UserData.<path>``; so is a member named like a ``System`` field (``Channel``,
    ``Computer``...) even when the System block lacks it: ``Channel`` is always the log the event
    is in, and the 104 "log cleared" event's ``LogFileCleared/Channel`` (the log that was cleared)
    is ``UserData.Channel``, which the Windows ``service: system`` pipeline gives the rules'
    detections as ``Channel`` (rules/pipelines/windows_services.py; docs/rule-pack.md).
``RenderingInfo``
    Only its ``Message`` is kept, as ``Message``.
"""

from __future__ import annotations

from typing import Any

from watchpost.events import FieldValue

ATTRIBUTES = "#attributes"
TEXT = "#text"

SYSTEM_INTEGER_FIELDS = (
    "EventID",
    "EventID_Qualifiers",
    "Version",
    "Level",
    "Task",
    "Opcode",
    "EventRecordID",
    "Execution_ProcessID",
    "Execution_ThreadID",
)
"""System fields that are numbers; readers of text formats turn them into ints when numeric."""

Fields = dict[str, FieldValue]

SYSTEM_FIELD_NAMES = frozenset(
    {"Channel", "Computer", "EventID", "Level", "Task", "Opcode", "Keywords", "Version", "EventRecordID",
     "Provider_Name", "Provider_Guid", "Execution_ProcessID", "Execution_ThreadID", "Security_UserID"}
)
"""System field names a ``UserData`` member never takes (it becomes ``UserData.<name>``)."""


def flatten_windows_event(event: dict[str, Any]) -> tuple[Fields, str | None]:
    """The flat fields of ``event`` (the dict under ``"Event"``) and its ``SystemTime`` text.

    The time is None when the event has no ``System/TimeCreated/@SystemTime``.
    """
    fields: Fields = {}
    system_time: str | None = None
    system = event.get("System")
    if system.__class__ is dict:
        system_time = _flatten_system(system, fields)
    event_data = event.get("EventData")
    if event_data is not None:
        _flatten_event_data(event_data, fields)
        if event_data.__class__ is dict and any(" " in key for key in event_data):
            _add_spaceless_names(fields)
    user_data = event.get("UserData")
    if user_data is not None:
        _flatten_user_data(user_data, fields)
    rendering = event.get("RenderingInfo")
    if rendering.__class__ is dict:
        message = rendering.get("Message")
        if isinstance(message, str) and "Message" not in fields:
            fields["Message"] = message
    return fields, system_time


def integer_or_text(value: FieldValue) -> FieldValue:
    """``value`` as an int when it is a decimal string (``"4688"``), else unchanged."""
    if value.__class__ is str:
        text = value.strip()
        if text.isdigit() and text.isascii():
            return int(text)
    return value


def make_system_integers(fields: Fields) -> None:
    """Turn the numeric ``SYSTEM_INTEGER_FIELDS`` of ``fields`` from text into ints, in place."""
    for name in SYSTEM_INTEGER_FIELDS:
        value = fields.get(name)
        if value.__class__ is str:
            fields[name] = integer_or_text(value)


_CONTAINERS = frozenset({dict, list})
_ATTRIBUTES_ONLY = frozenset({ATTRIBUTES})
_SYSTEM_SCHEMA = frozenset(
    {
        "Provider", "EventID", "Version", "Level", "Task", "Opcode", "Keywords", "TimeCreated",
        "EventRecordID", "Correlation", "Execution", "Channel", "Computer", "Security",
    }
)


def _flatten_system(system: dict[str, Any], fields: Fields) -> str | None:
    """Put the ``System`` fields into (empty) ``fields``; return the ``SystemTime`` text."""
    if not system.keys() <= _SYSTEM_SCHEMA:
        return _flatten_unusual_system(system, fields)
    # The hot path: copy everything at C speed, then take apart the elements with attributes.
    fields.update(system)
    system_time = None
    time_created = fields.pop("TimeCreated", None)
    if time_created.__class__ is dict:
        attributes = time_created.get(ATTRIBUTES)
        if attributes.__class__ is dict:
            system_time = attributes.get("SystemTime")
    for key in ("Provider", "Execution", "Security", "Correlation"):
        element = fields.pop(key, None)
        if element is None:
            continue
        attributes = element.get(ATTRIBUTES) if element.__class__ is dict else None
        if attributes.__class__ is dict and len(element) == 1:
            names = _attribute_field_names(key)
            for name, attribute in attributes.items():
                field = names.get(name) or _attribute_field_name(names, key, name)
                fields[field] = attribute
        else:
            _put_element(fields, key, element)
    event_id = fields.get("EventID")
    if event_id.__class__ is not int and event_id is not None:
        if event_id.__class__ is dict:
            del fields["EventID"]
            _put_element(fields, "EventID", event_id)
        fields["EventID"] = integer_or_text(fields.get("EventID"))
    return system_time


_FIELD_NAMES: dict[str, dict[str, str]] = {}
_FIELD_NAMES_LIMIT = 256


def _attribute_field_names(element: str) -> dict[str, str]:
    """The cache of ``<element>_<attribute>`` names for ``element``.

    Reusing the same name strings (with their hashes computed) keeps the hot path fast.
    """
    names = _FIELD_NAMES.get(element)
    if names is None:
        names = {}
        if len(_FIELD_NAMES) < _FIELD_NAMES_LIMIT:  # element names come from the log: bounded
            _FIELD_NAMES[element] = names
    return names


def _attribute_field_name(names: dict[str, str], element: str, attribute: str) -> str:
    field = f"{element}_{attribute}"
    if len(names) < _FIELD_NAMES_LIMIT:
        names[attribute] = field
    return field


def _flatten_unusual_system(system: dict[str, Any], fields: Fields) -> str | None:
    """``_flatten_system`` for a ``System`` with elements outside the Windows schema."""
    system_time = None
    for key, value in system.items():
        if key == "TimeCreated":
            if value.__class__ is dict and value.get(ATTRIBUTES).__class__ is dict:
                system_time = value[ATTRIBUTES].get("SystemTime")
        elif value.__class__ is list:
            fields[key] = _plain_value(value)
        elif value is not None:
            _put_element(fields, key, value)
    event_id = fields.get("EventID")
    if event_id is not None:
        fields["EventID"] = integer_or_text(event_id)
    return system_time


def _put_element(fields: Fields, key: str, element: Any) -> None:
    """An element of ``System``: its text as ``key``, its attributes as ``key_attribute``."""
    if element.__class__ is not dict:
        fields[key] = element
        return
    attributes = element.get(ATTRIBUTES)
    if attributes.__class__ is dict:
        names = _attribute_field_names(key)
        for name, attribute in attributes.items():
            if attribute is not None:
                fields[names.get(name) or _attribute_field_name(names, key, name)] = attribute
    text = element.get(TEXT)
    if text is not None:
        fields[key] = text


def _flatten_event_data(data: Any, fields: Fields) -> None:
    if data.__class__ is not dict:
        _put_member(fields, "EventData", "EventData", _plain_value(data))
        return
    if (
        ATTRIBUTES not in data
        and _CONTAINERS.isdisjoint(map(type, data.values()))
        and fields.keys().isdisjoint(data)
    ):
        fields.update(data)  # the hot path: named scalar members only, no name clash
        return
    for key, value in data.items():
        if key == ATTRIBUTES:
            continue
        cls = value.__class__
        if cls is dict:
            if TEXT in value:
                value = value[TEXT]
            elif len(value) == 1 and ATTRIBUTES in value:
                value = None
            else:
                nested: list[tuple[str, FieldValue]] = []
                _collect_leaves(value, key, nested)
                for path, leaf in _merge_leaves(nested).items():
                    _put_member(fields, "EventData", path, leaf)
                continue
        elif cls is list:
            value = _plain_value(value)
        if key in fields:
            fields["EventData." + key] = value
        else:
            fields[key] = value


def _add_spaceless_names(fields: Fields) -> None:
    for key in [key for key in fields if " " in key]:
        fields.setdefault(key.replace(" ", ""), fields[key])


def _plain_value(value: Any) -> FieldValue:
    """A scalar or a list of scalars: ``#text`` of elements, None for attribute-only elements."""
    if value.__class__ is dict:
        return value.get(TEXT)
    if value.__class__ is list:
        return [_plain_value(item) for item in value]
    return value


def _put_member(fields: Fields, section: str, name: str, value: FieldValue) -> None:
    if name in fields:
        fields[f"{section}.{name}"] = value
    else:
        fields[name] = value


def _flatten_user_data(data: Any, fields: Fields) -> None:
    if data.__class__ is not dict:
        _put_member(fields, "UserData", "UserData", _plain_value(data))
        return
    leaves: list[tuple[str, FieldValue]] = []
    for child_name, child in data.items():
        if child_name == ATTRIBUTES:
            continue
        if child.__class__ is dict:
            _collect_leaves(child, "", leaves, own_name=child_name)
        elif child.__class__ is list:
            for item in child:
                _collect_leaves(item, "", leaves, own_name=child_name)
        else:
            leaves.append((child_name, child))
    merged = _merge_leaves(leaves)
    paths_by_leaf: dict[str, int] = {}
    for path in merged:
        leaf = path.rpartition(".")[2]
        paths_by_leaf[leaf] = paths_by_leaf.get(leaf, 0) + 1
    for path, value in merged.items():
        if path in SYSTEM_FIELD_NAMES:
            fields[f"UserData.{path}"] = value
        else:
            _put_member(fields, "UserData", path, value)
    for path, value in merged.items():
        leaf = path.rpartition(".")[2]
        if (leaf != path and paths_by_leaf[leaf] == 1 and leaf not in fields
                and leaf not in SYSTEM_FIELD_NAMES):
            fields[leaf] = value


def _merge_leaves(leaves: list[tuple[str, FieldValue]]) -> dict[str, FieldValue]:
    """Leaves by path; a path met several times (repeated elements) gets the list of values."""
    merged: dict[str, FieldValue] = {}
    repeated: set[str] = set()
    for path, value in leaves:
        if path not in merged:
            merged[path] = value
        elif path in repeated:
            merged[path].append(value)
        else:
            merged[path] = [merged[path], value]
            repeated.add(path)
    return merged


def _collect_leaves(
    element: Any, path: str, leaves: list[tuple[str, FieldValue]], own_name: str | None = None
) -> None:
    """Append ``(dotted path, value)`` for every leaf under ``element`` (at ``path``).

    ``own_name`` names the element's own text when ``path`` is empty (a ``UserData`` child).
    """
    if element.__class__ is list:
        for item in element:
            _collect_leaves(item, path, leaves, own_name)
        return
    if element.__class__ is not dict:
        leaves.append((path or own_name or "UserData", element))
        return
    prefix = f"{path}." if path else ""
    for key, value in element.items():
        if key == ATTRIBUTES:
            if value.__class__ is dict:
                for name, attribute in value.items():
                    if name != "xmlns" and not name.startswith("xmlns:"):
                        leaves.append((f"{path}_{name}" if path else name, attribute))
        elif key == TEXT:
            leaves.append((path or own_name or "UserData", _plain_value(value)))
        else:
            _collect_leaves(value, prefix + key, leaves)
