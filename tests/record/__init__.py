"""Tests of laketrace.record."""
