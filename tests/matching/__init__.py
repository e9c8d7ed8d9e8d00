"""Tests of the matching core (watchpost.matching) and the rule modifier/placeholder helpers."""
