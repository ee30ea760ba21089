"""Progress and summary output for the CLI: rich when installed, plain text otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Numbered steps with elapsed time, a flush progress callback, tables and headings."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.t0 = time.monotonic()
        self.n = 0
        try:
            from rich.console import Console

            self.console: Any = Console(file=self.stream, highlight=False)
        except ImportError:
            self.console = None

    def _print(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def step(self, text: str) -> None:
        self.n += 1
        self._print(f"[{time.monotonic() - self.t0:6.1f}s] {self.n}. {text}", "bold")

    def flush_callback(self, info: dict) -> None:
        if info.get("event") == "batch":
            self._print(
                f"          flush batch {info['index']}/{info['total']}: {info['files']} file(s),"
                f" {info['records']:,} records, {info['quarantined']} quarantined"
            )

    def done(self) -> None:
        self._print(f"[{time.monotonic() - self.t0:6.1f}s] done", "green")

    def heading(self, text: str) -> None:
        self._print("")
        self._print(f"== {text} ==", "bold cyan")

    def line(self, text: str) -> None:
        self._print(text)

    def table(self, columns: list[str], rows: list[list[Any]]) -> None:
        if self.console is not None:
            from rich.table import Table

            t = Table(*columns)
            for r in rows:
                t.add_row(*["" if v is None else str(v) for v in r])
            self.console.print(t)
            return
        cells = [[("" if v is None else str(v))[:40] for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        self._print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        self._print("-+-".join("-" * w for w in widths))
        for r in cells:
            self._print(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
