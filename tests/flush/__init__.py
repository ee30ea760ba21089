"""Tests of laketrace.flush."""
