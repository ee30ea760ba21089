"""Tests of laketrace.sinks."""
