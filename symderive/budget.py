"""A wall-clock budget for a run: when it runs out, the run stops cleanly.

The work estimate (:func:`symderive.pipeline.estimate_work`) is honest only for
polynomial expressions; an exact check of a transcendental or rational
expression can take a thousand times longer than any count of its terms says.
So every command runs within a budget of wall-clock seconds, and when it runs
out the run stops and says what it was doing and what it had decided by then.

How: :func:`within` arms ``signal.setitimer(ITIMER_REAL)``; the SIGALRM handler
raises :class:`_Expired` in the main thread, wherever the work is (SymPy is
pure Python, so it is interrupted within a bytecode or two; a long call inside
SymEngine's C++ is interrupted when it returns).  _Expired derives from
BaseException, so SymPy's ``except Exception`` clauses do not swallow it, and
the timer keeps firing every quarter second after the deadline in case
something does.  On leaving, :func:`within` turns it into
:class:`TimeLimitReached`, an ordinary symderive error (exit status 3), and
restores the previous SIGALRM handler and timer.  Outside the main thread (or
where there is no SIGALRM) there is no timer: the deadline is checked at each
stage and each row of the Jacobians instead (:func:`checkpoint`).

The pipeline records its progress here as it goes (:func:`stage`,
:func:`decided`), so the message can say which stage was running and which
identities had been decided.  :func:`held` holds the deadline off, for the
renames that put written files in place: both files change, or neither.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import BadInput, ExitStatus, SymderiveError

__all__ = ["DEFAULT_TIME_LIMIT", "TimeLimitReached", "time_limit_argument", "within", "stage",
           "decided", "pending", "checkpoint", "held", "remaining"]

DEFAULT_TIME_LIMIT = 60.0  # seconds, for every command line run
REFIRE_SECONDS = 0.25  # after the deadline, the timer fires again this often until the run has stopped
GRACE_SECONDS = 1.0  # ... but raises again only this long after the last time (the run may be unwinding)


class TimeLimitReached(SymderiveError):
    """The run's time ran out: what was decided, and what was not (exit status 3)."""

    exit_status = ExitStatus.UNDECIDED

    def __init__(self, seconds: float, stage: str, decided: list[str], pending: list[str],
                 done: list[str]) -> None:
        self.seconds = seconds
        self.stage = stage
        self.decided = list(decided)
        self.pending = list(pending)
        self.done = list(done)
        super().__init__(self.message)

    @property
    def reason(self) -> str:
        return f"time limit of {format_seconds(self.seconds)} s reached while {self.stage}"

    @property
    def message(self) -> str:
        parts = [self.reason]
        parts.append("decided before it: " + ("; ".join(self.decided) if self.decided else "nothing"))
        if self.pending:
            parts.append("not decided: " + ", ".join(self.pending))
        return "; ".join(parts)

    def report(self) -> dict[str, Any]:
        """As plain data (what ``--json`` prints)."""
        return {"status": "undecided", "reason": self.reason, "decided": list(self.decided),
                "undecided": list(self.pending), "stages_done": list(self.done),
                "time_limit": self.seconds}


def format_seconds(seconds: float) -> str:
    """60.0 as "60", 0.5 as "0.5"."""
    return f"{seconds:g}"


def time_limit_argument(label: str, value: object) -> float:
    """``value`` as a time limit in seconds: a positive, finite number, or BadInput
    naming ``label``.  Accepts numbers and plain decimal text ("60", "0.5", "1e3");
    refuses zero, negatives, nan, inf and anything else."""
    if isinstance(value, bool):
        raise BadInput(f"{label}: expected a positive number of seconds, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        # plain decimal notation only: float() would also read "nan", "inf", "1_000"
        if not text or not text.isascii() or not all(c in "0123456789.eE+-" for c in text):
            raise BadInput(f"{label}: expected a positive number of seconds, got {value!r}")
        try:
            number = float(text)
        except ValueError:
            raise BadInput(f"{label}: expected a positive number of seconds, got {value!r}") from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise BadInput(f"{label}: expected a positive number of seconds, got {value!r}")
    if not math.isfinite(number) or number <= 0:
        raise BadInput(f"{label}: expected a positive number of seconds (more than 0), got {value!r}")
    if number > 10**7:
        raise BadInput(f"{label}: at most {10**7} seconds, got {value!r}")
    return number


class _Expired(BaseException):
    """Raised by the timer in the main thread: the innermost budget's time is up.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` in
    SymPy or elsewhere mistakes it for a failed computation."""


@dataclass
class _Budget:
    seconds: float
    at: float  # time.monotonic() when it runs out
    stage: str = "starting"
    done: list[str] = field(default_factory=list)
    decided: list[str] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)  # ordered set

    def expired(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.at

    def reached(self) -> TimeLimitReached:
        return TimeLimitReached(self.seconds, self.stage, self.decided, list(self.pending), self.done)


class _State(threading.local):
    def __init__(self) -> None:
        self.budgets: list[_Budget] = []
        self.timer = False  # this thread armed SIGALRM (only ever the main thread)
        self.previous_handler: Any = None
        self.previous_timer: tuple[float, float] = (0.0, 0.0)
        self.saved_at = 0.0
        self.holding = 0
        self.deferred = False
        self.raised_at: float | None = None  # when the handler last raised _Expired
        self.stopping = False  # a budget is turning _Expired into TimeLimitReached


_state = _State()


def _can_use_timer() -> bool:
    return hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM") \
        and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    """Set the timer for the earliest deadline of the budgets in force."""
    if not _state.timer:
        return
    if not _state.budgets:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    left = min(b.at for b in _state.budgets) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-4), REFIRE_SECONDS)


def _on_alarm(signum, frame) -> None:
    now = time.monotonic()
    if not any(b.expired(now) for b in _state.budgets):
        _arm()  # early (a budget was entered or left meanwhile): wait for the real deadline
        return
    if _state.holding:
        _state.deferred = True
        return
    if _state.stopping or (_state.raised_at is not None and now - _state.raised_at < GRACE_SECONDS):
        return  # the run is already stopping; raise again only if something swallowed it
    _state.raised_at = now
    raise _Expired()


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Run the body within ``seconds`` of wall-clock time (None: no limit of its own,
    though an enclosing budget still applies).  Raises TimeLimitReached when the
    time runs out, saying which stage was running and what had been decided."""
    if seconds is None:
        yield
        return
    seconds = time_limit_argument("time_limit", seconds)
    budget = _Budget(seconds, time.monotonic() + seconds)
    first = not _state.budgets
    if first and _can_use_timer():
        _state.previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
        _state.previous_timer = signal.setitimer(signal.ITIMER_REAL, 0)
        _state.saved_at = time.monotonic()
        _state.timer = True
    _state.budgets.append(budget)
    try:
        _arm()
        yield
    except _Expired:
        _state.stopping = True
        if budget.expired() or budget is _state.budgets[0]:
            raise budget.reached() from None
        raise  # an enclosing budget's deadline
    finally:
        if budget in _state.budgets:
            _state.budgets.remove(budget)
        if first and _state.timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            previous = _state.previous_handler  # None: a handler not set from Python
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
            delay, interval = _state.previous_timer
            if delay > 0:  # the timer someone else had set, less the time spent here
                left = delay - (time.monotonic() - _state.saved_at)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)
            _state.timer = False
            _state.deferred = False
        else:
            _arm()
        _state.stopping = False
        _state.raised_at = None


def stage(description: str) -> None:
    """Record that the run has moved on to ``description`` (e.g. "deriving the
    Jacobians"); the previous stage is counted as done.  Also a checkpoint."""
    for budget in _state.budgets:
        if budget.stage != "starting":
            budget.done.append(budget.stage)
        budget.stage = description
    checkpoint()


def decided(statement: str, pending_key: str | None = None) -> None:
    """Record a decided outcome, e.g. "df/dX = G @ W.T verified"; ``pending_key``,
    if given, is removed from what is still to decide."""
    for budget in _state.budgets:
        budget.decided.append(statement)
        if pending_key is not None:
            budget.pending.pop(pending_key, None)


def pending(*keys: str) -> None:
    """Record outcomes still to be decided, e.g. "df/dX"."""
    for budget in _state.budgets:
        for key in keys:
            budget.pending[key] = None


def checkpoint() -> None:
    """Stop here if a budget has run out (a cooperative check, for where there is no
    timer; with the timer it only catches a deadline passed a moment ago)."""
    if _state.holding:
        return
    now = time.monotonic()
    if any(b.expired(now) for b in _state.budgets):
        raise _Expired()


def remaining() -> float | None:
    """Seconds left in the tightest budget in force, or None when there is none."""
    if not _state.budgets:
        return None
    return max(0.0, min(b.at for b in _state.budgets) - time.monotonic())


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold the deadline off for the body (e.g. renaming written files into place):
    a deadline passing meanwhile takes effect when the body is over."""
    _state.holding += 1
    try:
        yield
    finally:
        _state.holding -= 1
        if not _state.holding and _state.deferred:
            _state.deferred = False
            if _state.timer and _state.budgets:
                signal.setitimer(signal.ITIMER_REAL, 1e-4, REFIRE_SECONDS)
