"""Mutation test of the prover: break the proven derivations one edit at a time.

Every step of the shipped general proofs and of the note's transcriptions is
mutated -- a bound flipped, a range dropped, an entry's indices swapped, a
delta deleted, a sign changed, the upstream gradient differentiated -- and the
mutated step is checked against the line before it.  A mutation may happen to
be true (swapping the indices of a delta changes nothing); so whenever the
prover says "proven", the step is evaluated here, by an evaluator written for
this test (explicit SymPy matrices, f = sum(C * Y) + |Y|^2 / 2 for symbols C, so
that G = C + Y, derivatives by sympy.diff), at sizes up to 4, beyond the prover's own witness.  No false
step may be proven, and most mutations must be caught.
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from symderive.derivation_file import read_derivation
from symderive.expr import Add, MatMul, Name, Transpose
from symderive.general import matmul_proof_text
from symderive.index import Delta, Derivative, Entry, Neg, Num, Plus, Scalar, Sum, Times
from symderive.parse import ParseError
from symderive.prove import FALSE, PROVEN, check_derivation

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def chains() -> dict[str, str]:
    found = {"general df/dX": matmul_proof_text("X"), "general df/dW": matmul_proof_text("W")}
    for name in ("note_section3.sd", "note_section4.sd"):
        found[name] = (EXAMPLES / name).read_text(encoding="utf-8")
    return found


def split(text: str) -> tuple[str, list[str]]:
    """Declarations, and the lines of the chain (comments removed)."""
    lines = [line.split("#")[0].rstrip() for line in text.splitlines()]
    start = next(k for k, line in enumerate(lines)
                 if line and not line.split()[0] in {"title", "sizes", "matrix", "upstream", "index"})
    return "\n".join(lines[:start]), [line.strip().lstrip("=").strip() for line in lines[start:] if line.strip()]


# --- mutations -------------------------------------------------------------

ENTRY = re.compile(r"(\b[A-Z]\w*(?:\.T)?)\[(\w+),(\w+)\]")
SUM = re.compile(r"sum\((\w)=(\w+)\.\.(\w+),")
UPSTREAM = re.compile(r"\bG\[\w+,\w+\]")
DELTA = re.compile(r"delta\((\w+),(\w+)\) \* ")


def mutations(line: str, sizes: list[str]) -> list[tuple[str, str]]:
    found = []
    for match in ENTRY.finditer(line):  # swap an entry's indices
        name, a, b = match.groups()
        if a != b:
            found.append((f"swap {match.group(0)}", line[:match.start()] + f"{name}[{b},{a}]" + line[match.end():]))
    for match in SUM.finditer(line):  # flip a bound: start at 2, or end at another size
        var, lo, hi = match.groups()
        found.append((f"lower bound of {var} to 2",
                      line[:match.start()] + f"sum({var}=2..{hi}," + line[match.end():]))
        for other in sizes:
            if other != hi:
                found.append((f"upper bound of {var} to {other}",
                              line[:match.start()] + f"sum({var}={lo}..{other}," + line[match.end():]))
    for match in DELTA.finditer(line):  # drop a range restriction: delete a delta
        found.append((f"drop {match.group(0).strip(' *')}", line[:match.start()] + line[match.end():]))
    found.append(("negate", f"-({line})"))
    found.append(("double", f"2 * ({line})"))
    for match in UPSTREAM.finditer(line):  # differentiate the upstream gradient
        found.append((f"differentiate {match.group(0)}", line[:match.start()]
                      + f"d({match.group(0)} * X[i,j])/d(X[i,j])" + line[match.end():]))
    return found


# --- an evaluator written for this test ------------------------------------


class OutOfRange(Exception):
    pass


def evaluator(decl, sizes: dict[str, int]):
    def size(atom):
        return atom if isinstance(atom, int) else sizes[atom]

    matrices = {}
    for name, (r, c) in decl.shapes.items():
        if decl.upstream and name == decl.upstream[0]:
            continue
        matrices[name] = sympy.Matrix(size(r), size(c), lambda i, j: sympy.Symbol(f"{name}_{i + 1}_{j + 1}"))

    def matrix(node):
        if isinstance(node, Name):
            if node.name not in matrices:
                matrices[node.name] = matrix(decl.defined[node.name])
            return matrices[node.name]
        if isinstance(node, Transpose):
            return matrix(node.operand).T
        left, right = matrix(node.left), matrix(node.right)
        if isinstance(node, MatMul):
            return left * right
        return left + right if isinstance(node, Add) else left - right

    if decl.upstream:
        upstream, output = decl.upstream
        out = matrix(Name(output))
        # f = sum(C * Y) + |Y|^2 / 2 for symbols C: not linear, so df/dY = C + Y depends on Y
        # (under a linear f the upstream gradient would be a constant, and its
        # derivative 0 would look right)
        C = sympy.Matrix(out.rows, out.cols, lambda i, j: sympy.Symbol(f"C_{i + 1}_{j + 1}"))
        f = sum((c * y + y ** 2 / 2 for c, y in zip(C, out)), sympy.S.Zero)
        matrices[upstream] = C + out

    def entry(node, row, col):
        m = matrix(node)
        if not (1 <= row <= m.rows and 1 <= col <= m.cols):
            raise OutOfRange
        return m[row - 1, col - 1]

    def value(expr, env):
        def idx(atom):
            return atom if isinstance(atom, int) else env[atom] if atom in env else size(atom)

        if isinstance(expr, Num):
            return sympy.Rational(Fraction(expr.value).numerator, Fraction(expr.value).denominator)
        if isinstance(expr, Neg):
            return -value(expr.operand, env)
        if isinstance(expr, Plus):
            return sum((value(t, env) for t in expr.terms), sympy.S.Zero)
        if isinstance(expr, Times):
            return sympy.Mul(*(value(t, env) for t in expr.factors))
        if isinstance(expr, Delta):
            return sympy.S.One if idx(expr.a) == idx(expr.b) else sympy.S.Zero
        if isinstance(expr, Sum):
            return sum((value(expr.body, {**env, expr.var: v})
                        for v in range(idx(expr.lower), idx(expr.upper) + 1)), sympy.S.Zero)
        if isinstance(expr, Entry):
            return entry(expr.matrix, idx(expr.row), idx(expr.col))
        if isinstance(expr, Derivative):
            by = entry(expr.wrt.matrix, idx(expr.wrt.row), idx(expr.wrt.col))
            of = f if isinstance(expr.of, Scalar) else value(expr.of, env)
            return sympy.diff(of, by)
        raise TypeError(expr)

    return value


def truly_equal(derivation, sizes_to_try=(1, 2, 4)) -> bool:
    decl = derivation.declarations
    before, after = (step.expression for step in derivation.steps)
    for values in itertools.product(sizes_to_try, repeat=len(decl.sizes)):
        sizes = dict(zip(decl.sizes, values))
        value = evaluator(decl, sizes)
        spans = [range(lo if isinstance(lo, int) else sizes[lo], (hi if isinstance(hi, int) else sizes[hi]) + 1)
                 for lo, hi in decl.ranges.values()]
        for point in itertools.product(*spans):
            env = dict(zip(decl.ranges, point))
            try:
                if sympy.expand(value(before, env) - value(after, env)) != 0:
                    return False
            except OutOfRange:
                return False
    return True


def cases():
    for title, text in chains().items():
        header, lines = split(text)
        sizes = next(line.split()[1:] for line in header.splitlines() if line.startswith("sizes"))
        for k in range(1, len(lines)):
            for what, mutated in mutations(lines[k], sizes):
                yield pytest.param(header, lines[k - 1], mutated, id=f"{title}: step {k}: {what}")


CASES = list(cases())


def test_there_are_many_mutations():
    assert len(CASES) >= 150


@pytest.mark.parametrize("header, before, mutated", CASES)
def test_no_mutated_step_is_proven_unless_it_is_true(header, before, mutated):
    try:
        derivation = read_derivation(f"{header}\n\n{before}\n  = {mutated}\n")
    except ParseError:
        return  # not a derivation any more (an index no longer bound): nothing is claimed
    report = check_derivation(derivation)
    if report.error:
        return  # refused as stated (e.g. a derivative of the upstream gradient)
    (step,) = report.steps
    if step.verdict == PROVEN:
        assert truly_equal(derivation), f"a false step was proven: {before}  =  {mutated}"


def test_most_mutations_are_caught_as_false():
    caught = refused = proven = 0
    for case in CASES:
        header, before, mutated = case.values
        try:
            report = check_derivation(read_derivation(f"{header}\n\n{before}\n  = {mutated}\n"))
        except ParseError:
            refused += 1
            continue
        if report.error:
            refused += 1
        elif report.steps[0].verdict == FALSE:
            caught += 1
        elif report.steps[0].verdict == PROVEN:
            proven += 1
    # the few mutations that are true (delta(p,i) as delta(i,p), ...) are the only ones proven
    assert caught >= 0.8 * (len(CASES) - refused), (caught, refused, proven, len(CASES))
    assert proven <= 0.1 * len(CASES)
