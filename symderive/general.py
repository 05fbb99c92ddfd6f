"""The general proof: df/dA and df/dB for Y = A B, for all sizes, step by step.

The steps follow the seed note's sections 3 and 4.  They are written in the
index language of :mod:`symderive.derivation_file`, each with the rule it
applies, and checked step by step by :mod:`symderive.prove` -- the same
checker that reads derivations people write, so the shipped proof and a
user's proof are held to one standard.

The text is always written with symderive's own names (matrices A, B, Y, G;
sizes n, m, d; indices i, j, p, q, r), never with a user's: a user may call a
matrix ``p``, ``f``, ``delta`` or ``index``, words that mean something else in
the derivation-file language.  The tree read from that text is then renamed,
all names at once, to the user's matrices, and to sizes and indices that share
no name with them, and that renamed tree is what is checked and shown (in the
document and in --json).  Renaming a tree cannot change what it says: the
checker reads trees, where a matrix, an index and the scalar f are different
kinds of node whatever they are called.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import replace

from .derivation_file import format_index_expr, read_derivation
from .errors import BadInput
from .expr import Expr, Name, names_in
from .index import (Declarations, Delta, Derivation, Derivative, Entry, IndexExpr, Neg, Num, Plus,
                    Scalar, Sum, Times)
from .prove import ProofReport, check_derivation

__all__ = ["matmul_proof_text", "prove_matmul", "claim_proof_text", "prove_claim"]

_HEADER = """\
title {title}
sizes {n} {m} {d}
matrix {A} : {n} x {m}
matrix {B} : {m} x {d}
matrix {Y} = {A} @ {B}
upstream {G} of {Y}
"""

_TITLE = "For all {n}, {m}, {d}: df/d{wrt} for {Y} = {A} @ {B}"

# Each side of the proof: the free indices' ranges, then the chain, one
# (expression, rule) a line.  Rules name the matrices and indices they speak of
# by placeholder, so that they are shown with the names shown in the steps.
_LEFT_RANGES = ("{n}", "{m}")
_LEFT = (
    ("d(f)/d({A}[{i},{j}])", ""),
    ("sum({p}=1..{n}, sum({q}=1..{d}, d(f)/d({Y}[{p},{q}]) * d({Y}[{p},{q}])/d({A}[{i},{j}])))",
     "multivariable chain rule"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * d(sum({r}=1..{m}, {A}[{p},{r}] * {B}[{r},{q}]))"
     "/d({A}[{i},{j}])))", "definition of the product and of {G}"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * sum({r}=1..{m}, delta({p},{i}) * delta({r},{j}) "
     "* {B}[{r},{q}])))", "differentiation of a sum"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * delta({p},{i}) * {B}[{j},{q}]))",
     "delta contraction over {r}"),
    ("sum({q}=1..{d}, {G}[{i},{q}] * {B}[{j},{q}])", "delta contraction over {p}"),
    ("sum({q}=1..{d}, {G}[{i},{q}] * {B}.T[{q},{j}])", "definition of the transpose"),
    ("({G} @ {B}.T)[{i},{j}]", "recognition of a product"),
)

_RIGHT_RANGES = ("{m}", "{d}")
_RIGHT = (
    ("d(f)/d({B}[{i},{j}])", ""),
    ("sum({p}=1..{n}, sum({q}=1..{d}, d(f)/d({Y}[{p},{q}]) * d({Y}[{p},{q}])/d({B}[{i},{j}])))",
     "multivariable chain rule"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * d(sum({r}=1..{m}, {A}[{p},{r}] * {B}[{r},{q}]))"
     "/d({B}[{i},{j}])))", "definition of the product and of {G}"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * sum({r}=1..{m}, {A}[{p},{r}] * delta({r},{i}) "
     "* delta({q},{j}))))", "differentiation of a sum"),
    ("sum({p}=1..{n}, sum({q}=1..{d}, {G}[{p},{q}] * {A}[{p},{i}] * delta({q},{j})))",
     "delta contraction over {r}"),
    ("sum({p}=1..{n}, {G}[{p},{j}] * {A}[{p},{i}])", "delta contraction over {q}"),
    ("sum({p}=1..{n}, {A}.T[{i},{p}] * {G}[{p},{j}])", "definition of the transpose"),
    ("({A}.T @ {G})[{i},{j}]", "recognition of a product"),
)

# symderive's own names: what the text is written with
_MATRICES = ("A", "B", "Y", "G")
_SIZES = ("n", "m", "d")
_INDICES = ("i", "j", "p", "q", "r")
INTERNAL = dict(zip(_MATRICES + _SIZES + _INDICES, _MATRICES + _SIZES + _INDICES))

# names offered for the sizes and indices shown, in order of preference
_SIZE_CHOICES = ("n", "m", "d", "k", "l", "s", "t", "u", "v", "w")
_INDEX_CHOICES = ("i", "j", "p", "q", "r", "a", "b", "c", "e", "g", "h", "o")


def _chain(side: tuple, names: dict[str, str]) -> str:
    lines = []
    for k, (expression, rule) in enumerate(side):
        text = expression.format(**names)
        lines.append(text if k == 0 else f"  = {text}  # by {rule.format(**names)}")
    return "\n".join(lines) + "\n"


def _text(ranges: tuple, chain: str, names: dict[str, str]) -> str:
    rows, cols = (bound.format(**names) for bound in ranges)
    return (_HEADER.format(**names) + f"index {names['i']} : 1..{rows}\n"
            f"index {names['j']} : 1..{cols}\n\n" + chain)


def matmul_proof_text(wrt: str, A: str = "X", B: str = "W", Y: str = "Y", G: str = "G",
                      n: str = "n", m: str = "m", d: str = "d") -> str:
    """The derivation of df/d(wrt) for Y = A @ B (A: n x m, B: m x d), as text in
    the derivation-file language (so the names must be names a file may declare)."""
    names = dict(INTERNAL, A=A, B=B, Y=Y, G=G, n=n, m=m, d=d)
    names["title"] = _TITLE.format(wrt=wrt, **names)
    side, ranges = (_LEFT, _LEFT_RANGES) if wrt == A else (_RIGHT, _RIGHT_RANGES)
    return _text(ranges, _chain(side, names), names)


def claim_proof_text(wrt: str, claim: str, A: str = "X", B: str = "W", Y: str = "Y", G: str = "G",
                     n: str = "n", m: str = "m", d: str = "d") -> str:
    """A one-step derivation, as text: df/d(wrt) for Y = A @ B equals the claim's entry (i, j)."""
    names = dict(INTERNAL, A=A, B=B, Y=Y, G=G, n=n, m=m, d=d)
    names["title"] = _TITLE.format(wrt=wrt, **names)
    ranges = _LEFT_RANGES if wrt == A else _RIGHT_RANGES
    return _text(ranges, f"d(f)/d({wrt}[i,j])\n  = ({claim})[i,j]  # by the claim\n", names)


# ---------------------------------------------------------------------------
# Display names, and renaming a derivation's tree to them
# ---------------------------------------------------------------------------


def _display_names(A: str, B: str, Y: str, G: str, preferred_sizes=_SIZES) -> dict[str, str]:
    """Internal name -> name shown: the user's matrices, and sizes and indices chosen
    to differ from them and from one another."""
    matrices = (A, B, Y, G)
    if len(set(matrices)) != 4 or not all(isinstance(name, str) and name for name in matrices):
        raise BadInput(f"the general proof needs four different matrix names, got {matrices}")
    names = dict(zip(_MATRICES, matrices))
    taken = set(matrices)

    def fresh(choices) -> str:
        candidates = itertools.chain(choices, (f"{c}{k}" for k in itertools.count(1) for c in choices))
        chosen = next(c for c in candidates if c not in taken)
        taken.add(chosen)
        return chosen

    for internal, preferred in zip(_SIZES, preferred_sizes):
        names[internal] = fresh((preferred,) + _SIZE_CHOICES)
    for internal in _INDICES:
        names[internal] = fresh((internal,) + _INDEX_CHOICES)
    return names


def _rename_matrix(node: Expr, names: dict[str, str]) -> Expr:
    if isinstance(node, Name):
        return Name(names[node.name])
    return node.rebuild(*(_rename_matrix(child, names) for child in node.children()))


def _rename(node: IndexExpr, names: dict[str, str]) -> IndexExpr:
    """The index expression with every matrix, size and index renamed at once."""
    atom = lambda a: names[a] if isinstance(a, str) else a  # noqa: E731 (numbers stay)
    if isinstance(node, (Num, Scalar)):
        return node
    if isinstance(node, Entry):
        return Entry(_rename_matrix(node.matrix, names), atom(node.row), atom(node.col))
    if isinstance(node, Delta):
        return Delta(atom(node.a), atom(node.b))
    if isinstance(node, Sum):
        return Sum(atom(node.var), atom(node.lower), atom(node.upper), _rename(node.body, names))
    if isinstance(node, Plus):
        return Plus(tuple(_rename(term, names) for term in node.terms))
    if isinstance(node, Times):
        return Times(tuple(_rename(factor, names) for factor in node.factors))
    if isinstance(node, Neg):
        return Neg(_rename(node.operand, names))
    if isinstance(node, Derivative):
        return Derivative(_rename(node.of, names), _rename(node.wrt, names))
    raise TypeError(f"cannot rename {node!r}")


def _renamed(derivation: Derivation, names: dict[str, str], rules: tuple[str, ...], title: str) -> Derivation:
    """``derivation`` (read from text with internal names) with the names shown.
    Each step's text is printed again from its renamed tree, and its rule and the
    title are written with the names shown."""
    decl = derivation.declarations
    atom = lambda a: names[a] if isinstance(a, str) else a  # noqa: E731
    renamed = Declarations(
        sizes=[names[s] for s in decl.sizes],
        shapes={names[k]: (atom(r), atom(c)) for k, (r, c) in decl.shapes.items()},
        defined={names[k]: _rename_matrix(v, names) for k, v in decl.defined.items()},
        upstream=None if decl.upstream is None else tuple(names[k] for k in decl.upstream),
        ranges={names[k]: (atom(lo), atom(hi)) for k, (lo, hi) in decl.ranges.items()},
    )
    steps = []
    for step, rule in zip(derivation.steps, rules):
        expression = _rename(step.expression, names)
        steps.append(replace(step, expression=expression, text=format_index_expr(expression),
                             rule=rule.format(**names)))
    return Derivation(renamed, steps, title)


@functools.lru_cache(maxsize=None)
def _internal(side: str) -> Derivation:
    """The proof of one side, read once from text written with internal names only."""
    return read_derivation(matmul_proof_text(side, "A", "B", "Y", "G"))


def prove_matmul(A: str = "X", B: str = "W", Y: str = "Y", G: str = "G",
                 n: str = "n", m: str = "m", d: str = "d") -> dict[str, ProofReport]:
    """Check the general proofs of df/dA = G B^T and df/dB = A^T G, step by step.

    A, B, Y, G may be any names at all (they are never written into text that is
    read); n, m, d are the sizes preferred for display, used where free."""
    names = _display_names(A, B, Y, G, (n, m, d))
    reports = {}
    for wrt, side, chain in ((A, "A", _LEFT), (B, "B", _RIGHT)):
        rules = tuple(rule for _, rule in chain)
        title = _TITLE.format(wrt=wrt, **names)
        derivation = _renamed(_internal(side), names, rules, title)
        reports[wrt] = check_derivation(derivation)
    return reports


def prove_claim(wrt: str, claim: Expr, A: str, B: str, Y: str, G: str) -> ProofReport:
    """Prove, for all sizes, that df/d(wrt) for Y = A @ B is ``claim`` (a tree of
    names, products, sums, differences and transposes over A, B and G), as the
    one-step derivation d(f)/d(wrt[i,j]) = (claim)[i,j].

    The claim is written into the text with internal names (A, B, G), so no
    user's text is read; a claim the derivation-file reader refuses (too long for
    one of its lines, say) is a BadInput."""
    names = _display_names(A, B, Y, G)
    internal = {user: internal for internal, user in zip(_MATRICES, (A, B, Y, G))}
    strangers = [name for name in names_in(claim) if name not in (A, B, G)]
    if strangers:
        raise BadInput(f"the claim uses {strangers[0]!r}, which is not {A}, {B} or {G}")
    side = "A" if wrt == A else "B"
    text = claim_proof_text(side, str(_rename_matrix(claim, internal)), "A", "B", "Y", "G")
    title = _TITLE.format(wrt=wrt, **names)
    derivation = _renamed(read_derivation(text), names, ("", "the claim"), title)
    return check_derivation(derivation)
