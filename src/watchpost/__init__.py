"""watchpost: a Sigma detection engine for T1049 (System Network Connections Discovery)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Hunt", "HuntOptions", "hunt", "__version__"]

if TYPE_CHECKING:
    from watchpost.hunting.engine import Hunt, HuntOptions, hunt


def __getattr__(name: str) -> Any:
    # Imported on first use so `import watchpost` stays cheap (pySigma loads only when needed).
    if name in ("Hunt", "HuntOptions", "hunt"):
        from watchpost.hunting import engine

        return getattr(engine, name)
    raise AttributeError(name)
