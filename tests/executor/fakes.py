"""Stand-ins for pyspark's task objects, for executor-side tests without Spark."""

from __future__ import annotations

from laketrace.executor.accumulator import TaskBuffer


class FakeTask:
    """Just enough of pyspark's TaskContext for the executor proxy."""

    def stageId(self) -> int:
        return 3

    def partitionId(self) -> int:
        return 1

    def attemptNumber(self) -> int:
        return 0

    def taskAttemptId(self) -> int:
        return 99

    def getLocalProperty(self, key: str) -> str | None:
        return None


class FakeAccumulator:
    """The accumulator a task sees: its value is the task's buffer."""

    def __init__(self) -> None:
        self._value = TaskBuffer()
