"""Log values past float's range never crash a correlation (issue 19, Deliver 6: fixed where it
arises). A value_sum over three events whose ``Bytes`` is ``1e308`` (log content: attacker-
controlled) raised OverflowError out of `math.fsum` and ended the hunt; an integer of 400 digits
raised it out of `float()`."""

from __future__ import annotations

import json
import math

from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost import hunt
from watchpost.cli import main
from watchpost.correlation.keys import number_of
from watchpost.correlation.measures import total

VALUES = PROJECT / "tests" / "fixtures" / "extreme_values"


def test_a_sum_past_float_range_fires_instead_of_crashing() -> None:
    result = CliRunner().invoke(main, ["hunt", str(VALUES / "bytes_1e308.jsonl"), "--rules", str(VALUES),
                                       "-f", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0 and "Traceback" not in result.stderr
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    sums = [alert for alert in alerts if alert["rule"]["title"] == "Sum Bytes"]
    assert len(sums) == 1  # 1e308 + 1e308 passes 1.7e308 (as infinity) on the second event
    assert len(sums[0]["events"]) == 2


def test_the_api_gives_the_same_alert() -> None:
    alerts = list(hunt([VALUES / "bytes_1e308.jsonl"], rules=[VALUES]))
    assert [alert.rule.title for alert in alerts] == ["Sum Bytes"]


def test_sums_and_numbers_past_float_range() -> None:
    assert total([1e308, 1e308]) == math.inf
    assert total([-1e308, -1e308]) == -math.inf
    assert total([0.1, 0.2, 0.3]) == 0.6  # exact as before: fsum, not a plain sum
    assert number_of(10**400) is None
    assert number_of(10**300) == 1e300
