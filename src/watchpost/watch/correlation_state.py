"""Saving and restoring the open state of a `CorrelationEngine` (its windows, groups, buffer).

The engine is pickled whole except for what belongs to the running process rather than to the
state: the compiled `CorrelationSpec`s (saved by id and looked up in the new engine's rules),
each correlation state's problem reporter (a closure over the engine: not picklable; rebuilt by
the new engine), and the `ProblemLog` (the live one is used). Everything else (the reorder
buffer, the windows and their entries, the events they keep, counters, the horizon) is plain
data and pickles as it is.

A snapshot belongs to a rule set: `rules_fingerprint` names it, and a snapshot made with other
correlations is not restored (the caller reports it and starts with empty windows).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Sequence
from typing import Any

from watchpost.correlation import CorrelationEngine
from watchpost.correlation.spec import CorrelationSpec
from watchpost.problems import ProblemLog


def rules_fingerprint(specs: Sequence[CorrelationSpec]) -> bytes:
    """Identifies the correlations a snapshot belongs to (ids, types, timespans, conditions)."""
    digest = hashlib.sha256()
    for spec in sorted(specs, key=lambda s: s.id):
        digest.update(repr((spec.id, spec.type, spec.rules, spec.group_by, spec.sources, spec.timespan_us,
                            spec.condition, spec.value_field, spec.value_sources, spec.percentile)).encode())
    return digest.hexdigest().encode()


class _EnginePickler(pickle.Pickler):
    def __init__(self, stream: io.BytesIO, engine: CorrelationEngine) -> None:
        super().__init__(stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._specs = {id(spec): spec.id for spec in engine.specs}
        self._reporters = {id(state.report): spec_id for spec_id, state in engine.states.items()}
        self._problems = id(engine.problems)

    def persistent_id(self, obj: Any) -> Any:
        identity = id(obj)
        if identity in self._specs and isinstance(obj, CorrelationSpec):
            return ("spec", self._specs[identity])
        if identity in self._reporters and callable(obj):
            return ("reporter", self._reporters[identity])
        if identity == self._problems:
            return ("problems", None)
        return None


class _EngineUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, fresh: CorrelationEngine) -> None:
        super().__init__(stream)
        self._specs = {spec.id: spec for spec in fresh.specs}
        self._reporters = {spec_id: state.report for spec_id, state in fresh.states.items()}
        self._problems = fresh.problems

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind == "spec":
            return self._specs[name]
        if kind == "reporter":
            return self._reporters[name]
        if kind == "problems":
            return self._problems
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def save_engine(engine: CorrelationEngine) -> bytes:
    """The engine's open state as bytes."""
    stream = io.BytesIO()
    _EnginePickler(stream, engine).dump(engine)
    return stream.getvalue()


def restore_engine(
    blob: bytes, specs: Sequence[CorrelationSpec], lateness: Any, max_groups: int, problems: ProblemLog
) -> CorrelationEngine:
    """An engine over ``specs`` with the state saved in ``blob`` (made by `save_engine` over
    the same correlations). Raises what unpickling raises when ``blob`` is damaged."""
    fresh = CorrelationEngine(specs, lateness, max_groups, problems)
    restored = _EngineUnpickler(io.BytesIO(blob), fresh).load()
    if not isinstance(restored, CorrelationEngine):
        raise pickle.UnpicklingError("the saved state is not a correlation engine")
    restored.lateness_us = fresh.lateness_us
    for state in restored.states.values():
        state.max_groups = max_groups
    return restored
