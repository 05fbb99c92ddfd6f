"""symderive: derive, prove and typeset the backpropagation identities of matrix calculus.

    >>> from symderive import derive, check
    >>> r = derive(n=3, m=2, d=4)                 # the seed note's Y = X W
    >>> r.closed_forms["X"]                       # G*W.T, checked exactly against the chain rule
    >>> derive("tanh(X @ W + b)", shapes={"b": (1, 4)}).verified
    >>> check("trace(X @ A)", wrt="X", claim="A.T").holds
"""

from .errors import BadInput, ExitStatus, ShapeError, SymderiveError, TooMuchWork
from .parse import ParseError
from .pipeline import CheckResult, Derivation, check, derive

__all__ = ["derive", "check", "Derivation", "CheckResult", "ExitStatus", "SymderiveError",
           "BadInput", "ShapeError", "ParseError", "TooMuchWork"]
__version__ = "0.1.0"
