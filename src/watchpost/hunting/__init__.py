"""The hunt: its stages (rule set, record gates, per-source matching) and the `Hunt` that runs them."""
