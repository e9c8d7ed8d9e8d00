"""The example logs shipped with watchpost (package data), for a first run: ``watchpost hunt
--examples``. They are a small emulation written by ``watchpost simulate`` (docs/DETECTION.md);
the repository's ``examples/`` is a link to this folder."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def examples_folder() -> Path:
    """The folder of the bundled example logs; FileNotFoundError when the package lacks it."""
    if not EXAMPLES.is_dir():
        raise FileNotFoundError(f"the bundled examples are missing from this installation: {EXAMPLES}")
    return EXAMPLES
