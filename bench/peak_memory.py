"""Peak resident memory of a benchmark process, not inherited from the harness that started it.

``ru_maxrss`` of a process started by fork + exec is at least the RSS of the parent at the fork
(Linux keeps the old image's high-water mark across exec), so a harness that once held a corpus
in memory would inflate every later measurement. ``VmHWM`` in ``/proc/self/status`` is the
high-water mark of the running image only; worker processes forked by the measured process
itself are counted through ``RUSAGE_CHILDREN`` (their figure includes what they share with it).
"""

from __future__ import annotations

import resource
from pathlib import Path


def own_peak_kb() -> int:
    """This process's peak RSS in KiB (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_mb(with_children: bool = True) -> float:
    """The largest peak RSS of this process and (optionally) the children it waited for, in MiB."""
    peak = own_peak_kb()
    if with_children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return peak / 1024
