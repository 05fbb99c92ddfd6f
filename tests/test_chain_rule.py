"""dY/dA from the one-pass monomial reading equals SymPy's own diff, entry by entry.

The reference here is ``sympy.diff`` of each Y_pq by each A_ij over the whole
4th-rank tensor, zeros included: slow, but independent of chain_rule's
shortcuts (the monomial pass, visiting only the symbols an entry contains,
reading several inputs in one pass).
"""

import pytest
import sympy

from symderive import chain_rule, engine
from symderive.parse import parse

CASES = [
    # expression, shapes; chosen to hit every branch of the monomial pass
    ("X @ W", {"X": (2, 3), "W": (3, 2)}),  # products of two different symbols
    ("X @ X", {"X": (3, 3)}),  # a symbol in several monomials of one entry, and squared
    ("X * X + 3 * X", {"X": (2, 2)}),  # a power with a coefficient, a lone symbol times a number
    ("X @ W @ V - 2 * X @ W", {"X": (2, 2), "W": (2, 3), "V": (3, 1)}),  # three factors
    ("X @ W + 1", {"X": (2, 2), "W": (2, 2)}),  # a constant term
    ("tanh(X @ W)", {"X": (2, 2), "W": (2, 1)}),  # not a polynomial: diff per symbol
]


def reference(output, matrix):
    """Every nonzero dY_pq/dA_ij by sympy.diff, zeros included in the search."""
    found = {}
    for p in range(output.rows):
        for q in range(output.cols):
            for i in range(matrix.rows):
                for j in range(matrix.cols):
                    value = sympy.expand(sympy.diff(output[p, q], matrix[i, j]))
                    if value != 0:
                        found[(p, q, i, j)] = value
    return found


# each case in SymPy, and in SymEngine too when symderive would use it there (polynomials)
PAIRS = [(expression, shapes, kind) for expression, shapes in CASES
         for kind in (engine.SYMPY, engine.SYMENGINE)
         if kind == engine.SYMPY or engine.engine_for(parse(expression)) == engine.SYMENGINE]


@pytest.mark.parametrize("expression, shapes, kind", PAIRS)
def test_one_pass_jacobians_equal_sympy_diff(expression, shapes, kind):
    tree = parse(expression)
    inputs = {name: engine.matrix_of_symbols(name, rows, cols, kind) for name, (rows, cols) in shapes.items()}
    output = engine.explicit(tree, inputs, kind)
    together = chain_rule.jacobians(output, "Y", inputs)
    output_sympy = engine.matrix_to_sympy(output)
    for name, matrix in inputs.items():
        expected = reference(output_sympy, engine.matrix_to_sympy(matrix))
        got = {key: sympy.expand(engine.to_sympy(value)) for key, value in together[name].entries.items()}
        assert got == expected, name
        assert together[name].shape == (output.rows, output.cols, matrix.rows, matrix.cols)
        # one input at a time gives the same tensor as all inputs in one pass
        alone = chain_rule.jacobian(output, "Y", matrix, name)
        assert alone.entries == together[name].entries
