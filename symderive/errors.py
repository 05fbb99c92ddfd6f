"""Errors a user can cause, each mapped to the exit status the CLI returns."""

from __future__ import annotations

import enum

__all__ = ["ExitStatus", "SymderiveError", "BadInput", "ShapeError", "TooMuchWork"]


class ExitStatus(enum.IntEnum):
    """What ``python -m symderive`` exits with."""

    VERIFIED = 0  # every identity was checked exactly and holds
    REFUTED = 1  # an identity is false: an exact counterexample (an entry, or shapes that differ)
    BAD_INPUT = 2  # the input was rejected before anything was derived or written
    UNDECIDED = 3  # none refuted, but not all verified: an entry the kernel could not decide,
    #                or an exact check the numeric witness contradicts (an internal inconsistency),
    #                or the run's time limit ran out first (nothing written)
    INTERNAL_ERROR = 4  # a bug of symderive's: nothing decided, nothing written; never a verdict


class SymderiveError(Exception):
    """Base class of every error symderive raises on purpose."""

    exit_status = ExitStatus.BAD_INPUT


class BadInput(SymderiveError, ValueError):
    """Input symderive will not work on; the message says what it accepts."""


class ShapeError(BadInput):
    """Shapes that do not conform, e.g. a product whose inner dimensions differ."""


class TooMuchWork(BadInput):
    """Sizes whose derivation would take far longer than a lecture example should."""
