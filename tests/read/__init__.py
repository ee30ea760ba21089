"""Tests of laketrace.read."""
