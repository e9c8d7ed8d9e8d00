"""correlation package."""
