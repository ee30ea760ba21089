"""Tests of laketrace.executor."""
