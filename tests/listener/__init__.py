"""Tests of spark_listener that need no Spark session."""
