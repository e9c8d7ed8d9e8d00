"""The ``expand`` modifier: placeholder values from a user file, substituted with pySigma.

A Sigma value written ``field|expand: '%Workstations%'`` holds a placeholder that the user defines.
The placeholder file is YAML, one entry per placeholder, each a list of values (or one value)::

    Workstations:
      - 'WKS-*'
      - 'LAPTOP-*'
    known_cdcs: [dc01.example.org, 10.0.0.5]

Values are Sigma strings: ``*`` and ``?`` are wildcards, ``\\`` escapes them (as in rule files).
`resolve_placeholders` replaces every defined placeholder through pySigma's
``ValueListPlaceholderTransformation`` (the values are OR-ed, like a value list in the rule), so the
matcher compiler sees plain values. Placeholders the file does not define stay in the rule; the
compiler then rejects the rule with a CompileError naming the placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import yaml
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.processing.transformations.base import ValueTransformation
from sigma.rule import SigmaRule
from sigma.types import Placeholder, SigmaString, SigmaType


class PlaceholderFileError(ValueError):
    """A placeholder file that cannot be used; the message names the file and the reason."""


def load_placeholders(path: Path) -> dict[str, list[str]]:
    """Read a placeholder file: ``name: [values]`` (a single value is allowed as well).

    Names may be written with or without the surrounding ``%``. Values must be strings or numbers
    and a list must not be empty (an empty list would silently drop the condition it belongs to).
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as error:  # ValueError: a number of
        # more than 4,300 digits, a date that cannot be (PyYAML raises it out of the loader)
        raise PlaceholderFileError(f"{path}: cannot read placeholder file: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise PlaceholderFileError(f"{path}: expected a mapping of placeholder names to value lists")
    placeholders: dict[str, list[str]] = {}
    for key, raw in document.items():
        name = str(key).strip("%")
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise PlaceholderFileError(f"{path}: placeholder {name!r} has no values")
        values: list[str] = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise PlaceholderFileError(
                    f"{path}: placeholder {name!r} has a value that is not a string or number: {item!r}"
                )
            values.append(str(item))
        placeholders[name] = values
    return placeholders


def resolve_placeholders(rule: SigmaRule, values: Mapping[str, Sequence[str]]) -> SigmaRule:
    """Replace the placeholders of ``rule`` that ``values`` defines; returns the same, changed rule.

    Like any pySigma processing pipeline this changes ``rule`` in place. Names with no values are
    left unresolved.
    """
    defined = {name: list(items) for name, items in values.items() if items}
    if not defined:
        return rule
    transformation = ValueListPlaceholderTransformation(include=sorted(defined))
    pipeline = ProcessingPipeline(
        name="watchpost placeholders",
        items=[ProcessingItem(transformation, identifier="watchpost_placeholders")],
        vars=defined,
    )
    pipeline.apply(rule)
    return rule


@dataclass(frozen=True)
class UndefinedPlaceholder(SigmaType):
    """A value that named a placeholder nobody defined: it matches nothing (an empty value list)."""

    names: tuple[str, ...]
    text: str


@dataclass
class _MarkUndefined(ValueTransformation):
    found: set[str] = dc_field(default_factory=set)

    # pySigma reads the annotation of ``val`` to choose the values it passes: SigmaString only.
    def apply_value(self, field: str | None, val: SigmaString) -> SigmaType | None:  # type: ignore[override]
        names = tuple(part.name for part in val.s if isinstance(part, Placeholder))
        if not names:
            return None
        self.found.update(names)
        return UndefinedPlaceholder(names, str(val))


def mark_undefined_placeholders(rule: SigmaRule) -> list[str]:
    """Turn values with placeholders that stayed unresolved into `UndefinedPlaceholder`s.

    An undefined placeholder is read as an empty value list: the value matches nothing. For the
    usual use, an exclusion list such as ``filter_known: {Host|expand: '%known_hosts%'}`` under
    ``not``, the rule then runs without exclusions (more alerts, none lost); a selection made only
    of undefined placeholders never matches. Returns the names found (sorted), so the caller can
    tell the user; changes ``rule`` in place.
    """
    transformation = _MarkUndefined()
    pipeline = ProcessingPipeline(
        name="watchpost undefined placeholders",
        items=[ProcessingItem(transformation, identifier="watchpost_undefined_placeholders")],
    )
    pipeline.apply(rule)
    return sorted(transformation.found)
