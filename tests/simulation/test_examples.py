"""The bundled examples/ (README quick start) are what ``watchpost simulate`` writes, and alert."""

from __future__ import annotations

from pathlib import Path

from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.simulation import resolve, simulate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COMMAND = [
    "seed",
    "atomic-t1049-1",
    "atomic-t1049-2",
    "atomic-t1049-5-linux",
    "atomic-t1049-4-macos",
    "burst-windows-c2",
    "cloud-aws-network-mapping",
]
"""docs/DETECTION.md: watchpost simulate <COMMAND> --out examples --background 200 --truth <elsewhere>"""


def test_examples_are_reproduced_byte_for_byte_by_simulate(tmp_path: Path) -> None:
    simulate(resolve(COMMAND), tmp_path, background=200)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    written.remove("labels.csv")
    written.remove("manifest.json")
    bundled = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file())
    assert written == bundled
    for name in bundled:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_hunting_the_examples_reads_everything_and_alerts_on_each_platform() -> None:
    hunt = Hunt(HuntOptions())
    alerts = list(hunt.run([EXAMPLES]))
    assert hunt.problems.count() == 0
    assert sum(p.stat().st_size for p in EXAMPLES.rglob("*") if p.is_file()) < 600_000
    products = {alert.events[0].logsource.product for alert in alerts}
    assert products == {"windows", "linux", "macos", "aws"}
    assert len(alerts) >= 30
