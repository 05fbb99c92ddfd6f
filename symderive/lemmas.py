"""Lemmas: every rule of the table, stated in index notation and proven for all sizes.

A rule of :mod:`symderive.rules` says how an operation Y = op(A, B) turns the
upstream gradient G = df/dY into df/dA.  Its lemma is that statement for
symbolic sizes and *any* scalar f(Y), exactly as the seed note proves
df/dX = df/dY Wᵀ::

    d(f)/d(A[i,j]) = (rule(G, A, B))[i,j]      for 1 <= i <= rows(A), 1 <= j <= cols(A)

The left side is read by the multivariable chain rule through G; both sides are
brought to normal forms by :mod:`symderive.prove`, the same checker that reads
derivations people write.  The checker never imports this module or the rule
table: a lemma is a claim handed to it.  The note's own product rule keeps its
seven-step proof (:mod:`symderive.general`); every other lemma is a one-step
derivation whose step the normal forms decide.

inv and det have no definition in index notation here: their lemmas are
checked exactly at every size up to K, never "proven", and a program that uses
them is not proven for all sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

from .derivation_file import format_index_expr
from .expr import Call, Div, Expr, Hadamard, MatMul, Name, Neg, Number, Power, Transpose
from .index import Declarations, Derivation, Derivative, Entry, Scalar, Step
from .prove import PROVEN, ProofReport, check_derivation
from . import rules

__all__ = ["Lemma", "lemma_for", "lemmas_for_node", "SymbolicSize"]


class SymbolicSize(str):
    """A size written as a name.  The rule table asks "was this dimension
    stretched?" as ``shape == 1 and out > 1``: a symbolic size may be more than
    1, and the broadcast rule (summing G over the stretched axis) holds at 1 too."""

    def __gt__(self, other) -> bool:
        return True if isinstance(other, int) else str.__gt__(self, other)


N, M, D = SymbolicSize("n"), SymbolicSize("m"), SymbolicSize("d")
_ARGUMENTS = ("A", "B")


@dataclass(frozen=True)
class Lemma:
    """The rule for one argument of one operation, stated and checked for all sizes."""

    name: str  # e.g. "matmul, argument A"
    rule: rules.Rule
    node: Expr  # Y = node, over the arguments A (and B)
    shapes: tuple  # the arguments' symbolic shapes
    claim: Expr  # the rule's df/dA, in G and the arguments
    report: ProofReport

    @property
    def proven(self) -> bool:
        return self.report.proven

    @property
    def statement(self) -> str:
        shapes = ", ".join(f"{a}: {r} x {c}" for a, (r, c) in zip(_ARGUMENTS, self.shapes))
        return f"Y = {self.node} with {shapes}, any f(Y), G = df/dY:  df/d{self.argument} = {self.claim}"

    @property
    def argument(self) -> str:
        return _ARGUMENTS[self.rule.argument]

    @property
    def verdict(self) -> str:
        if self.report.error:
            return f"not checked: {self.report.error}"
        return self.report.steps[-1].verdict_text if not self.proven else PROVEN

    def data(self) -> dict:
        return {"name": self.name, "statement": self.statement, "rule": self.rule.identity,
                "source": self.rule.source, "proven_for_all_sizes": self.proven, "verdict": self.verdict,
                "proof": self.report.data()}


def _shape_class(shape: tuple[int, int], out: tuple[int, int]) -> tuple:
    """Which symbolic shape stands for a concrete one: broadcasting is kept (a
    dimension 1 against a larger one), everything else is a size name."""
    return tuple(1 if dim == 1 and big != 1 else None for dim, big in zip(shape, out))


@functools.lru_cache(maxsize=None)
def _lemma(operation: str, argument: int, classes: tuple, parameter: object) -> Lemma:
    node, shapes = _generic(operation, classes, parameter)
    rule = rules.rules_for(node)[argument]
    out = _symbolic_out(node, shapes)
    G = Name("G")
    claim = rule.vjp(G, node, shapes, out)
    wrt = _ARGUMENTS[argument]
    rows, cols = shapes[argument]
    sizes = sorted({dim for shape in shapes for dim in shape if isinstance(dim, str)})
    decl = Declarations(sizes=[str(s) for s in sizes],
                        shapes={a: (_plain(r), _plain(c)) for a, (r, c) in zip(_ARGUMENTS, shapes)},
                        defined={"Y": node}, upstream=("G", "Y"),
                        ranges={"i": (1, _plain(rows)), "j": (1, _plain(cols))})
    before = Derivative(Scalar(), Entry(Name(wrt), "i", "j"))
    after = Entry(claim, "i", "j")
    derivation = Derivation(decl, [Step(before, "", 0, format_index_expr(before)),
                                   Step(after, rule.identity, 0, f"({claim})[i,j]")],
                            f"Lemma: {rule.identity}")
    if operation == "matmul":  # the seed note's own proof, seven steps, is the lemma's
        from .general import prove_matmul

        proof = prove_matmul("A", "B", Y="Y", G="G", n="n", m="m", d="d")[wrt].derivation
        # the note's seven steps, then the rule of the table as the eighth: the
        # table's claim must equal the note's conclusion
        report = check_derivation(Derivation(proof.declarations, proof.steps + [
            Step(after, f"the rule of the table: {rule.identity}", 0, f"({claim})[i,j]")], proof.title))
    else:
        report = check_derivation(derivation)
    name = f"{operation}" + (f" ({parameter})" if parameter is not None else "") \
        + (f", argument {wrt}" if len(rules.rules_for(node)) > 1 else "") \
        + ("" if all(c is None for cls in classes for c in cls) else ", broadcast")
    return Lemma(name, rule, node, shapes, claim, report)


def _plain(dim):
    return str(dim) if isinstance(dim, SymbolicSize) else dim


def _generic(operation: str, classes: tuple, parameter: object) -> tuple[Expr, tuple]:
    """The operation over arguments A (and B) with symbolic shapes of the given classes."""
    A, B = Name("A"), Name("B")

    def shape(cls, rows=N, cols=M):
        return (1 if cls[0] == 1 else rows, 1 if cls[1] == 1 else cols)

    if operation == "matmul":
        return MatMul(A, B), ((N, M), (M, D))
    if operation in ("add", "sub", "hadamard"):
        node = {"add": rules.Add, "sub": rules.Sub, "hadamard": Hadamard}[operation](A, B)
        return node, (shape(classes[0]), shape(classes[1]))
    if operation == "div":
        return Div(A, Number(parameter)), ((N, M),)
    if operation == "power":
        return Power(A, parameter), ((N, M),)
    if operation == "neg":
        return Neg(A), ((N, M),)
    if operation == "transpose":
        return Transpose(A), ((N, M),)
    if operation in ("trace", "det", "inv"):
        return Call(operation, A), ((N, N),)
    return Call(operation, A), ((N, M),)


def _symbolic_out(node: Expr, shapes: tuple) -> tuple:
    if isinstance(node, MatMul):
        return shapes[0][0], shapes[1][1]
    if isinstance(node, Transpose):
        return shapes[0][1], shapes[0][0]
    if isinstance(node, Call) and node.function in ("trace", "sum", "det"):
        return 1, 1
    if len(shapes) == 2:
        return tuple(b if a == 1 else a for a, b in zip(*shapes))
    return shapes[0]


def _parameter(node: Expr) -> object:
    if isinstance(node, Power):
        return node.exponent
    if isinstance(node, Div) and isinstance(node.right, Number):
        return node.right.value
    return None


def lemma_for(node: Expr, argument: int, shapes: dict[Expr, tuple[int, int]]) -> Lemma | None:
    """The lemma covering argument ``argument`` of the operation at ``node`` at the
    concrete shapes given (None when the operation's argument is a constant)."""
    operation = rules.operation(node)
    children = node.children()
    classes = tuple(_shape_class(shapes[child], shapes[node]) for child in children) \
        if operation in ("add", "sub", "hadamard") else ()
    return _lemma(operation, argument, classes, _parameter(node))


def lemmas_for_node(node: Expr, shapes: dict[Expr, tuple[int, int]]) -> list[Lemma]:
    """The lemmas of every argument of ``node`` that depends on a matrix."""
    from .expr import names_in

    return [lemma_for(node, k, shapes) for k, child in enumerate(node.children()) if names_in(child)]


PARAMETER_EXAMPLE = Fraction(3)  # the exponent used when a lemma table is printed without a program
