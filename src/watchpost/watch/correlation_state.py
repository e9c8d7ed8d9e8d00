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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchpost.correlation import CorrelationEngine
from watchpost.correlation.occurrence import Occurrence, Parked
from watchpost.correlation.spec import CorrelationSpec
from watchpost.problems import ProblemLog


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
            if held.seq not in stored:
                raise ValueError(f"occurrence {held.seq} is parked but has no row")
            live.add(held.seq)
            return saved_reference, ("parked", held.seq)

        structure = _dump(engine, {Occurrence: occurrence, Parked: parked})
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


def _dump(engine: CorrelationEngine, reducers: dict[type, Callable[[Any], Any]]) -> bytes:
    """Pickle ``engine`` with specs and problem log as references and ``reducers`` added; the
    reporters (closures) are detached for the time of the dump."""
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    table[CorrelationSpec] = lambda spec: (saved_reference, ("spec", spec.id))
    table[ProblemLog] = lambda _: (saved_reference, ("problems", None))
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
        if kind == "parked":
            if name not in self._rows:
                raise pickle.UnpicklingError(f"occurrence {name} of the snapshot is missing")
            return Parked(name)
        raise pickle.UnpicklingError(f"unknown reference {kind!r} in a correlation snapshot")
