"""The pipeline: shapes -> build -> derive -> closed form -> verify, into one result.

:func:`derive` runs every stage and returns a :class:`Derivation`, the object
tests, notebooks, the CLI and the LaTeX templates all read.  Data flows one
way: each stage is a module that can be called on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sympy

from . import build, chain_rule, numeric, rules, verify
from .errors import TooMuchWork
from .expr import Expr, MatMul, Name, names_in
from .render import plain_text
from .shapes import Shape, shape_of, size_argument

__all__ = ["Derivation", "Identity", "derive", "DEFAULT_SIZES", "DEFAULT_MAX_WORK",
           "estimate_work"]

DEFAULT_SIZES = {"n": 3, "m": 2, "d": 4}
OUTPUT_NAME = "Y"
UPSTREAM_NAME = "G"

# The seed note's expression, Y = X W with X: n x m and W: m x d.
NOTE_EXPRESSION = MatMul(Name("X"), Name("W"))

# Refuse, unless asked, a derivation of more than this many units of work (see
# estimate_work).  Measured on the 2-core reference machine: (16,16,16) is 139k
# units in 4.5 s, (24,24,24) 690k units in 18 s, so a unit costs about 30 us
# and the default refuses what would take more than about a minute.
SECONDS_PER_UNIT = 3e-5
DEFAULT_MAX_WORK = 2_000_000


@dataclass(frozen=True)
class Identity:
    """One claimed identity and the outcome of checking it.

    ``kind`` is "jacobian" (an index formula for dY_pq/dA_ij) or "gradient"
    (a closed form for df/dA).  ``claim`` is the sympy object that was checked.
    """

    kind: str
    wrt: str
    claim: sympy.Basic
    statement: str
    verdict: verify.Verdict
    witness: numeric.NumericWitness | None = None

    @property
    def holds(self) -> bool:
        return self.verdict.holds and (self.witness is None or self.witness.agrees)


@dataclass
class Derivation:
    """Everything derived for one expression at one set of concrete shapes."""

    expression: Expr
    shapes: dict[str, Shape]
    sizes: dict[str, int]
    inputs: dict[str, sympy.ImmutableMatrix]
    output: sympy.ImmutableMatrix
    upstream: sympy.ImmutableMatrix
    matrix_symbols: dict[str, sympy.MatrixSymbol]
    jacobians: dict[str, chain_rule.SparseJacobian]
    gradients: dict[str, sympy.ImmutableMatrix]
    closed_forms: dict[str, sympy.MatrixExpr]
    rule_steps: list[rules.RuleStep]
    identities: list[Identity]
    output_name: str = OUTPUT_NAME
    upstream_name: str = UPSTREAM_NAME
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        """True only if every identity was checked exactly and held."""
        return bool(self.identities) and all(identity.holds for identity in self.identities)

    @property
    def output_shape(self) -> Shape:
        return self.output.shape

    def chain_rule_entry(self, name: str, i: int, j: int) -> chain_rule.ChainRuleSum:
        """df/dA_ij (0-based i, j) as its chain-rule sum, every term listed with
        whether it vanishes and why (see :func:`symderive.chain_rule.chain_rule_entry`)."""
        return chain_rule.chain_rule_entry(self.jacobians[name], self.upstream, i, j)

    def latex(self, **options: Any) -> str:
        """The standalone LaTeX document for this derivation."""
        from .render import render_document

        return render_document(self, **options)

    def report(self) -> dict[str, Any]:
        """The summary as plain data (what ``--json`` prints)."""
        return {
            "expression": f"{self.output_name} = {self.expression}",
            "sizes": dict(self.sizes),
            "shapes": {name: list(shape) for name, shape in self.shapes.items()},
            "output_shape": list(self.output_shape),
            "closed_forms": {name: plain_text(form) for name, form in self.closed_forms.items()},
            "jacobians": {
                name: {"shape": list(jac.shape), "nonzero": jac.nnz, "entries": jac.size}
                for name, jac in self.jacobians.items()
            },
            "identities": [
                {
                    "kind": identity.kind,
                    "wrt": identity.wrt,
                    "statement": identity.statement,
                    "verified": identity.holds,
                    "method": identity.verdict.method,
                    "entries_checked": identity.verdict.checked,
                    "numeric_witness": None if identity.witness is None else {
                        "agrees": identity.witness.agrees, "method": identity.witness.method},
                    "counterexample": _counterexample_data(identity.verdict),
                }
                for identity in self.identities
            ],
            "verified": self.verified,
            "scope": "checked exactly at these sizes only; not a proof for all sizes",
        }


def _counterexample_data(verdict: verify.Verdict) -> dict[str, Any] | None:
    found = verdict.counterexample
    if found is None:
        return {"reason": verdict.reason} if verdict.reason else None
    return {"index": list(found.index), "lhs": str(found.lhs), "rhs": str(found.rhs),
            "difference": str(found.difference), "decided": found.decided}


def estimate_work(n: int, m: int, d: int) -> int:
    """Units of work for Y = X W, one per term touched.

    dY/dX and dY/dW each have n*m*d nonzero entries; each is found by
    differentiating an entry Y_pq, a sum of m terms, and then summed and
    compared: about 2*n*m*d*(m + 1) term operations in all.
    """
    return 2 * n * m * d * (m + 1)


def derive(*, n: int | None = None, m: int | None = None, d: int | None = None,
           max_work: int = DEFAULT_MAX_WORK) -> Derivation:
    """Derive and verify df/dX and df/dW for the seed note's Y = X W.

    X is n x m, W is m x d (defaults n=3, m=2, d=4).  Raises BadInput for sizes
    that are not positive integers, TooMuchWork past ``max_work``.
    """
    chosen = {"n": n, "m": m, "d": d}
    sizes = {k: size_argument(k, DEFAULT_SIZES[k] if v is None else v) for k, v in chosen.items()}
    max_work = size_argument("max_work", max_work)
    work = estimate_work(**sizes)
    if work > max_work:
        raise TooMuchWork(
            f"n={sizes['n']}, m={sizes['m']}, d={sizes['d']} needs about {work:,} units of work "
            f"(about {work * SECONDS_PER_UNIT:.0f} s), over the limit of {max_work:,}; "
            f"raise the limit with --max-work {work} to run it anyway"
        )
    shapes = {"X": (sizes["n"], sizes["m"]), "W": (sizes["m"], sizes["d"])}
    return derive_expression(NOTE_EXPRESSION, shapes, sizes)


def derive_expression(expression: Expr, shapes: dict[str, Shape],
                      sizes: dict[str, int] | None = None) -> Derivation:
    """Run the pipeline on ``expression`` with the given shapes of its names."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    names = names_in(expression)
    out_rows, out_cols = shape_of(expression, shapes)  # refuses non-conforming products
    lap("shapes")

    inputs = {name: build.matrix_of_symbols(name, *shapes[name]) for name in names}
    output = build.explicit(expression, inputs)
    upstream = build.matrix_of_symbols(UPSTREAM_NAME, out_rows, out_cols)
    lap("build")

    jacobians = {name: chain_rule.jacobian(output, OUTPUT_NAME, inputs[name], name)
                 for name in names}
    gradients = {name: chain_rule.gradient(jacobians[name], upstream) for name in names}
    lap("derive")

    matrix_symbols = {name: sympy.MatrixSymbol(name, *shapes[name]) for name in names}
    G = sympy.MatrixSymbol(UPSTREAM_NAME, out_rows, out_cols)
    closed, steps = rules.closed_forms(expression, G, matrix_symbols)
    lap("closed form")

    identities = _jacobian_identities(expression, inputs, jacobians)
    values = {matrix_symbols[name]: inputs[name] for name in names}
    values[G] = upstream
    for name in names:
        verdict = verify.equal_closed_form(closed[name], values, gradients[name],
                                           f"df/d{name} against the chain rule")
        witness = numeric.witness(expression, name, closed[name], matrix_symbols, G)
        identities.append(Identity("gradient", name, closed[name],
                                   f"df/d{name} = {plain_text(closed[name])}", verdict, witness))
    lap("verify")

    return Derivation(
        expression=expression, shapes={name: shapes[name] for name in names},
        sizes=dict(sizes or {}), inputs=inputs, output=output, upstream=upstream,
        matrix_symbols=matrix_symbols, jacobians=jacobians, gradients=gradients,
        closed_forms=closed, rule_steps=steps, identities=identities, timings=timings,
    )


def _jacobian_identities(expression: Expr, inputs: dict[str, sympy.ImmutableMatrix],
                         jacobians: dict[str, chain_rule.SparseJacobian]) -> list[Identity]:
    """Check the root operation's index formula for each argument that is a name.

    This is the seed note's intermediate result, e.g. dY_pq/dX_ij = delta_pi W_jq.
    """
    if isinstance(expression, Name):
        return []
    found = []
    operands = [sympy.IndexedBase(child.name) if isinstance(child, Name) else None
                for child in expression.children()]
    p, q, i, j = (rules.INDEX[k] for k in "pqij")
    for rule, child in zip(rules.rules_for(expression), expression.children()):
        if rule.entry_jacobian is None or not isinstance(child, Name) or None in operands:
            continue
        formula = rule.entry_jacobian(p, q, i, j, *operands)
        jac = jacobians[child.name]
        verdict = verify.equal_index_formula(
            jac.__getitem__, jac.entries.keys(), formula, (p, q, i, j), jac.shape,
            inputs, f"d{OUTPUT_NAME}/d{child.name} against differentiation")
        found.append(Identity("jacobian", child.name, formula,
                              f"d{OUTPUT_NAME}_pq/d{child.name}_ij = {plain_text(formula)}",
                              verdict))
    return found
