"""Saving and restoring the open state of a `CorrelationEngine` (its windows, groups, buffer),
incrementally.

What the engine holds is mostly `Occurrence`s (each with its events), and an occurrence never
changes once made. So a snapshot is two parts (docs/watch.md, "Crash safety"):

- each held occurrence, pickled **once**, when a snapshot first finds it, as a row of the state
  file's ``occurrences`` table (keyed by its ``seq``, unique in an engine), and deleted by the
  first snapshot that no longer finds it;
- the engine's mutable structure (reorder buffer, groups, windows, entries, counters, horizon)
  pickled whole, with every occurrence replaced by a reference to its row.

Once a row is written, the watch parks the occurrence (`CorrelationEngine.park`): the engine's
entries keep a `Parked` stand-in and the occurrence is read back from its row (`recall`) only
when a window with it fires or the reorder buffer releases it. A parked occurrence is saved as
a reference to its row like the others, and restored parked (its row is not read).

Both are written in the same checkpoint transaction, so the rows always match the snapshot.

What belongs to the running process rather than to the state is not saved: the compiled
`CorrelationSpec`s (saved by id, taken from the new engine's rules), each correlation state's
problem reporter (a closure over the engine: rebuilt) and the `ProblemLog` (the live one is
used). These are replaced through the pickler's ``dispatch_table`` (looked up by type in C), not
a ``persistent_id`` hook, which Python would call for every object pickled.

A snapshot belongs to a rule set: `rules_fingerprint` names it, and a snapshot made with other
correlations is not restored (the caller reports it and starts with empty windows).
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import pickle
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchpost.correlation import CorrelationEngine
from watchpost.correlation.measures import Entry
from watchpost.correlation.occurrence import Occurrence, Parked
from watchpost.correlation.spec import CorrelationSpec
from watchpost.correlation.state import GroupWindow
from watchpost.problems import ProblemLog

DROPPED, PARKED, HELD = 0, 1, 2
"""What saved groups say of each entry's occurrence: dropped (None), parked under the entry's
own seq (no object saved), or held (the next object of the group's ``held`` list)."""


def rules_fingerprint(specs: Sequence[CorrelationSpec]) -> bytes:
    """Identifies the correlations a snapshot belongs to (ids, types, timespans, conditions)."""
    digest = hashlib.sha256()
    for spec in sorted(specs, key=lambda s: s.id):
        digest.update(repr((spec.id, spec.type, spec.rules, spec.group_by, spec.sources, spec.timespan_us,
                            spec.condition, spec.value_field, spec.value_sources, spec.percentile)).encode())
    return digest.hexdigest().encode()


def saved_reference(kind: str, name: object) -> Any:
    """Stands for a spec, the problem log or an occurrence row in a pickled snapshot; only the
    unpickler of `restore_engine` resolves it."""
    raise pickle.UnpicklingError(f"a correlation snapshot reference ({kind}) outside restore_engine")


@dataclass
class EngineSnapshot:
    """One snapshot: the structure, the occurrence rows to add and the seqs of rows to delete."""

    structure: bytes
    added: list[tuple[int, bytes]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


class EngineSaver:
    """Makes incremental snapshots of one engine; ``stored`` are the seqs of the occurrence rows
    the state file holds (those of the last snapshot written)."""

    def __init__(self, stored: Iterable[int] = ()) -> None:
        self.stored: set[int] = set(stored)

    def save(self, engine: CorrelationEngine) -> EngineSnapshot:
        """The engine's state; call `written` once the snapshot is in the state file."""
        live: set[int] = set()
        added: list[tuple[int, bytes]] = []
        stored = self.stored

        def occurrence(occ: Occurrence) -> tuple[Callable[..., Any], tuple[str, int]]:
            seq = occ.seq
            if seq not in live:
                live.add(seq)
                if seq not in stored:
                    added.append((seq, pickle.dumps(occ, protocol=pickle.HIGHEST_PROTOCOL)))
            return saved_reference, ("occurrence", seq)

        def parked(held: Parked) -> tuple[Callable[..., Any], tuple[str, int]]:
            park(held.seq)
            return saved_reference, ("parked", held.seq)

        def park(seq: int) -> None:
            if seq not in stored:
                raise ValueError(f"occurrence {seq} is parked but has no row")
            live.add(seq)

        structure = _dump(engine, {Occurrence: occurrence, Parked: parked}, park)
        return EngineSnapshot(structure, added, sorted(stored - live))

    def written(self, snapshot: EngineSnapshot) -> None:
        self.stored.difference_update(snapshot.removed)
        self.stored.update(seq for seq, _ in snapshot.added)


def save_engine(engine: CorrelationEngine) -> bytes:
    """The engine's whole open state as one byte string (occurrences included; the engine must
    have parked none)."""
    return _dump(engine, {})


def load_occurrence(body: bytes) -> Occurrence:
    """The occurrence of one ``occurrences`` row (`EngineSaver`), for `CorrelationEngine.recall`."""
    occ = pickle.loads(body)
    if not isinstance(occ, Occurrence):
        raise pickle.UnpicklingError("an occurrence row does not hold an occurrence")
    return occ


def restore_engine(
    blob: bytes, specs: Sequence[CorrelationSpec], lateness: Any, max_groups: int, problems: ProblemLog,
    occurrences: Mapping[int, bytes] | None = None,
) -> CorrelationEngine:
    """An engine over ``specs`` with the state saved in ``blob`` (by `save_engine`, or by
    `EngineSaver.save` with its ``occurrences`` rows) over the same correlations. Raises what
    unpickling raises when ``blob`` is damaged or a row is missing. Occurrences that were parked
    come back parked (their rows are not read): call `CorrelationEngine.hold_outside` before
    they are needed."""
    fresh = CorrelationEngine(specs, lateness, max_groups, problems)
    restored = _EngineUnpickler(io.BytesIO(blob), fresh, occurrences or {}).load()
    if not isinstance(restored, CorrelationEngine):
        raise pickle.UnpicklingError("the saved state is not a correlation engine")
    restored.lateness_us = fresh.lateness_us
    for state in restored.states.values():
        state.max_groups = max_groups
        state.report = restored._reporter(state.spec)  # noqa: SLF001 - the engine's own reporter
    return restored


def _dump(engine: CorrelationEngine, reducers: dict[type, Callable[[Any], Any]],
          park: Callable[[int], None] | None = None) -> bytes:
    """Pickle ``engine`` with specs and problem log as references, each correlation's groups in
    columns (`_group_columns`; ``park`` is told the seq of each parked entry) and ``reducers`` added;
    the reporters (closures) are detached for the time of the dump."""
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    table[CorrelationSpec] = lambda spec: (saved_reference, ("spec", spec.id))
    table[ProblemLog] = lambda _: (saved_reference, ("problems", None))
    table[OrderedDict] = lambda groups: _groups_reduced(groups, park)
    table.update(reducers)
    pickler.dispatch_table = table
    reporters = {spec_id: state.report for spec_id, state in engine.states.items()}
    try:
        for state in engine.states.values():
            state.report = _detached
        pickler.dump(engine)
    finally:
        for spec_id, state in engine.states.items():
            state.report = reporters[spec_id]
    return stream.getvalue()


def _groups_reduced(groups: OrderedDict[Any, Any], park: Callable[[int], None] | None) -> Any:
    """A correlation's groups (an ``OrderedDict`` of `GroupWindow`s) as `_group_columns`; any
    other ordered dict as pickle would save it."""
    if not groups or type(next(iter(groups.values()))) is not GroupWindow:
        return groups.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    return saved_reference, ("groups", _group_columns(groups, park))


def _group_columns(
    groups: OrderedDict[Any, GroupWindow], park: Callable[[int], None] | None,
) -> tuple[Any, ...]:
    """All groups of a correlation as a few columns rather than one pickled object per group and
    entry: the pickler memoises every object it writes and keeps it alive to the end, so a full
    5-minute window (4,600 groups, 15,000 entries) took about 10 MiB for the length of each
    snapshot; columns are a few objects. An entry whose occurrence is parked under its own seq
    saves no object (``park`` is told its seq)."""
    windows = list(groups.values())
    entries = [entry for group in windows for entry in group.entries]
    codes = bytearray(len(entries))
    held: list[object] = []
    for index, entry in enumerate(entries):
        occ = entry.occ
        if occ is None:
            continue
        if type(occ) is Parked and occ.seq == entry.seq and park is not None:
            park(occ.seq)
            codes[index] = PARKED
        else:
            codes[index] = HELD
            held.append(occ)
    return (
        [(group.key, group.shown, group.closed) for group in windows],
        array("q", [group.newest for group in windows]),
        array("q", [len(group.entries) for group in windows]),
        array("q", [entry.ts for entry in entries]),
        array("q", [entry.seq for entry in entries]),
        array("q", [entry.slot for entry in entries]),
        [entry.values for entry in entries],
        bytes(codes),
        held,
    )


def _groups_of(columns: tuple[Any, ...]) -> OrderedDict[Any, GroupWindow]:
    """The groups `_group_columns` saved, in their order; parked entries come back parked."""
    heads, newest, counts, times, seqs, slots, values, codes, held = columns
    objects = iter(held)
    entries = [
        Entry(ts, seq, slot, measured,
              None if code == DROPPED else Parked(seq) if code == PARKED else next(objects))
        for ts, seq, slot, measured, code in zip(times, seqs, slots, values, codes, strict=True)
    ]
    groups: OrderedDict[Any, GroupWindow] = OrderedDict()
    start = 0
    for (key, shown, closed), latest, count in zip(heads, newest, counts, strict=True):
        group = GroupWindow(key, shown)
        group.closed, group.newest = closed, latest
        group.entries = entries[start : start + count]
        start += count
        groups[key] = group
    return groups


def _detached(reason: str, occ: Occurrence | None) -> None:
    """What a state's reporter is while the engine is pickled (replaced on restore)."""


class _EngineUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, fresh: CorrelationEngine,
                 occurrences: Mapping[int, bytes]) -> None:
        super().__init__(stream)
        self._specs = {spec.id: spec for spec in fresh.specs}
        self._problems = fresh.problems
        self._rows = occurrences
        self._loaded: dict[int, Occurrence] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "saved_reference":
            return self._resolve
        return super().find_class(module, name)

    def _resolve(self, kind: str, name: Any) -> Any:
        if kind == "spec":
            return self._specs[name]
        if kind == "problems":
            return self._problems
        if kind == "occurrence":
            occ = self._loaded.get(name)
            if occ is None:
                if name not in self._rows:
                    raise pickle.UnpicklingError(f"occurrence {name} of the snapshot is missing")
                occ = self._loaded[name] = load_occurrence(self._rows[name])
            return occ
        if kind == "groups":
            return _groups_of(name)
        if kind == "parked":
            if name not in self._rows:
                raise pickle.UnpicklingError(f"occurrence {name} of the snapshot is missing")
            return Parked(name)
        raise pickle.UnpicklingError(f"unknown reference {kind!r} in a correlation snapshot")
