"""Logging from code that runs in Spark tasks: the task logger `get_logger` returns there,
the picklable accumulator-backed proxy of ``log.for_executors()``, the accumulator that
carries records to the driver, and the link to the driver's loggers."""
