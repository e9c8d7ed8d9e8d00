"""Spark (#16): `watchpost.spark.hunt` and `hunt_table` in ``local[2]`` give the alerts of
`Hunt.run` on the same inputs: same digests (rule id, time, origin), in the same order.

Slow (a JVM starts once for the module); skipped without pyspark or Java."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.hunting.split_inputs import CORRELATION_ID, write_jsonl, write_rules
from watchpost import Hunt, HuntOptions
from watchpost.alerts import Alert

pytestmark = pytest.mark.slow
pyspark = pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java (a JRE)", allow_module_level=True)

from watchpost.hunting.records import RecordOrigin  # noqa: E402
from watchpost.spark import SparkHunt, hunt_table, session  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
Digest = tuple[str, str, tuple[Any, ...]]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    active = session("local[2]", [("spark.sql.shuffle.partitions", "2")])
    active.sparkContext.setLogLevel("ERROR")
    yield active
    active.stop()


def digests(alerts: Iterator[Alert]) -> list[Digest]:
    return [(a.rule.id, a.timestamp.isoformat(), tuple(e.origin for e in a.events)) for a in alerts]


def problems_of(runner: Hunt) -> set[tuple[str, str, str | None, str]]:
    return {(p.stage, p.path, p.place, p.reason) for p in runner.problems.problems}


def both(
    spark: Any, inputs: Sequence[Path | str], **options: Any
) -> tuple[Hunt, list[Digest], SparkHunt, list[Digest]]:
    local = Hunt(HuntOptions(**options))
    expected = digests(local.run(inputs))
    remote = SparkHunt(spark, HuntOptions(**options))
    found = digests(remote.run(inputs))
    return local, expected, remote, found


def test_fixtures_and_shared_evtx_with_the_pack(spark: Any, shared: Path) -> None:
    evtx = sorted(shared.glob("samples/**/*.evtx"))
    assert len(evtx) >= 20
    local, expected, remote, found = both(spark, [PROJECT / "tests" / "fixtures", *evtx])
    assert found == expected
    assert len(expected) > 50
    correlations = {c.meta.id for c in local.ruleset.correlations}
    assert any(rule in correlations for rule, _, _ in expected)  # the pack's correlations fired
    assert problems_of(remote) == problems_of(local)
    assert (remote.stats.events, remote.stats.sources) == (local.stats.events, local.stats.sources)


def test_folder_of_many_files_and_a_zip(spark: Any, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    folder = tmp_path / "logs"
    folder.mkdir()
    for number in range(40):
        write_jsonl(folder / f"part-{number:03}.jsonl", 60 + number, malformed_every=0)
    with zipfile.ZipFile(folder / "archive.zip", "w") as archive:
        for number in range(5):
            archive.writestr(f"inner/{number}.jsonl", (folder / f"part-{number:03}.jsonl").read_text())
    (folder / "one.jsonl.gz").write_bytes(gzip.compress((folder / "part-007.jsonl").read_bytes()))
    local, expected, remote, found = both(spark, [folder], rules=[rules])
    assert found == expected
    assert len({origins[0].path for _, _, origins in expected}) > 40  # files, members, the gzip
    assert any("archive.zip!inner/" in origins[0].path for _, _, origins in expected)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_jsonl_split_in_ranges_with_late_matches(spark: Any, tmp_path: Path, newline: str) -> None:
    rules = write_rules(tmp_path / "rules")
    path = write_jsonl(tmp_path / "big.jsonl", 6000, newline=newline, late_every=50)
    local = Hunt(HuntOptions(rules=[rules]))
    expected = digests(local.run([path]))
    remote = SparkHunt(spark, HuntOptions(rules=[rules], split_bytes=150_000))
    found = digests(remote.run([path]))
    assert found == expected
    assert any(rule == CORRELATION_ID for rule, _, _ in expected)
    assert local.problems.count("correlation") > 0  # late matches were met, the same way
    assert problems_of(remote) == problems_of(local)


def test_parquet_table_with_origin_columns(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rules = write_rules(tmp_path / "rules")
    path = write_jsonl(tmp_path / "events.jsonl", 3000, malformed_every=0)
    rows = [dict(json.loads(line), path=str(path), line=number)
            for number, line in enumerate(path.read_text().splitlines(), 1)]
    rows.append({"EventID": 4624, "Channel": "Security", "Computer": "host9", "path": str(path),
                 "line": 0, "TimeCreated": "2024-03-05T10:00:00Z", "Image": None, "CommandLine": None,
                 "ProcessId": None})  # a pair no rule admits: filtered out before Python
    table = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), table)
    expected = digests(Hunt(HuntOptions(rules=[rules])).run([path]))
    frame = spark.read.parquet(str(table))
    found = digests(hunt_table(spark, frame, rules=[rules], origin=RecordOrigin("path", "line", "line")))
    assert sorted(found) == sorted(expected)
    assert [d for d in found if d[0] != CORRELATION_ID] == [d for d in expected if d[0] != CORRELATION_ID]


def test_unreadable_inputs_are_reported_with_file_and_place(spark: Any, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(PROJECT / "tests" / "fixtures" / "windows" / "malformed_middle.jsonl", folder / "bad.jsonl")
    evtx = sorted((Path(__file__).resolve().parents[3] / "shared" / "samples").glob("**/*.evtx"))[0]
    (folder / "cut.evtx").write_bytes(evtx.read_bytes()[:70_000])
    (folder / "broken.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:200])
    local, expected, remote, found = both(spark, [folder])
    assert found == expected
    reported = problems_of(remote)
    assert reported == problems_of(local)
    places = {(Path(path).name, place) for _, path, place, _ in reported}
    assert any(name == "bad.jsonl" and (place or "").startswith("line ") for name, place in places)
    assert any(name == "broken.gz" for name, _ in places)


@pytest.mark.parametrize("output_format", ["table", "jsonl", "json", "csv", "html", "navigator", "sarif"])
def test_cli_engine_spark_writes_every_format(spark: Any, tmp_path: Path, output_format: str) -> None:
    from click.testing import CliRunner

    from watchpost.cli import main

    inputs = [str(PROJECT / "tests" / "fixtures")]
    here, there = tmp_path / "local.out", tmp_path / "spark.out"
    local = CliRunner().invoke(main, ["hunt", *inputs, "-f", output_format, "-o", str(here)])
    remote = CliRunner().invoke(main, ["hunt", "--engine", "spark", "--master", "local[2]", "--spark-conf",
                                       "spark.sql.shuffle.partitions=2", *inputs, "-f", output_format,
                                       "-o", str(there)])
    assert (remote.exit_code, local.exit_code) == (0, 0), remote.output
    assert there.stat().st_size > 1000
    if output_format in ("jsonl", "csv"):
        assert there.read_bytes() == here.read_bytes()


def test_table_rows_and_columns_are_narrowed_before_python(spark: Any, tmp_path: Path) -> None:
    from watchpost.hunting.table_plan import narrowed

    rules = write_rules(tmp_path / "rules")
    ruleset = Hunt(HuntOptions(rules=[rules])).ruleset
    sysmon = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "h",
              "TimeCreated": "2024-03-05T10:00:00Z", "Image": "C:\\x\\netstat.exe", "Noise": "n", "row": 1}
    rows = [sysmon, dict(sysmon, Channel="microsoft-windows-sysmon/operational", row=2),
            dict(sysmon, EventID=3, row=3), dict(sysmon, Channel="Security", EventID=4624, row=4)]
    frame = spark.createDataFrame(rows)
    origin = RecordOrigin(None, "row", "record", "rows")
    narrow = narrowed(frame, ruleset, "windows", origin, None)
    assert "Noise" not in narrow.columns and {"Image", "Computer", "row"} <= set(narrow.columns)
    assert sorted(row["row"] for row in narrow.collect()) == [1, 2]  # Channel compared lower-cased
    runner = SparkHunt(spark, HuntOptions(rules=[rules]))
    from watchpost.hunting.spark import TableHunt

    found = digests(TableHunt(runner, "windows", origin, None).run(frame))
    assert sorted(origins[0].record for _, _, origins in found) == [1, 2]
    assert runner.stats.events == 2  # rows filtered out in Spark are not events


def test_a_stop_ends_a_spark_run_with_what_was_found(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchpost.hunting import spark as runner_module

    rules = write_rules(tmp_path / "rules")
    folder = tmp_path / "logs"
    folder.mkdir()
    for number in range(30):
        write_jsonl(folder / f"part-{number:03}.jsonl", 300, malformed_every=0)
    local = Hunt(HuntOptions(rules=[rules]))
    complete = digests(local.run([folder]))
    first = digests(Hunt(HuntOptions(rules=[rules])).run([folder / "part-000.jsonl"]))
    monkeypatch.setattr(runner_module, "BATCH_INPUTS", 1)  # 30 tasks: 4 waves of 8 in local[2]

    class StoppedAfterOne(SparkHunt):  # as a signal handler would, once the first input is in
        def _waves(self, context: Any, rdd: Any, count: int) -> Iterator[Any]:
            for number, detection in enumerate(super()._waves(context, rdd, count)):
                yield detection
                if number == 0:
                    self.request_stop("SIGTERM")

    runner = StoppedAfterOne(spark, HuntOptions(rules=[rules]))
    found = digests(runner.run([folder]))
    assert runner.stats.stopped == "SIGTERM" and not runner.stats.complete
    assert found == first and len(found) < len(complete)  # what was found, correlations flushed
    assert runner.stats.sources_done == 1 and len(runner.stats.unfinished) == 20


def test_split_syslog_of_sysmon_for_linux(spark: Any, tmp_path: Path) -> None:
    from datetime import date, timedelta

    template = (PROJECT / "tests" / "fixtures" / "linux" / "sysmon_linux_t1049.log").read_text()
    days = [(date(2024, 10, 21) + timedelta(days=n)).isoformat() for n in range(100)]
    path = tmp_path / "syslog"
    path.write_text("".join(template.replace("2024-10-21", day) for day in days))
    local = Hunt(HuntOptions())
    expected = digests(local.run([path]))
    remote = SparkHunt(spark, HuntOptions(split_bytes=150_000))
    found = digests(remote.run([path]))
    assert len(expected) >= 100 and found == expected
    assert problems_of(remote) == problems_of(local)
