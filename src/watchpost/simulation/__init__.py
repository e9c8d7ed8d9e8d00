"""Attack emulation: realistic, labelled logs of T1049 scenarios and benign background.

``watchpost simulate SCENARIO… --out DIR [--background N] [--seed S]`` (`watchpost.commands.simulate`)
writes, for the seed note's test cases and each Atomic Red Team T1049 test (plus discovery bursts
and cloud network mapping), the logs a real host writes, in their native formats, with the ground
truth beside them. The same seed gives the same files.

- `catalog`: the scenarios and their groups; `scenarios_windows`, `scenarios_unix_cloud`: builders.
- `world`: the simulated hosts and accounts; `windows_events`, `unix_events`, `cloud_events`: the
  record formats; `records`: `Record` and `Label`.
- `background`, `background_unix_cloud`: benign activity at any volume, near misses labelled.
- `writer`: merging in time order, numbering, ``labels.csv`` and ``manifest.json``.
"""

from watchpost.simulation.catalog import GROUPS, SCENARIOS, Scenario, UnknownScenario, resolve
from watchpost.simulation.writer import SimulationSummary, simulate

__all__ = ["GROUPS", "SCENARIOS", "Scenario", "SimulationSummary", "UnknownScenario", "resolve", "simulate"]
