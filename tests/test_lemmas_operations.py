"""The operations of issue #13 (relu, softmax, axis reductions, norm, division by a
matrix, exact constants): each rule of the table is a lemma proven for all sizes by
the prover, and a plausible wrong rule is refuted by the concrete witness."""

from fractions import Fraction

import sympy

NONE2 = ((None, None), (None, None))
ROW, COLUMN, SCALAR = ((None, None), (1, None)), ((None, None), (None, 1)), ((None, None), (1, 1))
LEFT_ROW = ((1, None), (None, None))

NEW_CASES = [  # (operation, argument, broadcast classes, parameter)
    ("relu", 0, (), None), ("abs", 0, (), None), ("step", 0, (), None), ("sign", 0, (), None),
    ("leaky_relu", 0, (), Fraction(1, 10)),
    ("mean", 0, (), None), ("softmax", 0, (), None), ("log_softmax", 0, (), None), ("logsumexp", 0, (), None),
    ("norm", 0, (), None),
    *[(f"{f}_axis{k}", 0, (), None) for f in ("sum", "mean", "softmax", "log_softmax", "logsumexp")
      for k in (0, 1)],
    ("div", 0, NONE2, None), ("div", 1, NONE2, None), ("div", 0, ROW, None), ("div", 1, ROW, None),
    ("div", 0, COLUMN, None), ("div", 1, COLUMN, None), ("div", 1, SCALAR, None), ("div", 0, LEFT_ROW, None),
    ("div", 0, (), sympy.sqrt(2)), ("div", 0, (), 1 / sympy.sqrt(sympy.Symbol("d", integer=True, positive=True))),
    ("div", 0, (), sympy.pi),
]
