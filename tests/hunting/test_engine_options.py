"""`watchpost hunt --engine` (#16): Spark options without the Spark engine, or malformed, are
usage errors named before any rule is loaded."""

from __future__ import annotations

from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main
from watchpost.exit_codes import EXIT_USAGE
from watchpost.hunting.spark_session import parse_conf

INPUT = str(PROJECT / "tests" / "fixtures" / "seed")


def test_spark_options_need_the_spark_engine() -> None:
    result = CliRunner().invoke(main, ["hunt", "--master", "local[2]", INPUT])
    assert result.exit_code == EXIT_USAGE
    assert "--engine spark" in result.output


def test_spark_conf_must_be_key_value() -> None:
    result = CliRunner().invoke(main, ["hunt", "--engine", "spark", "--spark-conf", "novalue", INPUT])
    assert result.exit_code == EXIT_USAGE
    assert "'novalue' is not key=value" in result.output
    assert parse_conf(["a=b=c", "x="]) == [("a", "b=c"), ("x", "")]
