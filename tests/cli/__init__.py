"""Tests of laketrace.cli."""
