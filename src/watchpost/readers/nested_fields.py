"""Nested JSON records as flat event fields with dotted names (cloud logs, eslogger).

The scheme, chosen so that a Sigma value matches wherever SigmaHQ rules expect it:

- a scalar at ``a.b.c`` is the field ``a.b.c`` (JSON null stays None);
- an object at ``a.b`` is the field ``a.b`` holding its compact JSON text (``{"k":"v"}``), so
  rules that search a whole sub-document (``requestParameters|contains: 'Suspended'``) work, and
  its members continue the dotted path;
- a list at ``a.items`` is the field ``a.items`` holding the list of its elements: scalars as they
  are, objects and lists as compact JSON text; a value matches when any element matches;
- below a list, every dotted name collects the values of all elements into one list
  (``requestParameters.filterSet.items.name`` is the list of every filter's name), whatever the
  depth of nesting: positions are not kept (no ``items.0.name``).

Top-level keys keep their own names (``eventName``, ``eventSource``).
"""

from __future__ import annotations

from typing import Any

import orjson

from watchpost.events import FieldValue

Fields = dict[str, FieldValue]


def json_text(value: Any) -> str:
    """Compact JSON text of ``value`` (keys in their original order)."""
    return orjson.dumps(value).decode("utf-8")


def flatten_record(record: dict[str, Any], prefix: str = "", fields: Fields | None = None) -> Fields:
    """The flat fields of ``record``; names start with ``prefix`` (``"data."``) when given."""
    result: Fields = {} if fields is None else fields
    for key, value in record.items():
        _walk(result, f"{prefix}{key}", value, in_list=False)
    return result


def _element(value: Any) -> FieldValue:
    if isinstance(value, dict | list):
        return json_text(value)
    return value


def _put(fields: Fields, name: str, value: FieldValue, in_list: bool) -> None:
    if not in_list:
        fields[name] = value
        return
    current = fields.get(name)
    if isinstance(current, list):
        current.append(value)
    elif name in fields:
        fields[name] = [current, value]
    else:
        fields[name] = [value]


def _walk(fields: Fields, name: str, value: Any, in_list: bool) -> None:
    if isinstance(value, dict):
        _put(fields, name, json_text(value), in_list)
        for key, member in value.items():
            _walk(fields, f"{name}.{key}", member, in_list)
    elif isinstance(value, list):
        elements = [_element(item) for item in value]
        if in_list:
            for element in elements:
                _put(fields, name, element, True)
        else:
            fields[name] = elements
        for item in value:
            if isinstance(item, dict):
                for key, member in item.items():
                    _walk(fields, f"{name}.{key}", member, True)
    else:
        _put(fields, name, value, in_list)
