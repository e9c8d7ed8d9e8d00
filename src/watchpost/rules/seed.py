"""The seed dialect: Sigma-style rules listing several events with a ``timeframe``.

The seed note's rules (docs/seed-dialect.md) list selections of *different* Windows Security
events (4688 process created, 4703 token rights adjusted, 4689 process exited) with
``timeframe: last 5s`` and ``condition: all of them``, meaning: all these events, for the same
process, within the window. Read literally they never match (no event is a 4688 and a 4689),
and pySigma takes the ``timeframe`` line for a keyword search. `translate_seed_document` is a
loader translator that rewrites such a document, before pySigma sees it, into:

- one base Sigma rule per selection (own stable id and name, the logsource kept, the seed's
  display field names mapped to the real ones), not output on its own;
- one Sigma correlation (``temporal_ordered``) over them, keeping the original title, id,
  level, tags, author..., grouped by ``Computer`` and ``ProcessKey``: the process id, read from
  ``NewProcessId`` in a 4688 and ``ProcessId`` elsewhere (group keys from process-id fields are
  normalised to integers: ``0x2bc`` = ``700``); a child process (a 4688 whose creator is
  another selection's process) gets its own inner correlation, linked to its parent's through
  the creator ``ProcessId`` of its 4688.

A document whose selections cannot be tied to one process tree is correlated by ``Computer``
only (``temporal``). ``1 of ...``/``or`` conditions need no correlation: the document is kept as
one rule without its ``timeframe``. Other documents pass through unchanged.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_NAMESPACE = uuid.UUID("0b8f5a52-3f55-5d55-9d3e-3c4f7a1d2c10")

SEED_FIELDS = {
    "newprocessname": "NewProcessName",
    "creatorprocessname": "ParentProcessName",
    "processcommandline": "CommandLine",
    "processname": "ProcessName",
    "enabledprivileges": "EnabledPrivilegeList",
}
"""The seed's display names (Event Viewer's labels, matched case-insensitively) -> event fields."""

META_KEYS = (
    "title",
    "id",
    "name",
    "status",
    "description",
    "references",
    "author",
    "date",
    "modified",
    "tags",
    "falsepositives",
    "level",
)
GROUP_BY = ["Computer", "ProcessKey"]
PROCESS_KEY = "ProcessKey"

_TIMEFRAME = re.compile(
    r"(?:last\s+)?(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TECHNIQUE = re.compile(r"[Tt]\d{4}(?:\.\d{3})?")


class SeedDialectError(ValueError):
    """A seed-dialect document that cannot be translated; the message says why."""


@dataclass
class Selection:
    """One selection of a seed document and its place in a process's life."""

    name: str
    body: Any
    position: int
    role: str | None = None  # "create" | "exit" | "other" | None (not tied to a process)
    image: str | None = None
    creator: str | None = None


@dataclass
class Instance:
    """The selections about one process (by image name)."""

    image: str
    create: Selection | None = None
    members: list[Selection] = field(default_factory=list)
    children: list[Instance] = field(default_factory=list)
    parent: str | None = None


def is_seed_document(document: Any) -> bool:
    """A Sigma-style detection document that carries a ``timeframe``."""
    if not isinstance(document, dict) or "correlation" in document:
        return False
    detection = document.get("detection")
    if not isinstance(detection, dict):
        return False
    return "timeframe" in detection or "timeframe" in document


def translate_seed_document(document: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Loader translator: the documents that replace ``document`` (itself when not seed dialect)."""
    if not is_seed_document(document):
        return [document]
    detection = dict(document["detection"])
    frame = detection.pop("timeframe", document.get("timeframe"))
    timespan = parse_timeframe(frame)
    condition = detection.pop("condition", None)
    if isinstance(condition, list) and len(condition) == 1:
        condition = condition[0]
    if not isinstance(condition, str):
        raise SeedDialectError(f"a seed-dialect rule needs one condition string, not {condition!r}")
    selections = {
        name: map_fields(body) for name, body in detection.items() if isinstance(name, str) and name.strip()
    }
    chosen = conjunction(condition, list(selections))
    base = {key: value for key, value in document.items() if key not in ("timeframe", "detection")}
    base = clean_meta(base)
    if chosen is None or len(chosen) == 1:
        names = chosen or list(selections)
        kept = {name: selections[name] for name in names}
        only = chosen[0] if chosen else condition
        return [{**base, "detection": {**kept, "condition": only}}]
    return SeedTranslation(base, selections, chosen, timespan).documents()


def parse_timeframe(value: Any) -> str:
    """``last 5s``, ``5s``, ``1m``, ``last 1h``, ``5 seconds`` -> a Sigma timespan (``5s``)."""
    match = _TIMEFRAME.fullmatch(str(value).strip()) if value is not None else None
    if match is None:
        raise SeedDialectError(f"timeframe {value!r} is not understood (expected e.g. 'last 5s', '1m')")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
    if seconds <= 0:
        raise SeedDialectError(f"timeframe {value!r} must be positive")
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def map_fields(body: Any) -> Any:
    """A selection with the seed's display field names replaced by the event field names."""
    if isinstance(body, dict):
        return {map_field_name(str(key)): value for key, value in body.items()}
    if isinstance(body, list):
        return [map_fields(item) for item in body]
    return body


def map_field_name(name: str) -> str:
    head, bar, modifiers = name.partition("|")
    return SEED_FIELDS.get(head.strip().lower(), head.strip()) + bar + modifiers


def conjunction(condition: str, names: list[str]) -> list[str] | None:
    """The selections a condition requires together; None when any one of them is enough."""
    text = " ".join(condition.split())
    lowered = text.lower()
    visible = [name for name in names if not name.startswith("_")]
    quantified = re.fullmatch(r"(all|1|any) of (\S+)", lowered)
    if quantified:
        pattern = text.split(" ")[-1]
        found = (
            visible if pattern.lower() == "them" else [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        )
        if not found:
            raise SeedDialectError(f"condition {condition!r} names no selection")
        return found if quantified.group(1) == "all" else None
    for joiner, together in ((" and ", True), (" or ", False)):
        parts = [part.strip() for part in re.split(joiner, text, flags=re.IGNORECASE)]
        if len(parts) > 1 or (together and len(parts) == 1 and parts[0] in names):
            unknown = [part for part in parts if part not in names]
            if unknown:
                raise SeedDialectError(f"condition {condition!r}: {unknown[0]!r} is not a selection")
            return parts if together else None
    raise SeedDialectError(
        f"condition {condition!r} is not supported in the seed dialect "
        "(use 'all of them', 'all of x*', '1 of x*', 'a and b', 'a or b')"
    )


def clean_meta(document: dict[str, Any]) -> dict[str, Any]:
    """Drop empty attributes; bare ATT&CK ids in ``tags`` become ``attack.tNNNN``."""
    cleaned = {key: value for key, value in document.items() if value is not None}
    tags = cleaned.get("tags")
    if tags is not None:
        listed = tags if isinstance(tags, list) else [tags]
        cleaned["tags"] = [tag_of(str(tag)) for tag in listed]
    return cleaned


def tag_of(tag: str) -> str:
    text = tag.strip()
    if _TECHNIQUE.fullmatch(text):
        return "attack." + text.lower()
    return text if "." in text else "seed." + text.lower()


class SeedTranslation:
    """Base rules and correlations for one seed document whose selections must all occur."""

    def __init__(
        self, base: dict[str, Any], selections: dict[str, Any], chosen: list[str], timespan: str
    ) -> None:
        self.meta = base
        self.timespan = timespan
        self.selections = [Selection(name, selections[name], i) for i, name in enumerate(chosen)]
        identity = json.dumps(
            {name: selections[name] for name in chosen}, sort_keys=True, ensure_ascii=False, default=str
        )
        self.key = str(base["id"]) if base.get("id") else f"{base.get('title')}\n{identity}\n{timespan}"
        self.id = str(base["id"]) if base.get("id") else str(uuid.uuid5(SEED_NAMESPACE, self.key))
        self.prefix = "seed_" + re.sub(r"[^0-9a-z]", "", self.id.lower())[:8]
        self.extra: list[dict[str, Any]] = []

    def documents(self) -> list[dict[str, Any]]:
        bases = [self.base_rule(selection) for selection in self.selections]
        for selection in self.selections:
            classify(selection)
        root = process_tree(self.selections)
        if root is None:
            correlation = self.by_host()
        else:
            elements = self.elements(root)
            correlation = self.correlation(self.meta, self.id, elements)
        return [*bases, *self.extra, correlation]

    def name_of(self, part: str) -> str:
        return f"{self.prefix}_{re.sub(r'[^0-9A-Za-z_]', '_', part)}"

    def base_rule(self, selection: Selection) -> dict[str, Any]:
        meta = self.meta
        rule: dict[str, Any] = {
            "title": f"{meta.get('title', 'seed rule')} [{selection.name}]",
            "id": str(uuid.uuid5(SEED_NAMESPACE, f"{self.key}\nselection\n{selection.name}")),
            "name": self.name_of(selection.name),
        }
        for key in ("status", "author", "tags", "level"):
            if key in meta:
                rule[key] = meta[key]
        rule["description"] = f"Selection '{selection.name}' of the seed-dialect rule '{meta.get('title')}'."
        if "logsource" in meta:
            rule["logsource"] = meta["logsource"]
        rule["detection"] = {selection.name: selection.body, "condition": selection.name}
        return rule

    def elements(self, instance: Instance) -> list[tuple[str, str]]:
        """(rule name, field holding this instance's process id) in life order."""
        middle: list[tuple[int, str, str]] = []
        for member in instance.members:
            if member.role != "exit":
                middle.append((member.position, self.name_of(member.name), "ProcessId"))
        for child in instance.children:
            assert child.create is not None
            middle.append((child.create.position, self.child_reference(child), "ProcessId"))
        middle.sort()
        elements = []
        if instance.create is not None:
            elements.append((self.name_of(instance.create.name), "NewProcessId"))
        elements.extend((name, source) for _, name, source in middle)
        elements.extend(
            (self.name_of(member.name), "ProcessId") for member in instance.members if member.role == "exit"
        )
        return elements

    def child_reference(self, child: Instance) -> str:
        """The rule standing for a child process in its parent's correlation."""
        elements = self.elements(child)
        assert child.create is not None
        if len(elements) == 1:
            return self.name_of(child.create.name)
        stem = re.sub(r"\.exe$", "", child.image)
        rule_id = str(uuid.uuid5(SEED_NAMESPACE, f"{self.key}\ninstance\n{child.image}"))
        meta = {
            "title": f"{self.meta.get('title', 'seed rule')} [{child.image} process]",
            "name": self.name_of(stem),
        }
        self.extra.append(self.correlation(meta, rule_id, elements))
        return self.name_of(stem)

    def correlation(
        self, meta: dict[str, Any], rule_id: str, elements: list[tuple[str, str]]
    ) -> dict[str, Any]:
        document = {key: meta[key] for key in META_KEYS if key in meta}
        document["id"] = rule_id
        document["correlation"] = {
            "type": "temporal_ordered",
            "rules": [name for name, _ in elements],
            "group-by": list(GROUP_BY),
            "timespan": self.timespan,
            "aliases": {PROCESS_KEY: {name: source for name, source in elements}},
        }
        return document

    def by_host(self) -> dict[str, Any]:
        document = {key: self.meta[key] for key in META_KEYS if key in self.meta}
        document["id"] = self.id
        document["correlation"] = {
            "type": "temporal",
            "rules": [self.name_of(selection.name) for selection in self.selections],
            "group-by": ["Computer"],
            "timespan": self.timespan,
        }
        return document


def classify(selection: Selection) -> None:
    """Set the selection's role in a process's life and the image names it refers to."""
    body = selection.body
    if not isinstance(body, dict):
        return
    event_id = plain_value(body, "EventID")
    if event_id == "4688":
        selection.role = "create"
        selection.image = image_of(body, "NewProcessName")
        selection.creator = image_of(body, "ParentProcessName")
    elif event_id is not None:
        selection.image = image_of(body, "ProcessName")
        if selection.image is not None:
            selection.role = "exit" if event_id == "4689" else "other"


def plain_value(body: dict[str, Any], name: str) -> str | None:
    for key, value in body.items():
        if str(key).split("|")[0] == name and isinstance(value, int | str) and not isinstance(value, bool):
            return str(value).strip()
    return None


def image_of(body: dict[str, Any], name: str) -> str | None:
    """The lower-cased file name of the image a selection names (``net.exe``)."""
    value = plain_value(body, name)
    if not value:
        return None
    return value.replace("/", "\\").rsplit("\\", 1)[-1].strip("*").lower() or None


def process_tree(selections: list[Selection]) -> Instance | None:
    """The single process tree the selections describe; None when they do not form one."""
    instances: dict[str, Instance] = {}
    for selection in selections:
        if selection.role is None or selection.image is None:
            return None
        instance = instances.setdefault(selection.image, Instance(selection.image))
        if selection.role == "create":
            if instance.create is not None:
                return None
            instance.create = selection
        else:
            instance.members.append(selection)
    for instance in instances.values():
        creator = instance.create.creator if instance.create is not None else None
        if creator is not None and creator in instances and creator != instance.image:
            instance.parent = creator
            instances[creator].children.append(instance)
    roots = [instance for instance in instances.values() if instance.parent is None]
    if len(roots) != 1 or has_cycle(roots[0], len(instances)):
        return None
    return roots[0]


def has_cycle(root: Instance, total: int) -> bool:
    """True when the tree under ``root`` does not reach every instance exactly once."""
    seen: set[str] = set()
    stack = [root]
    while stack:
        instance = stack.pop()
        if instance.image in seen:
            return True
        seen.add(instance.image)
        stack.extend(instance.children)
    return len(seen) != total
