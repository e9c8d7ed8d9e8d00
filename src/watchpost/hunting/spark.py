"""The Spark runner: detection in Spark tasks, correlation on the driver, the alerts of a local hunt.

    driver:    rules loaded once -> `RuleSet.to_bytes` broadcast once
               inputs listed (`sources.list_refs`: files, archive members, byte ranges of large
               JSON Lines files) -> tasks (consecutive inputs batched by size)
    executors: each task -> `Detector.detect` per input -> `Detection`s (counts, problems, the
               matches of output and correlated rules only)
    driver:    detections in source order -> `Hunt.correlate` (merge by key, correlation,
               filters) -> alerts

Because the detections are those a local hunt makes of the same inputs and they are merged in
the same total order (`source_hunts`), the alerts and their order are those of `Hunt.run`.
Tasks are run in waves of a few times the cluster's parallelism, in order; the driver merges
the detections' matches as ``--jobs`` does (in memory up to `source_hunts.HOLD_LIMIT`, then in
sorted runs on disk). A stop asked (`request_stop`, Ctrl-C in the CLI) cancels the running wave
and submits no other; the alerts of the detections already in still come out.

`hunt_table` runs the rules over the rows of a DataFrame through ``mapInArrow``: each partition
is one source (numbered by partition); rows become events by `records.events_from_records`.
pyspark and pyarrow are imported only here (the ``spark`` extra).
"""

from __future__ import annotations

import gc
import pickle
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from watchpost.alerts import Alert
from watchpost.errors import InputNotFound
from watchpost.hunting.detection import Detection, Detector
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.hunting.records import RecordOrigin, events_from_records
from watchpost.hunting.ruleset import RuleSet
from watchpost.hunting.sources import SourceRef, list_refs
from watchpost.problems import ProblemLog
from watchpost.rules.model import LoadProgress

BATCH_BYTES = 32 << 20
"""Consecutive inputs are batched into one task up to this many bytes (or `BATCH_INPUTS`)."""
BATCH_INPUTS = 256
WAVE_PER_CORE = 4
"""Tasks submitted at once per unit of the cluster's default parallelism."""

Options = tuple[str | None, datetime | None, datetime | None, timedelta]
Task = list[tuple[int, SourceRef]]


class SparkHunt(Hunt):
    """A `Hunt` whose detection runs in Spark tasks (``spark``: a SparkSession, or a function
    that makes one when the run starts). Same options, statistics, problems and alerts."""

    def __init__(self, spark: Any, options: HuntOptions | None = None,
                 progress: LoadProgress | None = None) -> None:
        super().__init__(options, progress)
        self._spark = spark
        self._group: str | None = None

    @property
    def spark(self) -> Any:
        if callable(self._spark):
            self._spark = self._spark()
        return self._spark

    def request_stop(self, reason: str) -> None:
        super().request_stop(reason)
        if self._group is not None and not callable(self._spark):
            try:
                self._spark.sparkContext.cancelJobGroup(self._group)
            except Exception:  # the session may be going down already
                return

    def run(self, paths: Sequence[Path | str]) -> Iterator[Alert]:
        """Alerts from ``paths`` (local paths, folders, archives; fsspec URLs)."""
        from watchpost.hunting.sources import is_url

        for path in paths:
            text = str(path)
            if text != "-" and not is_url(text) and not (Path(text).exists() or Path(text).is_symlink()):
                raise InputNotFound(text)
        options = self.options
        split = options.split_bytes if options.split_bytes > 0 else 0
        refs = list_refs(paths, self.problems, split, options.input_format)
        return self.correlate(self._detections(refs), refs)

    def _detections(self, refs: list[SourceRef]) -> Iterator[Detection]:
        context = self.spark.sparkContext
        tasks = batches(refs, context.defaultParallelism)
        if not tasks:
            return
        rules = context.broadcast(self.ruleset.to_bytes())
        work = partial(_detect_tasks, rules, detector_options(self.options), uuid.uuid4().hex)
        rdd = context.parallelize(tasks, len(tasks)).mapPartitions(work)
        try:
            yield from self._waves(context, rdd, len(tasks))
        finally:
            rules.unpersist()

    def _waves(self, context: Any, rdd: Any, count: int) -> Iterator[Any]:
        wave = max(1, context.defaultParallelism * WAVE_PER_CORE)
        self._group = f"watchpost-{uuid.uuid4().hex[:12]}"
        context.setJobGroup(self._group, "watchpost hunt", interruptOnCancel=True)
        try:
            for first in range(0, count, wave):
                if self.stats.stopped is not None:
                    return
                try:
                    found = context.runJob(rdd, _as_list, list(range(first, min(count, first + wave))))
                except Exception:
                    if self.stats.stopped is not None:  # the wave was cancelled by the stop
                        return
                    raise
                yield from found
        finally:
            self._group = None


def detector_options(options: HuntOptions) -> Options:
    return options.input_format, options.since, options.until, options.lateness


def batches(refs: Sequence[SourceRef], parallelism: int = 1) -> list[Task]:
    """Consecutive inputs (numbered in order) grouped into tasks of up to `BATCH_BYTES` and
    `BATCH_INPUTS`, and small enough that there are `WAVE_PER_CORE` tasks per unit of
    ``parallelism`` when the inputs allow; a byte range is a task of its own."""
    total = sum(ref.size for ref in refs)
    limit = max(1, min(BATCH_BYTES, total // max(1, parallelism * WAVE_PER_CORE)))
    tasks: list[Task] = []
    current: Task = []
    held = 0
    for number, ref in enumerate(refs):
        if current and (ref.parts > 1 or held + ref.size > limit or len(current) >= BATCH_INPUTS):
            tasks.append(current)
            current, held = [], 0
        current.append((number, ref))
        held += ref.size
        if ref.parts > 1:
            tasks.append(current)
            current, held = [], 0
    if current:
        tasks.append(current)
    return tasks


def _as_list(items: Iterable[Any]) -> list[Any]:
    return list(items)


_DETECTORS: dict[tuple[str, Options], Detector] = {}
"""Per executor process: the detector of the run's broadcast rule set, by the run's token
(Python workers are reused: a rule set is unpickled once per worker, not once per task)."""


def _detector(rules: Any, options: Options, token: str) -> Detector:
    key = (token, options)
    found = _DETECTORS.get(key)
    if found is None:
        _DETECTORS.clear()
        found = _DETECTORS[key] = Detector(RuleSet.from_bytes(rules.value), *options)
        gc.freeze()  # the rule set lives as long as the worker
    return found


def _detect_tasks(rules: Any, options: Options, token: str, tasks: Iterable[Task]) -> Iterator[Detection]:
    """Executor side: the detection of every input of the partition's tasks, in order."""
    detector = _detector(rules, options, token)
    for task in tasks:
        for number, ref in task:
            yield detect_ref(detector, number, ref)


def detect_ref(detector: Detector, number: int, ref: SourceRef) -> Detection:
    """The detection of one input; an input that cannot be opened is a detection holding only
    its problem (file and reason)."""
    problems = ProblemLog()
    source = ref.open_source(problems)
    if source is None:
        detection = Detection(ref.name, problems=problems)
    else:
        detection = detector.detect(source, number)
        if problems.counts:  # archive problems met while finding the member again
            if detection.problems is None:
                detection.problems = problems
            else:
                for problem in problems.problems:
                    detection.problems.add(problem.stage, problem.path, problem.place, problem.reason)
    detection.part, detection.parts = ref.part, ref.parts
    return detection


def hunt(spark: Any, inputs: Sequence[Path | str], rules: Sequence[Path | str] = (),
         **options: Any) -> Iterator[Alert]:
    """The alerts of ``rules`` (default: the bundled pack) over ``inputs`` (local paths,
    folders, archives, fsspec URLs such as ``s3://bucket/logs/``), detected in Spark tasks:
    the alerts, in the order, of ``watchpost.hunt(inputs, rules)``. ``options`` are
    `HuntOptions` fields (``min_level``, ``since``, ``split_bytes``...)."""
    return SparkHunt(spark, HuntOptions(rules=list(rules), **options)).run(inputs)


def hunt_table(
    spark: Any, df: Any, rules: Sequence[Path | str] = (), origin: str | RecordOrigin = "table",
    shape: str = "windows", time_field: str | None = None, **options: Any,
) -> Iterator[Alert]:
    """The alerts of ``rules`` over the rows of the DataFrame ``df`` (see `records` for
    ``shape``, ``origin`` and null-versus-missing), detected in Spark tasks through
    ``mapInArrow``: rows no rule can match by their (Channel, EventID) are filtered out before
    (and not counted as events), and only the columns the rules read are sent to Python."""
    runner = SparkHunt(spark, HuntOptions(rules=list(rules), **options))
    return TableHunt(runner, shape, origin, time_field).run(df)


class TableHunt:
    """`hunt_table`'s run: the DataFrame narrowed, detected by partition, correlated."""

    def __init__(self, runner: SparkHunt, shape: str, origin: str | RecordOrigin,
                 time_field: str | None) -> None:
        self.runner = runner
        self.shape = shape
        if isinstance(origin, str):
            origin = RecordOrigin(None, None, "record", origin)
        self.origin = origin
        self.time_field = time_field

    def run(self, df: Any) -> Iterator[Alert]:
        from watchpost.hunting.table_plan import narrowed

        runner = self.runner
        narrow = narrowed(df, runner.ruleset, self.shape, self.origin, self.time_field)
        rules = _shipped(runner.spark, runner.ruleset.to_bytes())
        work = partial(_detect_batches, rules, detector_options(runner.options), uuid.uuid4().hex,
                       self.shape, self.origin, self.time_field)
        rows = narrow.mapInArrow(work, "partition long, detection binary").collect()
        if isinstance(rules, Inline):
            rules.value = b""
        else:
            rules.unpersist()
        found = sorted((row["partition"], row["detection"]) for row in rows)
        detections = [pickle.loads(data) for _, data in found]
        names = [_Named(detection.name) for detection in detections]
        return runner.correlate(detections, names)


class Inline:
    """The rule set's bytes in the task's closure: what Spark Connect sessions get (they have no
    SparkContext to broadcast with); the same ``value`` as a broadcast."""

    def __init__(self, value: bytes) -> None:
        self.value = value


def _shipped(spark: Any, data: bytes) -> Any:
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext, no broadcast
        return Inline(data)
    return context.broadcast(data)


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def _detect_batches(rules: Any, options: Options, token: str, shape: str, origin: RecordOrigin,
                    time_field: str | None, batches: Iterator[Any]) -> Iterator[Any]:
    """Executor side of `hunt_table`: a partition's Arrow batches -> one pickled `Detection`."""
    import pyarrow as pa
    from pyspark import TaskContext

    detector = _detector(rules, options, token)
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    problems = ProblemLog()
    records = (row for batch in batches for row in batch.to_pylist())
    events = events_from_records(records, shape, origin, time_field, problems)
    detection = detector.detect(events, partition, name=origin.default)
    if problems.counts:
        detection.problems = problems
    data = pickle.dumps(detection, protocol=pickle.HIGHEST_PROTOCOL)
    schema = pa.schema([("partition", pa.int64()), ("detection", pa.binary())])
    yield pa.RecordBatch.from_pylist([{"partition": partition, "detection": data}], schema=schema)

