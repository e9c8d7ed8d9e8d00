"""Tests of the watchpost command line."""
