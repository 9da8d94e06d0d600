"""Progress on stderr: a bar on a terminal (tqdm, from the ``cli`` extra), plain lines otherwise.

tqdm is imported only when a bar is drawn, so ``import memactor`` and scripted runs never load it; without it
installed a terminal gets the plain lines too.
"""

from __future__ import annotations

import importlib
import sys
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Counts work done and shows it: ``with Progress("export", unit="records") as bar: bar.advance(n)``.

    Args:
        label: What is being done, first on every line.
        unit: What is counted.
        total: How much there is, when known.
        stream: Where to write (stderr: stdout may carry the command's output).
        every: Plain mode writes a line each time this many more units are done (and one at the end).
    """

    def __init__(
        self, label: str, unit: str, total: int | None = None, stream: TextIO | None = None, every: int = 10_000
    ) -> None:
        self._label = label
        self._unit = unit
        self._total = total
        self._stream = stream if stream is not None else sys.stderr
        self._every = every
        self._done = 0
        self._next_line = every
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self._stream.isatty():
            try:
                tqdm = importlib.import_module("tqdm").tqdm
            except ModuleNotFoundError:
                return self
            self._bar = tqdm(desc=self._label, unit=f" {self._unit}", total=self._total, file=self._stream)
        return self

    @property
    def done(self) -> int:
        """Units done so far."""
        return self._done

    def advance(self, amount: int) -> None:
        """Record ``amount`` more units done."""
        self._done += amount
        if self._bar is not None:
            self._bar.update(amount)
        elif self._done >= self._next_line:
            self._line()
            self._next_line = self._done + self._every

    def _line(self) -> None:
        of = f" of {self._total}" if self._total is not None else ""
        print(f"{self._label}: {self._done}{of} {self._unit}", file=self._stream, flush=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.close()
        elif exc_type is None:
            self._line()
