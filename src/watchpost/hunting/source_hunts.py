"""Matching one source at a time, in this process or in worker processes, and the merge after.

Each source's kept matches (rules that are output or feed a correlation) come out of
`SourceMatcher.stream` as `Keyed` items in the source's order. Their merge key is a watermark that
never decreases within a source: the latest of the match's own time and of every event read
before it less the lateness (`SourceMatcher.stream`). Every source's stream is therefore sorted,
and the merge of all streams by (key, source number, sequence) is one total order whatever the
merge tree: reading the sources side by side (streaming, `interleaved`), or matching them whole in
worker processes (``jobs`` > 1) and merging their runs at the end gives the same alerts. Ticks
(items without an event) carry a source's watermark forward while it has no match, so that the
merge of sources read side by side never waits for a source to end.

Memory stays bounded: a source's matches beyond ``SPILL_AT`` (and all matches once the parent
holds ``HOLD_LIMIT``) are written to a temporary file in chunks and read back during the merge.
"""

from __future__ import annotations

import gc
import heapq
import io
import multiprocessing
import pickle
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from watchpost.events import WINDOWS, Event
from watchpost.hunting.byte_ranges import LineRange, RangeStream
from watchpost.hunting.record_gates import json_line_gate, text_gates
from watchpost.problems import ProblemLog
from watchpost.readers.archive import ListedFile
from watchpost.readers.base import Reader, Source
from watchpost.readers.evtx import EVTX_MAGIC, EvtxReader, RecordSelection
from watchpost.readers.json import JsonReader, LineSkips
from watchpost.readers.time_field import TIME_FIELD

if TYPE_CHECKING:
    from watchpost.hunting.ruleset import RuleSet

SPILL_AT = 1_000
"""Matches of one source above which they go to a temporary file."""
HOLD_LIMIT = 10_000
"""Matches the parent keeps in memory across sources before it spills further ones."""
SPILL_CHUNK = 500
STOP_POLL = 0.25
"""Seconds between two looks at whether a stop was asked while workers match."""
MAX_BATCH = 256
"""Sources per message to a worker at most. Each message cost the parent ~0.4 ms of CPU in
the pool's threads: 16 sources per message spent 0.4 s of the parent's 0.8 s on 10,797 files."""

TICK_EVERY = 1024
"""Events read between two ticks of a source's watermark."""
EARLIEST = datetime.min.replace(tzinfo=UTC)

Keyed = tuple[datetime, int, int, str, Event | None]
"""A kept match in merge order: (merge key, source number, sequence in the source, the rule's
key in ``RuleSet.detection_ids()``, the event). A tick has the key ``""`` and no event."""
TICK = ""


class Tally(Protocol):
    """The counters a source's stream adds to (`engine.HuntStats`, `Detection`)."""

    events: int
    events_in_range: int
    undecoded: int
    matches: int


@dataclass
class Detection:
    """What matching one source (or records) gave: counts, problems, and the kept matches (or
    their file), keyed by rule id; picklable. The seam between detection and correlation
    (`watchpost.hunting.detection`): workers and Spark executors send these back.

    ``problems`` is None when the source had none (most do): nothing to send back or merge.
    """

    name: str
    events: int = 0
    events_in_range: int = 0
    undecoded: int = 0
    """EVTX records and JSON lines counted in ``events`` but never decoded: no loaded rule can
    match them (`readers.evtx.RecordSelection`, `readers.json.LineSkips`)."""
    matches: int = 0
    found: list[Keyed] = field(default_factory=list)
    """The kept matches and the ticks between them, as `SourceMatcher.stream` gives them."""
    spill: str | None = None
    problems: ProblemLog | None = None
    complete: bool = True
    """False when a stop was asked before the source was read to its end."""
    last_key: datetime | None = None
    """The key of the stream's last item (None: no item), and the latest event time read:
    where the next byte range of the same file starts from (`byte_ranges.RangeJoin`)."""
    latest: datetime | None = None
    lines: int = 0
    """Lines read (a byte range: `byte_ranges.LineRange`)."""
    part: int = 0
    parts: int = 1
    """Its place among its file's byte ranges (0 of 1: a whole source)."""
    rebase: Callable[[Iterator[Keyed]], Iterator[Keyed]] | None = field(default=None, repr=False)
    """Set by `detection.join_ranges` on a byte range: puts its items in file coordinates."""

    def items(self) -> Iterator[Keyed]:
        """The kept matches and ticks, read back from the spill file if need be."""
        found: Iterator[Keyed] = iter(self.found) if self.spill is None else read_spill(self.spill)
        return found if self.rebase is None else self.rebase(found)


SourceOutcome = Detection
"""The former name of `Detection`."""


class SourceMatcher:
    """Reads and matches sources against a rule set; immutable once built (shared by workers)."""

    def __init__(
        self,
        ruleset: RuleSet,
        input_format: str | None,
        since: datetime | None,
        until: datetime | None,
        spill_dir: str | None = None,
        lateness: timedelta = timedelta(minutes=5),
        time_field: str | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.lateness = lateness
        """How far behind the latest event read a source's later matches may be (the merge key)."""
        self.time_field = time_field
        """JSON events take their time from this field (``hunt --timefield``)."""
        self.input_format = input_format
        self.since = since
        self.until = until
        self.spill_dir = spill_dir
        self.positions = {id(rule): n for n, rule in enumerate(ruleset.detections)}
        self.rule_ids = ruleset.detection_ids()
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
    ) -> tuple[Iterator[Event], RecordSelection | LineSkips | RangeReading | None]:
        """The events of ``source`` (EVTX records and JSON lines: without those no rule can
        match) and what counts the skipped ones."""
        from watchpost.readers.registry import FORMATS, read_source

        TIME_FIELD.set(self.time_field)
        if isinstance(source, LineRange):
            return self._range_events(source, problems)
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

    def _range_events(self, source: LineRange, problems: ProblemLog) -> tuple[Iterator[Event], RangeReading]:
        from watchpost.readers.registry import FORMATS

        if source.reader != "json":  # a line-per-event text format: its reader over the range
            reading = RangeReading(None)
            lines = source.lines(reading.lines)
            ranged = Source(source.name, lambda: cast(BinaryIO, io.BufferedReader(RangeStream(lines))))
            events = FORMATS[source.reader].read(ranged, problems)
            return _guarded(events, source, problems, source.reader, whole_file=False), reading
        reading = RangeReading(LineSkips(self.line_gate) if self.line_gate is not None else None)
        decoded = JsonReader().read_lines(source.name, source.lines(reading.lines), problems, reading.skips,
                                          first=source.part == 0)
        return _guarded(decoded, source, problems, "json", whole_file=False), reading

    def in_range(self, event: Event) -> bool:
        moment = event.timestamp
        since, until = self.since, self.until
        return not ((since is not None and moment < since) or (until is not None and moment > until))

    def stream(self, number: int, source: Source, tally: Tally, problems: ProblemLog) -> Iterator[Keyed]:
        """The kept matches of ``source`` (number ``number``) as they are read, keyed for the merge,
        with a tick every `TICK_EVERY` events; counts go to ``tally``, problems to ``problems``.

        A match's key is the latest of its own time, the previous key and the latest event time
        read so far less ``lateness``: it never decreases, and a source in time order keys each
        match by its own time. A tick promises that the source's later keys are not smaller.
        """
        events, selection = self.events(source, problems)
        yield from self.keyed(number, events, tally)
        if selection is not None:
            tally.events += selection.skipped
            tally.events_in_range += selection.skipped
            tally.undecoded += selection.skipped
        if isinstance(selection, RangeReading) and isinstance(tally, Detection):
            tally.lines = selection.lines[0]

    def keyed(self, number: int, events: Iterable[Event], tally: Tally) -> Iterator[Keyed]:
        """`stream` over events already read (`records.events_from_records`...)."""
        match = self.ruleset.index.match
        rule_ids = self.rule_ids
        positions, kept, in_range = self.positions, self.kept, self.in_range
        timed = self.since is not None or self.until is not None
        lateness = self.lateness
        key, latest, sequence, countdown = EARLIEST, EARLIEST + lateness, 0, TICK_EVERY
        for event in events:
            tally.events += 1
            moment = event.timestamp
            if moment > latest:
                latest = moment
            countdown -= 1
            if not countdown:
                countdown = TICK_EVERY
                key = max(key, latest - lateness)
                sequence += 1
                yield key, number, sequence, TICK, None
            if timed and not in_range(event):
                continue
            tally.events_in_range += 1
            for rule in match(event):
                tally.matches += 1
                position = positions[id(rule)]
                if position in kept:
                    key = max(key, moment, latest - lateness)
                    sequence += 1
                    event.forget_lowered()
                    yield key, number, sequence, rule_ids[position], event
        if isinstance(tally, Detection):
            tally.latest = None if latest == EARLIEST + lateness else latest
            tally.last_key = None if sequence == 0 else key

    def run(
        self, number: int, source: Source, should_stop: Callable[[], bool] = lambda: False
    ) -> SourceOutcome:
        """Match every event of ``source``; keep the matches the parent needs, and the ticks.

        ``should_stop`` is asked at each tick: when it says so, the outcome holds what was read."""
        outcome = Detection(source.name)
        if isinstance(source, LineRange):
            outcome.part, outcome.parts = source.part, source.parts
        problems = ProblemLog()
        found = outcome.found
        for item in self.stream(number, source, outcome, problems):
            found.append(item)
            if item[4] is None and should_stop():
                outcome.complete = False
                break
        if len(outcome.found) > SPILL_AT and self.spill_dir is not None:
            spill(outcome, self.spill_dir)
        if problems.counts:
            outcome.problems = problems
        return outcome


class RangeReading:
    """What reading a byte range counts: the lines read and the JSON lines left undecoded."""

    def __init__(self, skips: LineSkips | None) -> None:
        self.skips = skips
        self.lines = [0]

    @property
    def skipped(self) -> int:
        return 0 if self.skips is None else self.skips.skipped


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
    skips: RecordSelection | LineSkips | None = None, whole_file: bool = True,
) -> Iterator[Event]:
    """As `read_source` does: a reader failure is a problem, never an exception, and so is a
    file without any record (not a byte range of one, ``whole_file`` False: its other ranges
    may hold them)."""
    from watchpost.readers.registry import noting_empty

    if not whole_file:
        yield from noting_empty(events, source, problems, reader, lambda: 1)  # "records elsewhere"
        return
    yield from noting_empty(events, source, problems, reader, lambda: skips.skipped if skips else 0)


def spill(outcome: SourceOutcome, directory: str) -> None:
    """Move ``outcome.found`` into a temporary file, in chunks."""
    with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".matches", delete=False) as out:
        found = outcome.found
        for start in range(0, len(found), SPILL_CHUNK):
            pickle.dump(found[start:start + SPILL_CHUNK], out, protocol=pickle.HIGHEST_PROTOCOL)
        outcome.spill = out.name
    outcome.found = []


def read_spill(path: str) -> Iterator[Keyed]:
    """The matches of a spill file, chunk by chunk; the file is removed when read."""
    try:
        with open(path, "rb") as stream:
            while True:
                try:
                    chunk: list[Keyed] = pickle.load(stream)
                except EOFError:
                    return
                yield from chunk
    finally:
        Path(path).unlink(missing_ok=True)


def merged_matches(outcomes: Iterable[Detection], spill_dir: str | None = None) -> Iterator[Keyed]:
    """The kept matches of all outcomes (each sorted by `Keyed` order) merged.

    Outcomes are gathered in source order; whenever the matches held in memory pass
    `HOLD_LIMIT`, those gathered so far are merged into one sorted run on disk. The runs are
    merged at the end, each read back a chunk at a time: memory stays bounded by the limit and
    the number of runs. The order is the total order of `Keyed` items, so it never depends on
    ``jobs`` nor on which runs were merged first.
    """
    runs: list[Iterator[Keyed]] = []
    pending: list[Iterator[Keyed]] = []
    held = 0
    for outcome in outcomes:
        if outcome.spill is not None:
            pending.append(outcome.items())
            held += SPILL_CHUNK
        elif outcome.found:
            pending.append(outcome.items())
            held += len(outcome.found)
        if held > HOLD_LIMIT and spill_dir is not None:
            runs.append(_run_to_disk(heapq.merge(*pending), spill_dir))
            pending, held = [], 0
    return heapq.merge(*runs, *pending)


def _run_to_disk(found: Iterator[Keyed], directory: str) -> Iterator[Keyed]:
    with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".run", delete=False) as out:
        chunk: list[Keyed] = []
        for item in found:
            chunk.append(item)
            if len(chunk) >= SPILL_CHUNK:
                pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
                chunk = []
        if chunk:
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    return read_spill(out.name)


_WORKER: tuple[SourceMatcher, Sequence[Source]] | None = None


def _work(numbers: range) -> list[Detection]:
    """The outcomes of a batch of sources; once the batch holds `HOLD_LIMIT` matches, further
    sources' matches go to temporary files (memory stays bounded whatever the batch size, as
    with 16 sources of up to `SPILL_AT` matches each before batches)."""
    assert _WORKER is not None
    matcher, sources = _WORKER
    outcomes: list[Detection] = []
    held = 0
    for number in numbers:
        outcome = matcher.run(number, sources[number])
        held += len(outcome.found)
        if held > HOLD_LIMIT and outcome.found and matcher.spill_dir is not None:
            spill(outcome, matcher.spill_dir)
        outcomes.append(outcome)
    return outcomes


def _worker_signals() -> None:
    """Workers leave Ctrl-C to the parent (which stops the hunt and ends them) and die on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def batches(count: int, jobs: int) -> Iterator[range]:
    """Consecutive ranges of ``count`` source numbers for ``jobs`` workers: `MAX_BATCH` long
    while much is left, then shorter and shorter (a quarter of each worker's share of what is
    left), so that few messages go back and forth and no worker waits long at the end."""
    start = 0
    while start < count:
        size = min(MAX_BATCH, max(1, (count - start) // (jobs * 4)))
        yield range(start, start + size)
        start += size


def run_sources(
    matcher: SourceMatcher, sources: Sequence[Source], jobs: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Detection]:
    """The outcome of every source, in source order; ``jobs`` > 1 matches in worker processes.

    Workers are forked (they share the loaded rules and the source list) and take the sources
    in `batches`; where ``fork`` is not available the sources are matched here, one after the
    other, with the same results. Once ``should_stop()`` says so, no further outcome comes (the
    workers are ended; a source matched here stops at its next tick, its outcome incomplete).
    """
    global _WORKER
    if jobs <= 1 or len(sources) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for number, source in enumerate(sources):
            if should_stop():
                return
            yield matcher.run(number, source, should_stop)
        return
    _WORKER = (matcher, sources)
    gc.freeze()  # the loaded rules stay shared with the workers: no collector pass touches them
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_worker_signals) as pool:
            results = pool.imap(_work, batches(len(sources), jobs))
            while not should_stop():
                try:
                    outcomes = results.next(timeout=STOP_POLL)
                except multiprocessing.TimeoutError:
                    continue
                except StopIteration:
                    return
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
