"""Matching one source at a time, in this process or in worker processes, and the merge after.

A hunt over several sources matches each source on its own (`SourceMatcher.run`), keeps the
matches it needs (rules that are output or feed a correlation) in the source's order, and the
parent merges the sources' matches by timestamp (`heapq.merge`, ties in source order) before
correlation sees them. The sources may be matched in worker processes (``jobs`` > 1): workers
only match; the merge and correlation stay in the parent, so ``jobs`` never changes the alerts.

Memory stays bounded: a source's matches beyond ``SPILL_AT`` (and all matches once the parent
holds ``HOLD_LIMIT``) are written to a temporary file in chunks and read back during the merge.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from watchpost.events import WINDOWS, Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import ListedFile
from watchpost.readers.base import Reader, Source
from watchpost.readers.evtx import EVTX_MAGIC, EvtxReader, RecordSelection
from watchpost.readers.json import JsonReader, LineSkips
from watchpost.record_gates import json_line_gate, text_gates

if TYPE_CHECKING:
    from watchpost.ruleset import RuleSet

SPILL_AT = 1_000
"""Matches of one source above which they go to a temporary file."""
HOLD_LIMIT = 10_000
"""Matches the parent keeps in memory across sources before it spills further ones."""
SPILL_CHUNK = 500
MAX_BATCH = 256
"""Sources per message to a worker at most. Each message cost the parent ~0.4 ms of CPU in
the pool's threads: 16 sources per message spent 0.4 s of the parent's 0.8 s on 10,797 files."""

Found = tuple[int, Event]
"""A kept match: the rule's position in ``RuleSet.detections`` and the event."""


@dataclass
class SourceOutcome:
    """What matching one source gave: counts, problems, and the kept matches (or their file).

    ``problems`` is None when the source had none (most do): nothing to send back or merge.
    """

    name: str
    events: int = 0
    in_range: int = 0
    undecoded: int = 0
    """EVTX records and JSON lines counted in ``events`` but never decoded: no loaded rule can
    match them (`readers.evtx.RecordSelection`, `readers.json.LineSkips`)."""
    matches: int = 0
    found: list[Found] = field(default_factory=list)
    spill: str | None = None
    problems: ProblemLog | None = None


class SourceMatcher:
    """Reads and matches sources against a rule set; immutable once built (shared by workers)."""

    def __init__(
        self,
        ruleset: RuleSet,
        input_format: str | None,
        since: datetime | None,
        until: datetime | None,
        spill_dir: str | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.input_format = input_format
        self.since = since
        self.until = until
        self.spill_dir = spill_dir
        self.positions = {id(rule): n for n, rule in enumerate(ruleset.detections)}
        kept = {
            n for n, rule in enumerate(ruleset.detections)
            if rule.meta.id not in ruleset.hidden or rule.meta.id in ruleset.correlated_ids
        }
        self.kept = frozenset(kept)
        # Skipping undecoded records is only safe when nothing needs every event's timestamp.
        self.admitted = ruleset.index.admitted_pairs(WINDOWS) if since is None and until is None else None
        self._selection = RecordSelection(self.admitted, text_gates(ruleset.index))
        """What each source's selection starts from: ids learned and gates built so far."""
        self.line_gate = json_line_gate(ruleset.index) if since is None and until is None else None
        """JSON lines no rule can match are skipped undecoded (`record_gates.json_line_gate`)."""

    def events(
        self, source: Source, problems: ProblemLog
    ) -> tuple[Iterator[Event], RecordSelection | LineSkips | None]:
        """The events of ``source`` (EVTX records and JSON lines: without those no rule can
        match) and what counts the skipped ones."""
        from watchpost.readers.registry import FORMATS, read_source

        if self.line_gate is not None and self.input_format in (None, "json") and not _is_evtx(source):
            reader = FORMATS["json"] if self.input_format == "json" else _sniffed_reader(source)
            if isinstance(reader, JsonReader):
                skips = LineSkips(self.line_gate)
                events = reader.read_gated(source, problems, skips)
                return _guarded(events, source, problems, "json", skips), skips
        if self.admitted is None or self.input_format not in (None, "evtx"):
            return read_source(source, problems, self.input_format), None
        if not _is_evtx(source):
            return read_source(source, problems, self.input_format), None
        if self._selection.pairs is not self.admitted:  # ``admitted`` was replaced after building
            self._selection = RecordSelection(self.admitted, self._selection.gates)
        selection = self._selection.fresh()
        events = EvtxReader().read_selected(source, problems, selection)
        return _guarded(events, source, problems, "evtx", selection), selection

    def in_range(self, event: Event) -> bool:
        moment = event.timestamp
        since, until = self.since, self.until
        return not ((since is not None and moment < since) or (until is not None and moment > until))

    def run(self, source: Source) -> SourceOutcome:
        """Match every event of ``source``; keep the matches the parent needs."""
        outcome = SourceOutcome(source.name)
        problems = ProblemLog()
        events, selection = self.events(source, problems)
        match = self.ruleset.index.match
        positions, kept, found = self.positions, self.kept, outcome.found
        timed = self.since is not None or self.until is not None
        for event in events:
            outcome.events += 1
            if timed and not self.in_range(event):
                continue
            outcome.in_range += 1
            for rule in match(event):
                outcome.matches += 1
                position = positions[id(rule)]
                if position in kept:
                    event.forget_lowered()
                    found.append((position, event))
        if selection is not None:
            outcome.events += selection.skipped
            outcome.in_range += selection.skipped
            outcome.undecoded += selection.skipped
        if len(found) > SPILL_AT and self.spill_dir is not None:
            spill(outcome, self.spill_dir)
        if problems.counts:
            outcome.problems = problems
        return outcome


def _is_evtx(source: Source) -> bool:
    if isinstance(source, ListedFile) and len(source.head) >= len(EVTX_MAGIC):
        return source.head.startswith(EVTX_MAGIC)  # read when listed: no second open
    try:
        with source.open() as stream:
            return stream.read(len(EVTX_MAGIC)) == EVTX_MAGIC
    except Exception:  # unreadable: the general path reports it
        return False


def _sniffed_reader(source: Source) -> Reader | None:
    """The reader `read_source` would choose for ``source``; None when its head cannot be read
    or is empty (`read_source` then reports it)."""
    from watchpost.readers.registry import HEAD_SIZE, choose_reader

    try:
        with source.open() as stream:
            head = stream.read(HEAD_SIZE)
    except Exception:
        return None
    return choose_reader(head, source) if head else None


def _guarded(
    events: Iterator[Event], source: Source, problems: ProblemLog, reader: str = "evtx",
    skips: RecordSelection | LineSkips | None = None,
) -> Iterator[Event]:
    """As `read_source` does: a reader failure is a problem, never an exception, and so is a
    source without any record."""
    from watchpost.readers.registry import noting_empty

    yield from noting_empty(events, source, problems, reader, lambda: skips.skipped if skips else 0)


def spill(outcome: SourceOutcome, directory: str) -> None:
    """Move ``outcome.found`` into a temporary file, in chunks."""
    with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".matches", delete=False) as out:
        found = outcome.found
        for start in range(0, len(found), SPILL_CHUNK):
            pickle.dump(found[start:start + SPILL_CHUNK], out, protocol=pickle.HIGHEST_PROTOCOL)
        outcome.spill = out.name
    outcome.found = []


def read_spill(path: str) -> Iterator[Found]:
    """The matches of a spill file, chunk by chunk; the file is removed when read."""
    try:
        with open(path, "rb") as stream:
            while True:
                try:
                    chunk: list[Found] = pickle.load(stream)
                except EOFError:
                    return
                yield from chunk
    finally:
        Path(path).unlink(missing_ok=True)


def merged_matches(outcomes: Iterable[SourceOutcome], spill_dir: str | None = None) -> Iterator[Found]:
    """The kept matches of all outcomes (each in its source's order) merged by timestamp.

    Outcomes are gathered in source order; whenever the matches held in memory pass
    `HOLD_LIMIT`, those gathered so far are merged into one sorted run on disk. The runs are
    merged at the end, each read back a chunk at a time: memory stays bounded by the limit and
    the number of runs. Ties keep source order. Every ``jobs`` setting sees the same outcomes in
    the same order, so the result never depends on it.
    """
    runs: list[Iterator[Found]] = []
    pending: list[Iterator[Found]] = []
    held = 0
    for outcome in outcomes:
        if outcome.spill is not None:
            pending.append(read_spill(outcome.spill))
            held += SPILL_CHUNK
        elif outcome.found:
            pending.append(iter(outcome.found))
            held += len(outcome.found)
        if held > HOLD_LIMIT and spill_dir is not None:
            runs.append(_run_to_disk(heapq.merge(*pending, key=_moment), spill_dir))
            pending, held = [], 0
    return heapq.merge(*runs, *pending, key=_moment)


def _run_to_disk(found: Iterator[Found], directory: str) -> Iterator[Found]:
    with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".run", delete=False) as out:
        chunk: list[Found] = []
        for item in found:
            chunk.append(item)
            if len(chunk) >= SPILL_CHUNK:
                pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
                chunk = []
        if chunk:
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    return read_spill(out.name)


def _moment(found: Found) -> datetime:
    return found[1].timestamp


_WORKER: tuple[SourceMatcher, Sequence[Source]] | None = None


def _work(numbers: range) -> list[SourceOutcome]:
    """The outcomes of a batch of sources; once the batch holds `HOLD_LIMIT` matches, further
    sources' matches go to temporary files (memory stays bounded whatever the batch size, as
    with 16 sources of up to `SPILL_AT` matches each before batches)."""
    assert _WORKER is not None
    matcher, sources = _WORKER
    outcomes: list[SourceOutcome] = []
    held = 0
    for number in numbers:
        outcome = matcher.run(sources[number])
        held += len(outcome.found)
        if held > HOLD_LIMIT and outcome.found and matcher.spill_dir is not None:
            spill(outcome, matcher.spill_dir)
        outcomes.append(outcome)
    return outcomes


def batches(count: int, jobs: int) -> Iterator[range]:
    """Consecutive ranges of ``count`` source numbers for ``jobs`` workers: `MAX_BATCH` long
    while much is left, then shorter and shorter (a quarter of each worker's share of what is
    left), so that few messages go back and forth and no worker waits long at the end."""
    start = 0
    while start < count:
        size = min(MAX_BATCH, max(1, (count - start) // (jobs * 4)))
        yield range(start, start + size)
        start += size


def run_sources(matcher: SourceMatcher, sources: Sequence[Source], jobs: int) -> Iterator[SourceOutcome]:
    """The outcome of every source, in source order; ``jobs`` > 1 matches in worker processes.

    Workers are forked (they share the loaded rules and the source list) and take the sources
    in `batches`; where ``fork`` is not available the sources are matched here, one after the
    other, with the same results.
    """
    global _WORKER
    if jobs <= 1 or len(sources) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for source in sources:
            yield matcher.run(source)
        return
    _WORKER = (matcher, sources)
    gc.freeze()  # the loaded rules stay shared with the workers: no collector pass touches them
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs) as pool:
            for outcomes in pool.imap(_work, batches(len(sources), jobs)):
                yield from outcomes
    finally:
        gc.unfreeze()
        _WORKER = None


def merge_problems(into: ProblemLog, other: ProblemLog) -> None:
    """Add the problems of ``other`` (a worker's) to ``into``."""
    room = max(0, into.keep - len(into.problems))
    into.problems.extend(other.problems[:room])
    into.counts.update(other.counts)
    into.by_path.update(other.by_path)
