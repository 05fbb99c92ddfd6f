"""Errors a user can cause, each mapped to the exit status the CLI returns."""

from __future__ import annotations

import enum

__all__ = ["ExitStatus", "SymderiveError", "BadInput", "ShapeError", "TooMuchWork"]


class ExitStatus(enum.IntEnum):
    """What ``python -m symderive`` exits with."""

    VERIFIED = 0  # every identity was checked exactly and holds
    REFUTED = 1  # an identity failed its check
    BAD_INPUT = 2  # the input was rejected before anything was derived or written
    UNDECIDED = 3  # the run stopped before it could decide (e.g. its time limit ran out); nothing written


class SymderiveError(Exception):
    """Base class of every error symderive raises on purpose."""

    exit_status = ExitStatus.BAD_INPUT


class BadInput(SymderiveError, ValueError):
    """Input symderive will not work on; the message says what it accepts."""


class ShapeError(BadInput):
    """Shapes that do not conform, e.g. a product whose inner dimensions differ."""


class TooMuchWork(BadInput):
    """Sizes whose derivation would take far longer than a lecture example should."""
