"""Tests of laketrace.log."""
