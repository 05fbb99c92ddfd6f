"""symderive: derive, prove and typeset the backpropagation identities of matrix calculus.

    >>> from symderive import derive
    >>> r = derive(n=3, m=2, d=4)     # the seed note's Y = X W
    >>> r.closed_forms["X"]           # G*W.T, checked exactly against the chain rule
"""

from .errors import BadInput, ExitStatus, ShapeError, SymderiveError, TooMuchWork
from .pipeline import Derivation, derive

__all__ = ["derive", "Derivation", "ExitStatus", "SymderiveError", "BadInput", "ShapeError",
           "TooMuchWork"]
__version__ = "0.1.0"
