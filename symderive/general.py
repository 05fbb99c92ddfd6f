"""The general proof: df/dA and df/dB for Y = A B, for all sizes, step by step.

The steps follow the seed note's sections 3 and 4.  They are written in the
index language of :mod:`symderive.derivation_file`, each with the rule it
applies, and checked step by step by :mod:`symderive.prove` -- the same
checker that reads derivations people write, so the shipped proof and a
user's proof are held to one standard.
"""

from __future__ import annotations

from .derivation_file import read_derivation
from .prove import ProofReport, check_derivation

__all__ = ["matmul_proof_text", "prove_matmul", "claim_proof_text"]

_HEADER = """\
title For all {n}, {m}, {d}: df/d{wrt} for {Y} = {A} @ {B}
sizes {n} {m} {d}
matrix {A} : {n} x {m}
matrix {B} : {m} x {d}
matrix {Y} = {A} @ {B}
upstream {G} of {Y}
"""

_LEFT = """\
index i : 1..{n}
index j : 1..{m}

d(f)/d({A}[i,j])
  = sum(p=1..{n}, sum(q=1..{d}, d(f)/d({Y}[p,q]) * d({Y}[p,q])/d({A}[i,j])))  # by multivariable chain rule
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * d(sum(r=1..{m}, {A}[p,r] * {B}[r,q]))/d({A}[i,j])))  # by definition of the product and of {G}
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * sum(r=1..{m}, delta(p,i) * delta(r,j) * {B}[r,q])))  # by differentiation of a sum
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * delta(p,i) * {B}[j,q]))  # by delta contraction over r
  = sum(q=1..{d}, {G}[i,q] * {B}[j,q])  # by delta contraction over p
  = sum(q=1..{d}, {G}[i,q] * {B}.T[q,j])  # by definition of the transpose
  = ({G} @ {B}.T)[i,j]  # by recognition of a product
"""

_RIGHT = """\
index i : 1..{m}
index j : 1..{d}

d(f)/d({B}[i,j])
  = sum(p=1..{n}, sum(q=1..{d}, d(f)/d({Y}[p,q]) * d({Y}[p,q])/d({B}[i,j])))  # by multivariable chain rule
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * d(sum(r=1..{m}, {A}[p,r] * {B}[r,q]))/d({B}[i,j])))  # by definition of the product and of {G}
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * sum(r=1..{m}, {A}[p,r] * delta(r,i) * delta(q,j))))  # by differentiation of a sum
  = sum(p=1..{n}, sum(q=1..{d}, {G}[p,q] * {A}[p,i] * delta(q,j)))  # by delta contraction over r
  = sum(p=1..{n}, {G}[p,j] * {A}[p,i])  # by delta contraction over q
  = sum(p=1..{n}, {A}.T[i,p] * {G}[p,j])  # by definition of the transpose
  = ({A}.T @ {G})[i,j]  # by recognition of a product
"""


def matmul_proof_text(wrt: str, A: str = "X", B: str = "W", Y: str = "Y", G: str = "G",
                      n: str = "n", m: str = "m", d: str = "d") -> str:
    """The derivation of df/d(wrt) for Y = A @ B (A: n x m, B: m x d), as text."""
    names = dict(A=A, B=B, Y=Y, G=G, n=n, m=m, d=d, wrt=wrt)
    body = _LEFT if wrt == A else _RIGHT
    return (_HEADER + body).format(**names)




def claim_proof_text(wrt: str, claim: str, A: str = "X", B: str = "W", Y: str = "Y", G: str = "G",
                     n: str = "n", m: str = "m", d: str = "d") -> str:
    """A one-step derivation: df/d(wrt) for Y = A @ B equals the claim's entry (i, j)."""
    names = dict(A=A, B=B, Y=Y, G=G, n=n, m=m, d=d, wrt=wrt)
    rows, cols = (n, m) if wrt == A else (m, d)
    return (_HEADER.format(**names) + f"index i : 1..{rows}\nindex j : 1..{cols}\n\n"
            f"d(f)/d({wrt}[i,j])\n  = ({claim})[i,j]  # by the claim\n")


def prove_matmul(A: str = "X", B: str = "W", **names: str) -> dict[str, ProofReport]:
    """Check the general proofs of df/dA = G B^T and df/dB = A^T G, step by step."""
    return {wrt: check_derivation(read_derivation(matmul_proof_text(wrt, A, B, **names)))
            for wrt in (A, B)}
