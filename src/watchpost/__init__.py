"""watchpost: a Sigma detection engine for T1049 (System Network Connections Discovery)."""

__version__ = "0.1.0"
