"""Fixtures for the sink tests: alerts raised from hostile log content through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sinks.hostile import payloads, write_hostile_case
from watchpost.alerts import Alert
from watchpost.hunting.engine import hunt


@pytest.fixture(scope="session")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_hostile_case(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def hostile_alerts(hostile_case: tuple[Path, Path]) -> list[Alert]:
    log, rule = hostile_case
    alerts = list(hunt([log], rules=[rule]))
    assert len(alerts) == len(payloads()), "every hostile event must raise an alert"
    return alerts
