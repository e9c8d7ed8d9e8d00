"""Tests of correlation (watchpost.correlation) and the seed dialect (watchpost.rules.seed)."""
