"""Tests of laketrace.spool."""
