"""Log levels: names, numbers and the `Level` value handed to callbacks."""

from __future__ import annotations

import difflib

from ..errors import ConfigError


class Level(str):
    """A level name that compares equal to its name and carries its number as ``.no``.

    ``.name`` (the name) and ``.value`` (the number) read like LakeTrace 1.x's level enum.

    >>> from laketrace.record.levels import LEVELS
    >>> LEVELS["ERROR"] == "ERROR", LEVELS["ERROR"].no
    (True, 40)
    >>> LEVELS["ERROR"].name, LEVELS["ERROR"].value
    ('ERROR', 40)
    """

    __slots__ = ("no",)
    no: int

    def __new__(cls, name: str, no: int) -> Level:
        self = super().__new__(cls, name)
        self.no = no
        return self

    @property
    def name(self) -> str:
        """The level name as a plain ``str`` (LakeTrace 1.x: ``record.level.name``)."""
        return str(self)

    @property
    def value(self) -> int:
        """The level number, like ``.no`` (LakeTrace 1.x: ``record.level.value``)."""
        return self.no

    def __reduce__(self) -> tuple:
        return (Level, (str(self), self.no))


LEVELS: dict[str, Level] = {
    name: Level(name, no)
    for name, no in (
        ("TRACE", 5),
        ("DEBUG", 10),
        ("INFO", 20),
        ("SUCCESS", 25),
        ("WARNING", 30),
        ("ERROR", 40),
        ("CRITICAL", 50),
    )
}
BY_NO: dict[int, Level] = {lvl.no: lvl for lvl in LEVELS.values()}
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR"}


def parse_level(value: object, *, key: str = "level") -> Level:
    """Turn a level name or number into a `Level`, or raise a `ValueError` that teaches."""
    if isinstance(value, Level):
        return value
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value in BY_NO:
            return BY_NO[value]
        # stdlib custom numbers map down to the nearest known level
        below = [no for no in BY_NO if no <= value]
        if below and 0 <= value <= 100:
            return BY_NO[max(below)]
    elif isinstance(value, str):
        name = value.strip().upper()
        name = _ALIASES.get(name, name)
        if name in LEVELS:
            return LEVELS[name]
        close = difflib.get_close_matches(name, list(LEVELS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"config {key!r}: unknown level {value!r}. Accepted: one of "
            f"{', '.join(LEVELS)} (any case) or a number 0-100.{hint}"
        )
    raise ConfigError(
        f"config {key!r}: level must be a name ({', '.join(LEVELS)}) or a number "
        f"0-100, got {value!r} of type {type(value).__name__}."
    )


def stdlib_level(levelno: int) -> Level:
    """Map a stdlib `logging` number onto the nearest LakeTrace level at or below it."""
    if levelno in BY_NO:
        return BY_NO[levelno]
    if levelno < 5:
        return LEVELS["TRACE"]
    return BY_NO[max(no for no in BY_NO if no <= levelno)]
