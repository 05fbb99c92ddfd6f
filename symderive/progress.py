"""A progress bar on stderr for long derivations, drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Call ``progress(label, done, total)`` as work advances; it redraws at most
    ten times a second, with an estimate of the time left, and only when the
    stream is a terminal (so logs, pipes and tests see nothing)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.started: dict[str, float] = {}
        self.drawn = 0.0
        self.open = False  # a bar is drawn and its line not ended

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        start = self.started.setdefault(label, now)
        if done < total and now - self.drawn < 0.1:
            return
        self.drawn = now
        fraction = done / total
        filled = int(self.width * fraction)
        left = (now - start) / fraction - (now - start) if fraction > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{label:>14} [{bar}] {100 * fraction:5.1f}%  about {left:4.0f} s left{end}")
        self.stream.flush()
        self.open = not end

    def close(self) -> None:
        """End the line of a bar the run left unfinished (stopped by its time limit),
        so that what is printed next starts on a line of its own."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
