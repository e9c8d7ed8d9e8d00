"""Process identity for correlations over process creations (``x-watchpost-processes``).

A correlation that counts programs started on a host (the pack's discovery bursts) sees each
process through every log that records it: a Security 4688 and a Sysmon 1 of one process carry
the same process id, written ``0x1558`` in one and ``5464`` in the other. Within one window the
``value_count`` already counts the program once; but once a window has fired its entries are used
up, and the later copies of the same processes (a shipper may deliver the Sysmon copy seconds
after the 4688) would complete a second window. Benign collectors (a network diagnostics script,
a cloud guest agent) start the same programs through ``cmd.exe /c``, where the program's own
event no longer names the collector.

The rule attribute (docs/correlation.md, "Process identity"):

.. code-block:: yaml

    x-watchpost-processes:
      host: Computer                   # optional: the field naming the host, in every rule
      process:                         # per rule (name or id): the field holding the process id
        rule_a: NewProcessId
        rule_b: ProcessId
      parent:                          # per rule: the field holding the parent's process id
        rule_a: ProcessId
        rule_b: ParentProcessId
      collectors: [rule_c]             # matches of these start a benign collector process
      relays: [rule_d]                 # matches of these continue a collector's lineage

- **counted once**: a referenced rule's match whose process (host, process id, measured value)
  was behind an alert of the correlation within the last timespan is not correlated again;
- **collector lineage**: a collector match marks its process; a relay match whose parent is
  marked marks its own process; a referenced rule's match whose parent is marked is not
  correlated. Marks last one timespan after the newest activity of the lineage.

`ProcessSpec` is immutable (part of the `CorrelationSpec`); `ProcessTable` is the run-time
state, owned by the engine, bounded by ``MAX_PROCESSES`` per correlation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from watchpost.correlation.keys import Key, field_value, normalise_key, scalars
from watchpost.events import Event

ATTRIBUTE = "x-watchpost-processes"
MAX_PROCESSES = 50_000
"""Processes remembered per correlation at most (each table; the oldest go first)."""

ProcessKey = tuple[Key | None, int, Key | None]
LineageKey = tuple[Key | None, int]


class ProcessSpecError(ValueError):
    """An ``x-watchpost-processes`` attribute that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """The compiled attribute: fields by rule id."""

    host: str | None
    process: Mapping[str, str]
    parent: Mapping[str, str]
    collectors: frozenset[str]
    relays: frozenset[str]

    @property
    def marker_rules(self) -> frozenset[str]:
        """Rules whose matches the correlation consumes besides its referenced rules."""
        return self.collectors | self.relays


def compile_process_spec(
    raw: Any, names: Mapping[str, str], referenced: Iterable[str]
) -> ProcessSpec | None:
    """The `ProcessSpec` of an attribute value (None when absent); rules by name or id."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ProcessSpecError(f"{ATTRIBUTE} must be a mapping")

    def rule_id(reference: object) -> str:
        found = names.get(str(reference))
        if found is None:
            raise ProcessSpecError(f"{ATTRIBUTE} names rule {reference!r}, which is not loaded")
        return found

    def fields(key: str) -> dict[str, str]:
        given = raw.get(key) or {}
        if not isinstance(given, Mapping):
            raise ProcessSpecError(f"{ATTRIBUTE}.{key} must map rule names to field names")
        return {rule_id(ref): str(field) for ref, field in given.items()}

    def rules(key: str) -> frozenset[str]:
        given = raw.get(key) or []
        if not isinstance(given, list):
            raise ProcessSpecError(f"{ATTRIBUTE}.{key} must be a list of rule names")
        return frozenset(rule_id(ref) for ref in given)

    process, parent = fields("process"), fields("parent")
    collectors, relays = rules("collectors"), rules("relays")
    referenced_ids = set(referenced)
    if collectors & referenced_ids or relays & referenced_ids:
        raise ProcessSpecError(f"{ATTRIBUTE}: a collector or relay rule is also a counted rule")
    for marker in collectors | relays:
        if marker not in process:
            raise ProcessSpecError(f"{ATTRIBUTE}: collector/relay rule {marker} has no process field")
    for marker in relays:
        if marker not in parent:
            raise ProcessSpecError(f"{ATTRIBUTE}: relay rule {marker} has no parent field")
    host = raw.get("host")
    return ProcessSpec(str(host) if host else None, process, parent, collectors, relays)


def pid_of(event: Event, field: str | None) -> int | None:
    if field is None:
        return None
    for scalar in scalars(field_value(event.fields, field)):
        key = normalise_key("ProcessId", scalar)
        if isinstance(key, int):
            return key
    return None


class ProcessTable:
    """Run-time state of one correlation's ``x-watchpost-processes``."""

    def __init__(self, spec: ProcessSpec, timespan_us: int, value_fields: Mapping[str, str]) -> None:
        self.spec = spec
        self.timespan_us = timespan_us
        self.value_fields = dict(value_fields)
        """The measured field per counted rule: part of a process's identity (a reused id
        running another program is another process)."""
        self.alerted: OrderedDict[ProcessKey, int] = OrderedDict()
        self.lineage: OrderedDict[LineageKey, int] = OrderedDict()
        self.skipped_alerted = 0
        self.skipped_lineage = 0

    def host_of(self, event: Event) -> Key | None:
        if self.spec.host is None:
            return None
        for scalar in scalars(field_value(event.fields, self.spec.host)):
            return normalise_key(self.spec.host, scalar)
        return None

    def _fresh(self, table: OrderedDict[Any, int], key: Any, ts: int) -> bool:
        seen = table.get(key)
        return seen is not None and ts - seen <= self.timespan_us

    @staticmethod
    def _remember(table: OrderedDict[Any, int], key: Any, ts: int) -> None:
        table[key] = max(ts, table.get(key, ts))
        table.move_to_end(key)
        while len(table) > MAX_PROCESSES:
            table.popitem(last=False)

    def observe_marker(self, rule_id: str, event: Event, ts: int) -> None:
        """A collector or relay match: mark its process when it starts or continues a lineage."""
        spec = self.spec
        pid = pid_of(event, spec.process.get(rule_id))
        if pid is None:
            return
        host = self.host_of(event)
        if rule_id not in spec.collectors:
            parent = pid_of(event, spec.parent.get(rule_id))
            if parent is None or not self._fresh(self.lineage, (host, parent), ts):
                return
            self._remember(self.lineage, (host, parent), ts)
        self._remember(self.lineage, (host, pid), ts)

    def value_of(self, rule_id: str, event: Event) -> Key | None:
        field = self.value_fields.get(rule_id)
        if field is None:
            return None
        for scalar in scalars(field_value(event.fields, field)):
            return normalise_key(field, scalar)
        return None

    def admits(self, rule_id: str, event: Event, ts: int) -> bool:
        """False: this match of a counted rule is a collector's descendant, or its process was
        already behind an alert of the correlation."""
        spec = self.spec
        host = self.host_of(event)
        parent = pid_of(event, spec.parent.get(rule_id))
        if parent is not None and self._fresh(self.lineage, (host, parent), ts):
            self._remember(self.lineage, (host, parent), ts)
            self.skipped_lineage += 1
            return False
        pid = pid_of(event, spec.process.get(rule_id))
        if pid is not None and self._fresh(self.alerted, (host, pid, self.value_of(rule_id, event)), ts):
            self.skipped_alerted += 1
            return False
        return True

    def alerted_on(self, events: Iterable[tuple[Event, str]], ts: int) -> None:
        """The events behind an alert (each with its detection rule): their processes are used."""
        for event, rule_id in events:
            pid = pid_of(event, self.spec.process.get(rule_id))
            if pid is not None:
                key = (self.host_of(event), pid, self.value_of(rule_id, event))
                self._remember(self.alerted, key, ts)
