"""symderive: derive, prove and typeset the backpropagation identities of matrix calculus.

    >>> from symderive import derive, check
    >>> r = derive(n=3, m=2, d=4)                 # the seed note's Y = X W
    >>> r.closed_forms["X"]                       # G*W.T, checked exactly against the chain rule
    >>> derive("tanh(X @ W + b)", shapes={"b": (1, 4)}).verified
    >>> check("trace(X @ A)", wrt="X", claim="A.T").holds

In a course's own tests, :mod:`symderive.testing` checks backward code:
``assert_backward(backward, "tanh(X @ W + b)", shapes)``.

The names below are imported on first use: importing the package itself loads
no SymPy, so the pytest plugin (:mod:`symderive.pytest_plugin`, registered for
every pytest run once symderive is installed) costs nothing where it is not used.
"""

from __future__ import annotations

import importlib

from .errors import BadInput, ExitStatus, ShapeError, SymderiveError, TooMuchWork

__all__ = ["derive", "check", "Derivation", "CheckResult", "ExitStatus", "SymderiveError",
           "BadInput", "ShapeError", "ParseError", "TooMuchWork"]
__version__ = "0.1.0"

_LAZY = {"derive": "pipeline", "check": "pipeline", "Derivation": "pipeline", "CheckResult": "pipeline",
         "ParseError": "parse"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
