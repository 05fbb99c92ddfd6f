"""The pipeline: parse -> shapes -> build -> derive -> closed form -> verify.

:func:`derive` runs every stage and returns a :class:`Derivation`, the object
tests, notebooks, the CLI and the LaTeX templates all read; :func:`check`
tells whether a claimed gradient is right.  Data flows one way: each stage is
a module that can be called on its own.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping

import sympy

from . import budget, build, chain_rule, domains, engine, numeric, rules, verify
from .errors import BadInput, TooMuchWork
from .expr import Add, Call, Div, Expr, Hadamard, MatMul, Name, Neg, Number, Power, names_in, walk
from .expr import Identity as Eye
from .render import plain_text
from .shapes import Shape, ShapeReport, infer_shapes, node_shapes, shape_of, size_argument

__all__ = ["Derivation", "Identity", "CheckResult", "derive", "check", "DEFAULT_SIZES",
           "DEFAULT_MAX_WORK", "estimate_work", "work_estimate", "WorkEstimate", "NOTE_EXPRESSION",
           "VERIFIED", "REFUTED", "UNDECIDED", "INCONSISTENT"]

DEFAULT_SIZES = {"n": 3, "m": 2, "d": 4}
UPSTREAM_NAME = "G"
OUTPUT_NAMES = ("Y", "Z", "F", "H", "Out")
# a scalar-valued expression is a loss, named as a lecturer names one (Y reads as a matrix)
SCALAR_OUTPUT_NAMES = ("L", "J", "E", "Loss")
MAX_DEPTH = 200  # deeper trees are refused before any recursive stage sees them

# The seed note's expression, Y = X W with X: n x m and W: m x d.
NOTE_EXPRESSION = MatMul(Name("X"), Name("W"))

# Refuse, unless asked, a derivation of more than this many units of work, a
# unit being 3.5 microseconds of the time work_estimate predicts on the 2-core
# reference machine.  The default refuses what would take more than about 20 s:
# X @ W at (64, 64, 64) runs, in about 0.56 GB; at (128, 128, 128) it would need
# about 8 times that memory, and is refused.  Where work_estimate has only a
# lower bound, the bound is held against the limit: sizes that cannot finish
# are still refused before any work.
SECONDS_PER_UNIT = 3.5e-6
DEFAULT_MAX_WORK = 6_000_000

# The three outcomes of a check.  The exact kernel decides: "refuted" only with an
# exact counterexample (an entry provably nonzero, or shapes that differ), and an
# entry it cannot decide leaves the claim "undecided".  The numeric witness can
# withhold "verified", never refute.
VERIFIED, REFUTED, UNDECIDED = "verified", "refuted", "undecided"
INCONSISTENT = "internal inconsistency: the exact check and the numeric witness disagree; please report it"


def outcome(verdict: verify.Verdict, witness: numeric.NumericWitness | None) -> str:
    """VERIFIED, REFUTED or UNDECIDED, from the exact verdict and the numeric witness."""
    if verdict.holds:
        # an exact proof the witness contradicts: one of the two checkers is wrong
        return UNDECIDED if witness is not None and witness.agrees is False else VERIFIED
    found = verdict.counterexample
    if found is not None:
        return REFUTED if found.decided else UNDECIDED
    return REFUTED if verdict.reason else UNDECIDED  # shapes that differ; nothing else fails without an entry


def outcome_note(verdict: verify.Verdict, witness: numeric.NumericWitness | None) -> str:
    """What an undecided outcome owes to the numeric witness, in one sentence ("" if nothing)."""
    if witness is None or witness.agrees is not False:
        return ""
    if verdict.holds:
        return INCONSISTENT
    found = verdict.counterexample
    if found is not None and not found.decided:
        values = "" if witness.numeric_value is None else \
            f" (finite differences {witness.numeric_value:.12g}, the claim {witness.claimed_value:.12g})"
        where = f" at entry {witness.entry}" if witness.entry is not None else ""
        return (f"the numeric witness disagrees{where}{values}, so the claim is probably false, "
                "but no exact counterexample was found")
    return ""


@dataclass(frozen=True)
class Identity:
    """One claimed identity and the outcome of checking it.

    ``kind`` is "jacobian" (an index formula for dY_pq/dA_ij) or "gradient"
    (a closed form for df/dA).  ``claim`` is what was checked: a sympy index
    formula, or an expression of the language.
    """

    kind: str
    wrt: str
    claim: Any
    statement: str
    verdict: verify.Verdict
    witness: numeric.NumericWitness | None = None

    @property
    def status(self) -> str:
        """VERIFIED, REFUTED (with a counterexample) or UNDECIDED; see :func:`outcome`."""
        return outcome(self.verdict, self.witness)

    @property
    def holds(self) -> bool:
        return self.status == VERIFIED


@dataclass
class Derivation:
    """Everything derived for one expression at one set of concrete shapes."""

    expression: Expr
    shapes: dict[str, Shape]
    sizes: dict[str, int]
    defaulted: dict[str, tuple[str, ...]]
    node_shapes: dict[Expr, Shape]
    # the matrices in the engine that built them (engine.SYMPY or engine.SYMENGINE);
    # the properties inputs, output, upstream and gradients give them as SymPy
    raw_inputs: dict[str, Any]
    raw_output: Any
    raw_upstream: Any
    jacobians: dict[str, chain_rule.SparseJacobian]
    raw_gradients: dict[str, Any]
    closed_form_trees: dict[str, Expr]
    rule_steps: list[rules.RuleStep]
    identities: list[Identity]
    output_name: str
    upstream_name: str | None  # None for a scalar-valued expression: f is the expression itself
    timings: dict[str, float] = field(default_factory=dict)
    general_proofs: dict[str, Any] = field(default_factory=dict)  # wrt -> prove.ProofReport

    @property
    def proven_for_all_sizes(self) -> bool:
        """True when a general proof covers every input and every step of it passed."""
        return bool(self.general_proofs) and set(self.general_proofs) >= set(self.jacobians) \
            and all(report.proven for report in self.general_proofs.values())

    engine: str = engine.SYMPY

    @functools.cached_property
    def inputs(self) -> dict[str, sympy.ImmutableMatrix]:
        """Each input as a SymPy matrix of symbols X_11 ... (1-based names)."""
        return {name: engine.matrix_to_sympy(m) for name, m in self.raw_inputs.items()}

    @functools.cached_property
    def output(self) -> sympy.ImmutableMatrix:
        """Y, the expression's explicit value, as a SymPy matrix."""
        return engine.matrix_to_sympy(self.raw_output)

    @functools.cached_property
    def upstream(self) -> sympy.ImmutableMatrix:
        """G, G[p, q] standing for df/dY_pq (the 1x1 matrix 1 for a scalar-valued expression)."""
        return engine.matrix_to_sympy(self.raw_upstream)

    @functools.cached_property
    def gradients(self) -> dict[str, sympy.ImmutableMatrix]:
        """df/dA from the chain rule, entry (i, j) = df/dA_ij, as SymPy matrices."""
        return {name: engine.matrix_to_sympy(m) for name, m in self.raw_gradients.items()}

    @property
    def verified(self) -> bool:
        """True only if every identity was checked exactly and held."""
        return bool(self.identities) and all(identity.holds for identity in self.identities)

    @property
    def status(self) -> str:
        """VERIFIED if every identity is, REFUTED if any is, UNDECIDED otherwise."""
        if self.verified:
            return VERIFIED
        return REFUTED if any(identity.status == REFUTED for identity in self.identities) else UNDECIDED

    @property
    def scalar(self) -> bool:
        return self.upstream_name is None

    @property
    def domain(self) -> list[domains.Condition]:
        """Where the verdicts hold: the conditions the expression and its closed forms
        need (a kink at 0, log of a positive entry, ...); [] when they hold everywhere."""
        return domains.conditions(self.expression, *self.closed_form_trees.values())

    @property
    def domain_text(self) -> str:
        """"where every entry of X @ W is nonzero (relu has a kink at 0)", or ""."""
        return domains.domain_text(self.domain)

    @property
    def output_shape(self) -> Shape:
        return (self.raw_output.rows, self.raw_output.cols)

    @property
    def matrix_symbols(self) -> dict[str, sympy.MatrixSymbol]:
        symbols = {name: sympy.MatrixSymbol(name, *shape) for name, shape in self.shapes.items()}
        if self.upstream_name is not None:
            symbols[self.upstream_name] = sympy.MatrixSymbol(self.upstream_name, *self.output_shape)
        return symbols

    @property
    def closed_forms(self) -> dict[str, sympy.Basic]:
        """The closed forms as sympy matrix expressions (e.g. G*W.T), for notebooks."""
        shapes = self._all_node_shapes()
        return {name: build.matrix_expression(form, self.matrix_symbols, shapes)
                for name, form in self.closed_form_trees.items()}

    def _all_node_shapes(self) -> dict[Expr, Shape]:
        leaves = dict(self.shapes)
        if self.upstream_name is not None:
            leaves[self.upstream_name] = self.output_shape
        found: dict[Expr, Shape] = {}
        for form in self.closed_form_trees.values():
            shape_of(form, leaves, found)
        return found

    def chain_rule_entry(self, name: str, i: int, j: int) -> chain_rule.ChainRuleSum:
        """df/dA_ij (0-based i, j) as its chain-rule sum, every term listed with
        whether it vanishes and why (see :func:`symderive.chain_rule.chain_rule_entry`)."""
        return chain_rule.chain_rule_entry(self.jacobians[name], self.raw_upstream, i, j)

    def latex(self, fragment: bool = False, *, upstream: str = "fraction", bold: bool = True,
              title: str | None = None) -> str:
        r"""The LaTeX of this derivation: a standalone document, or with ``fragment``
        the same body with no preamble, for ``\input`` into other notes.

        ``upstream``: "fraction" (the note's \frac{\partial f}{\partial \mathbf{Y}})
        or "short" (its name, G); ``bold``: bold matrix names (the note's) or
        plain; ``title``: plain text replacing the generated title.
        """
        from .render import render_document

        return render_document(self, fragment, self._notation(upstream, bold, title))

    def _repr_latex_(self) -> str:
        """Jupyter shows the closed forms and what was checked, as rendered maths."""
        from .render import render_notebook

        return render_notebook(self)

    @staticmethod
    def _notation(upstream: str, bold: bool, title: str | None):
        from .render import Notation

        try:
            return Notation(upstream, bold, title)
        except ValueError as problem:
            raise BadInput(str(problem)) from None

    def report(self) -> dict[str, Any]:
        """The summary as plain data (what ``--json`` prints)."""
        return {
            "expression": f"{self.output_name} = {self.expression}",
            "sizes": dict(self.sizes),
            "shapes": {name: list(shape) for name, shape in self.shapes.items()},
            "defaulted": {name: list(axes) for name, axes in self.defaulted.items()},
            "output_shape": list(self.output_shape),
            "upstream": self.upstream_name,
            "closed_forms": {name: str(form) for name, form in self.closed_form_trees.items()},
            "jacobians": {
                name: {"shape": list(jac.shape), "nonzero": jac.nnz, "entries": jac.size}
                for name, jac in self.jacobians.items()
            },
            "identities": [_identity_data(identity) for identity in self.identities],
            "verified": self.verified,
            "status": self.status,
            "domain": domains.domain_data(self.domain),
            "general_proof": {wrt: report.data() for wrt, report in self.general_proofs.items()},
            "proven_for_all_sizes": self.proven_for_all_sizes,
            "scope": ("the closed forms are proven for all sizes, every step checked"
                      if self.proven_for_all_sizes else
                      "checked exactly at these sizes only; not a proof for all sizes"),
        }


def _identity_data(identity: Identity) -> dict[str, Any]:
    return {"kind": identity.kind, "wrt": identity.wrt, "statement": identity.statement,
            **_outcome_data(identity.verdict, identity.witness)}


def _outcome_data(verdict: verify.Verdict, witness: numeric.NumericWitness | None) -> dict[str, Any]:
    """How a claim fared, as plain data: the same fields for identities and checks."""
    status = outcome(verdict, witness)
    return {
        "verified": status == VERIFIED,
        "status": status,
        "note": outcome_note(verdict, witness) or None,
        "method": verdict.method,
        "entries_checked": verdict.checked,
        "numeric_witness": None if witness is None else {
            "agrees": witness.agrees, "method": witness.method,
            "entry": None if witness.entry is None else list(witness.entry)},
        "counterexample": _counterexample_data(verdict),
    }


def _counterexample_data(verdict: verify.Verdict) -> dict[str, Any] | None:
    found = verdict.counterexample
    if found is None:
        return {"reason": verdict.reason} if verdict.reason else None
    data = {"index": list(found.index), "lhs": str(found.lhs), "rhs": str(found.rhs),
            "difference": str(found.difference), "decided": found.decided}
    if found.region:  # a claim about kinked functions: the sign region where it fails
        data["point"] = {str(symbol): str(value) for symbol, value in found.point}
        data["region"] = [{"argument": str(argument), "sign": sign} for argument, sign in found.region]
        data["region_text"] = region_text(found)
    return data


def region_text(found: verify.Counterexample) -> str:
    """The sign region where a claim about kinked functions fails, in words:
    "where W_11*X_11 + W_21*X_12 < 0, W_12*X_11 + W_22*X_12 > 0 (e.g. at X_11 = -1/2, ...)"."""
    if not found.region:
        return ""
    signs = ", ".join(f"{argument} {'>' if sign > 0 else '<'} 0" for argument, sign in found.region)
    at = ", ".join(f"{symbol} = {value}" for symbol, value in found.point)
    return f"the difference is nonzero where {signs} (at {at})"


# ---------------------------------------------------------------------------
# Reading what the user asked for
# ---------------------------------------------------------------------------


def _expression(expression: str | Expr | None) -> Expr:
    if expression is None:
        return NOTE_EXPRESSION
    if isinstance(expression, Expr):
        tree = expression
    elif isinstance(expression, str):
        from .parse import parse

        tree = parse(expression)
    else:
        raise BadInput(f"expected an expression as text, got {type(expression).__name__}")
    _check_depth(tree)
    return tree


def _check_depth(tree: Expr) -> None:
    """Refuse trees deeper than MAX_DEPTH, measured without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadInput(f"the expression is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in node.children())


# What --n --m --d set: (matrix, axis) with axis 0 the rows, 1 the columns.
_SIZE_MEANINGS = {"n": (("X", 0),), "m": (("X", 1), ("W", 0)), "d": (("W", 1),)}
_SIZE_WORDS = {"n": "the rows of X", "m": "the columns of X and the rows of W", "d": "the columns of W"}


def _given_shapes(tree: Expr, shapes: Mapping[str, Any] | None,
                  sizes: Mapping[str, Any]) -> tuple[dict[str, tuple[int | None, int | None]], dict[str, int]]:
    """Shapes the user gave: explicit ones, and X: n x m, W: m x d from the sizes
    (a size left out leaves that dimension to inference).  A size that sets no
    matrix of the expression, or disagrees with a shape given, is refused: it
    would otherwise be ignored, and still reported."""
    given: dict[str, tuple[int | None, int | None]] = {}
    for name, shape in (shapes or {}).items():
        try:
            rows, cols = shape
        except (TypeError, ValueError):
            raise BadInput(f"shape of {name}: expected (rows, cols), got {shape!r}") from None
        given[str(name)] = (size_argument(f"rows of {name}", rows), size_argument(f"cols of {name}", cols))
    chosen = {k: size_argument(k, v) for k, v in sizes.items() if v is not None}
    names = names_in(tree)
    for name in given:
        if name not in names:
            raise BadInput(f"--shape {name}: there is no matrix {name!r} in {tree}")
    for size, value in chosen.items():
        places = [(name, axis) for name, axis in _SIZE_MEANINGS[size] if name in names]
        if not places:
            matrices = " or ".join(name for name, _ in _SIZE_MEANINGS[size])
            raise BadInput(f"--{size} sets {_SIZE_WORDS[size]}, and {tree} has no matrix {matrices}; "
                           f"set shapes with --shape NAME=RxC")
        for name, axis in places:
            if name in given and given[name][axis] != value:
                r, c = given[name]
                raise BadInput(f"--{size} {value} disagrees with --shape {name}={r}x{c} "
                               f"(--{size} sets {_SIZE_WORDS[size]})")
    for name, (r, c) in (("X", ("n", "m")), ("W", ("m", "d"))):
        if name in names and name not in given and (r in chosen or c in chosen):
            given[name] = (chosen.get(r), chosen.get(c))
    return given, chosen


def _without(shapes: Mapping[str, Any] | None, name: str, tree: Expr) -> dict[str, Any]:
    """The shapes given, less the upstream gradient's (its shape is the output's),
    unless a matrix of the expression has that name (a scalar-valued expression has
    no upstream, so its matrices may use the upstream's name)."""
    if name in names_in(tree):
        return dict(shapes or {})
    return {k: v for k, v in (shapes or {}).items() if k != name}


@dataclass(frozen=True)
class WorkEstimate:
    """What :func:`work_estimate` predicts for a derivation.

    ``counted`` is True for the expressions the model describes (see
    :func:`work_estimate`): then ``seconds`` is an estimate, measured to within a
    small factor (``python benchmarks/bench.py --estimates``).  Otherwise it is
    only a lower bound, and the run's time limit, not the estimate, keeps it from
    running away.
    """

    units: int  # the work that grows with the sizes, SECONDS_PER_UNIT each: what --max-work limits
    counted: bool
    fixed: float = 0.0  # seconds that do not depend on the sizes

    @property
    def seconds(self) -> float:
        return self.fixed + self.units * SECONDS_PER_UNIT

    def describe(self) -> str:
        """"about 12 s" or "at least 12 s"."""
        return f"{'about' if self.counted else 'at least'} {_round_seconds(self.seconds)} s"


def _round_seconds(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


# The model's constants, fitted on the 2-core reference machine against
# benchmarks/bench.py --estimates (see the README's table):
ESTIMATE_FIXED = 0.006  # seconds any derivation takes: the numeric witness, the checks' set-up
ESTIMATE_GENERAL_PROOF = 0.04  # the proof for all sizes of a product of two matrices
ESTIMATE_PER_ENTRY = 6e-6  # each entry of the output and of the inputs: built, contracted, checked
ESTIMATE_PER_FACTOR = 4e-6  # each factor of each monomial of each output entry
ESTIMATE_PER_PRODUCT_TERM = 2e-8  # building a k-term entry of a product costs about k^2 of these
BOUND_PER_TERM = {engine.SYMENGINE: 1e-6, engine.SYMPY: 5e-6}  # at least, per entry and term


def _counts(tree: Expr, shapes: dict[Expr, Shape]) -> tuple[dict[Expr, int], dict[Expr, int], bool, int]:
    """For each node, the terms ``t`` of one of its entries written out and their
    factors ``f`` (a sum of t monomials of f factors in all); whether every
    product's operands have single monomials as entries (then the built entries
    are sums of monomials: products of sums are not expanded when built); and
    the sum over products A @ B (A: r x k, B: k x c) of r c k^2 + r k c^2 +
    k c r^2, the cost of building the product and the two closed forms
    G @ B.T and A.T @ G, whose entries' terms are added one at a time."""
    terms: dict[Expr, int] = {}
    factors: dict[Expr, int] = {}
    monomial_products = True
    quadratic = 0
    for node in reversed(list(walk(tree))):
        kid_t = [terms[child] for child in node.children()]
        kid_f = [factors[child] for child in node.children()]
        if isinstance(node, Name):
            t, f = 1, 1
        elif not node.children():  # numbers, eye, ones
            t, f = 1, 0
        elif isinstance(node, MatMul):
            (r, inner), c = shapes[node.left], shapes[node][1]
            t, f = inner * kid_t[0] * kid_t[1], inner * (kid_f[0] * kid_t[1] + kid_f[1] * kid_t[0])
            monomial_products = monomial_products and kid_t[0] == kid_t[1] == 1
            quadratic += r * c * inner * (inner + c + r)
        elif isinstance(node, Hadamard):
            t, f = kid_t[0] * kid_t[1], kid_f[0] * kid_t[1] + kid_f[1] * kid_t[0]
        elif isinstance(node, Call) and node.function in ("trace", "sum"):
            rows, cols = shapes[node.argument]
            count = rows if node.function == "trace" else rows * cols
            t, f = count * kid_t[0], count * kid_f[0]
        elif isinstance(node, Call) and node.function in ("inv", "adj", "det"):
            size = shapes[node.argument][0]
            t = math.factorial(size) * kid_t[0] ** size
            f = t * size * max(1, kid_f[0] // max(1, kid_t[0]))
        elif isinstance(node, Power) and node.exponent.denominator == 1 and node.exponent > 1:
            # expanded, a sum of t terms to the power e has up to C(t + e - 1, e) monomials
            e = int(min(node.exponent, 10**6))
            t = math.comb(kid_t[0] + e - 1, min(e, kid_t[0] - 1)) if kid_t[0] > 1 else 1
            f = t * e * max(1, kid_f[0] // max(1, kid_t[0]))
        else:
            t, f = sum(kid_t), sum(kid_f)
        terms[node], factors[node] = t, f
    return terms, factors, monomial_products, quadratic


def work_estimate(tree: Expr, shapes: dict[Expr, Shape], kind: str | None = None) -> WorkEstimate:
    """The time a derivation of ``tree`` will take, from its structure alone.

    Counted (an estimate): polynomial expressions built by SymEngine whose
    entries are sums of monomials, i.e. no product has a sum or a product as an
    operand's entry (X @ W, X @ W * V + B, (X @ W) ** 2, X.T @ X).  Each entry
    is then differentiated in one pass over its monomials, and the work is the
    factors of all monomials (ESTIMATE_PER_FACTOR each), the entries of the
    output and the inputs (ESTIMATE_PER_ENTRY each), the building of products
    (ESTIMATE_PER_PRODUCT_TERM, see :func:`_counts`) and a fixed part.

    Everything else (elementwise functions, trace and sum, inv and det, products
    of three or more matrices, which are built unexpanded) only gets a lower
    bound: the terms of the output's entries and the entries, BOUND_PER_TERM
    each.  Measured against it such expressions take from 1 to thousands of
    times longer (an exact check of a transcendental expression costs what no
    count of terms predicts), so for them the time limit decides.
    """
    terms, factors, monomial_products, quadratic = _counts(tree, shapes)
    rows, cols = shapes[tree]
    entries = rows * cols + sum(r * c for node, (r, c) in shapes.items() if isinstance(node, Name))
    kind = kind or engine.engine_for(tree)
    # trace and sum now run in SymEngine too, but the estimate was measured without them
    modelled = monomial_products and not any(isinstance(node, Call) for node in walk(tree))
    if kind == engine.SYMENGINE and modelled:
        seconds = (ESTIMATE_PER_ENTRY * entries + ESTIMATE_PER_FACTOR * rows * cols * factors[tree]
                   + ESTIMATE_PER_PRODUCT_TERM * quadratic)
        fixed = ESTIMATE_FIXED + (ESTIMATE_GENERAL_PROOF if _general_prover_covers(tree) else 0.0)
        return WorkEstimate(max(1, math.ceil(seconds / SECONDS_PER_UNIT)), True, fixed)
    seconds = BOUND_PER_TERM[kind] * (entries + rows * cols * terms[tree])
    return WorkEstimate(max(1, math.ceil(seconds / SECONDS_PER_UNIT)), False)


def estimate_work(tree: Expr, shapes: dict[Expr, Shape], kind: str | None = None) -> int:
    """Units of work (SECONDS_PER_UNIT each) :func:`work_estimate` predicts: an
    estimate for the expressions it models, a lower bound for the others."""
    return work_estimate(tree, shapes, kind).units


def _tree_and_shapes(expression: str | Expr, shapes: Mapping[str, Any]) -> tuple[Expr, dict[Expr, Shape]]:
    tree = _expression(expression)
    given, _ = _given_shapes(tree, shapes, {})
    report = infer_shapes(tree, given)
    return tree, node_shapes(tree, {name: report.shapes[name] for name in names_in(tree)})


def estimate_for(expression: str | Expr, shapes: Mapping[str, Any]) -> WorkEstimate:
    """:func:`work_estimate` for ``derive(expression, shapes=shapes)`` (used by
    benchmarks/bench.py --estimates)."""
    return work_estimate(*_tree_and_shapes(expression, shapes))


# ---------------------------------------------------------------------------
# derive
# ---------------------------------------------------------------------------


def derive(expression: str | Expr | None = None, *, shapes: Mapping[str, Any] | None = None,
           n: int | None = None, m: int | None = None, d: int | None = None,
           wrt: Iterable[str] | str | None = None, upstream: str | None = None,
           max_work: int = DEFAULT_MAX_WORK, progress=None, time_limit: float | None = None) -> Derivation:
    """Derive and verify the gradient of ``expression`` with respect to its inputs.

    With no expression, the seed note's Y = X W with X: n x m, W: m x d
    (defaults n=3, m=2, d=4).  ``shapes`` maps names to (rows, cols); shapes not
    given are inferred, and dimensions nothing fixes get small default sizes
    (``Derivation.defaulted`` says which).  ``wrt`` limits the inputs
    differentiated by.  A matrix-valued expression Y is differentiated against
    an upstream gradient named ``upstream`` (G_pq = df/dY_pq; by default G, or
    G1, G2, ... when the expression has a matrix G); a scalar-valued
    one (1x1, trace, sum, det) directly.

    ``progress(label, done, total)``, if given, is called as the Jacobians are
    derived (see :class:`symderive.progress.Progress`).

    ``time_limit``, in seconds (default None: none of its own), stops the run
    when it runs out with :class:`symderive.budget.TimeLimitReached`, which says
    which stage was running and what had been decided by then.

    Raises BadInput (ShapeError, ParseError, TooMuchWork) for input it refuses.
    """
    with budget.within(time_limit):
        return _derive_from(expression, shapes, n, m, d, wrt, upstream, max_work, progress)


def _derive_from(expression, shapes, n, m, d, wrt, upstream, max_work, progress) -> Derivation:
    budget.stage("reading the expression")
    tree = _expression(expression)
    upstream = _free_upstream_name(tree) if upstream is None else _upstream_argument(upstream)
    if expression is None:
        sizes = {k: DEFAULT_SIZES[k] if v is None else v for k, v in {"n": n, "m": m, "d": d}.items()}
    else:
        sizes = {"n": n, "m": m, "d": d}
    given, chosen = _given_shapes(tree, _without(shapes, upstream, tree), sizes)
    report = infer_shapes(tree, given)
    # The note's f(Y) is arbitrary even when Y is 1x1, so its Y = X W always has
    # an upstream gradient; any other 1x1 expression is differentiated directly.
    return _derive(tree, report, chosen, wrt, upstream, size_argument("max_work", max_work),
                   always_upstream=expression is None, progress=progress)


def chain_rule_gradients(tree: Expr, shapes: Mapping[str, Shape], wrt: Iterable[str] | None = None,
                         upstream: str = UPSTREAM_NAME, max_work: int = DEFAULT_MAX_WORK) -> Derivation:
    """df/dA for each input A of ``tree`` (or each in ``wrt``) at these shapes, by the
    chain rule over explicit matrices of symbols, and nothing else: no closed forms,
    no identities, no proofs.  What symderive.testing compares a course's own
    backward code with.  ``shapes`` must fix every input; ``upstream`` names G for
    a matrix-valued expression (a scalar-valued one has none)."""
    given, chosen = _given_shapes(tree, _without(shapes, upstream, tree), {"n": None, "m": None, "d": None})
    return _derive(tree, infer_shapes(tree, given), chosen, wrt, _upstream_argument(upstream), max_work,
                   gradients_only=True, general=False)


def _output_name(names: list[str], upstream: str, scalar: bool = False) -> str:
    """Y, or the first of Z, F, H, Out, Y1, Y2, ... that names no matrix; for a
    scalar-valued expression L, or the first of J, E, Loss, L1, L2, ..."""
    first, stem = (SCALAR_OUTPUT_NAMES, "L") if scalar else (OUTPUT_NAMES, "Y")
    candidates = itertools.chain(first, (f"{stem}{k}" for k in itertools.count(1)))
    return next(c for c in candidates if c not in names and c != upstream)


def _free_upstream_name(tree: Expr) -> str:
    """G, or the first of G1, G2, ... that names no matrix of the expression."""
    names = set(names_in(tree))
    candidates = itertools.chain((UPSTREAM_NAME,), (f"{UPSTREAM_NAME}{k}" for k in itertools.count(1)))
    return next(c for c in candidates if c not in names)


def _upstream_argument(text: Any) -> str:
    """The upstream gradient's name as given (--upstream): a name of the expression
    language, so that claims can use it and the document can print it."""
    from .parse import parse

    try:
        if parse(text) == Name(text):
            return text
    except BadInput:
        pass
    raise BadInput(f"--upstream: {text!r} is not a name of the expression language "
                   "(letters, digits and _, starting with a letter; not a function or a keyword)")


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Pause Python's cyclic garbage collector, restoring it afterwards.

    A large derivation allocates millions of small objects (index tuples, engine
    expressions) that form no reference cycles, so reference counting frees them;
    the cyclic collector would only rescan them again and again as they
    accumulate.  Measured at (64, 64, 64): about 0.6 s of 3.7 s, and 0.3 s more
    on leaving (see below).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # Move the survivors into the oldest generation without scanning them
        # (freeze, then unfreeze, moves every tracked object there): re-enabling
        # with millions of objects in the youngest generation would cost a scan
        # of them all, 0.28 s at (64, 64, 64).  Cycles among them, if any, are
        # still found by the next full collection.
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _derive(tree: Expr, report: ShapeReport, sizes: dict[str, int],
            wrt: Iterable[str] | str | None, upstream_name: str, max_work: int,
            always_upstream: bool = False, progress=None, gradients_only: bool = False,
            general: bool = True) -> Derivation:
    with _cyclic_gc_paused():
        return _derive_all(tree, report, sizes, wrt, upstream_name, max_work, always_upstream, progress,
                           gradients_only, general)


def _derive_all(tree: Expr, report: ShapeReport, sizes: dict[str, int],
                wrt: Iterable[str] | str | None, upstream_name: str, max_work: int,
                always_upstream: bool, progress, gradients_only: bool = False,
                general_proofs: bool = True) -> Derivation:
    """Every stage; ``gradients_only`` stops after the chain-rule gradients (what
    check needs: the claim is its own closed form), ``general_proofs=False`` skips
    the product's proof for all sizes."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    names = names_in(tree)
    if not names:
        raise BadInput(f"{tree} contains no matrix to differentiate by")
    chosen_wrt = _wrt(wrt, names)
    shapes = {name: report.shapes[name] for name in names}
    found_shapes = node_shapes(tree, shapes)  # refuses non-conforming products, with names
    out_rows, out_cols = found_shapes[tree]
    budget.pending(*(f"df/d{name}" for name in chosen_wrt))
    estimate = work_estimate(tree, found_shapes)
    if estimate.units > max_work:
        dims = ", ".join(f"{name}: {r}x{c}" for name, (r, c) in shapes.items())
        bound = "" if estimate.counted else (
            "; for an expression like this only a lower bound is known, and the time limit stops the run")
        raise TooMuchWork(
            f"{dims} needs {'about' if estimate.counted else 'at least'} {estimate.units:,} units of work "
            f"({estimate.describe()}{bound}), over the limit of {max_work:,}; raise the limit with "
            f"--max-work {estimate.units} to run it anyway"
        )
    scalar = (out_rows, out_cols) == (1, 1) and not always_upstream
    if not scalar and upstream_name in names:
        default = " (in claims, by default)" if upstream_name == UPSTREAM_NAME else ""
        raise BadInput(f"the expression uses {upstream_name!r}, which is also the name of the upstream "
                       f"gradient df/dY{default}; give the upstream another name with --upstream NAME")
    output_name = _output_name(names, upstream_name, scalar)
    lap("shapes")

    budget.stage("building the explicit matrices")
    kind = engine.engine_for(tree)
    inputs = {name: engine.matrix_of_symbols(name, *shapes[name], kind) for name in names}
    output = engine.explicit(tree, inputs, kind)
    if kind == engine.SYMPY and any(entry.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) for entry in output):
        raise BadInput(f"{tree} is undefined for general values of its entries "
                       f"(a division by zero, the log of 0, or the inverse of a singular matrix)")
    if scalar:
        upstream_name_used = None
        upstream = engine.explicit(Number(Fraction(1)), {}, kind)  # the 1x1 matrix 1
        G: Expr = Number(Fraction(1))
    else:
        upstream_name_used = upstream_name
        upstream = engine.matrix_of_symbols(upstream_name, out_rows, out_cols, kind)
        G = Name(upstream_name)
    lap("build")

    budget.stage("deriving the Jacobians by the chain rule")
    jacobians = chain_rule.jacobians(output, output_name, {name: inputs[name] for name in chosen_wrt},
                                     _checking(progress))
    gradients = {name: chain_rule.gradient(jacobians[name], upstream) for name in chosen_wrt}
    lap("derive")

    if gradients_only:
        general = _general_proofs(tree, output_name, upstream_name_used) if general_proofs else {}
        return Derivation(
            general_proofs=general,
            expression=tree, shapes=shapes, sizes=sizes, defaulted=dict(report.defaulted),
            node_shapes=found_shapes, raw_inputs=inputs, raw_output=output, raw_upstream=upstream,
            jacobians=jacobians, raw_gradients=gradients, closed_form_trees={}, rule_steps=[],
            engine=kind, identities=[], output_name=output_name, upstream_name=upstream_name_used,
            timings=timings)
    budget.stage("finding the closed forms")
    leaf_shapes = dict(shapes)
    if upstream_name_used is not None:
        leaf_shapes[upstream_name_used] = (out_rows, out_cols)
    closed_all, steps = rules.closed_forms(tree, G, found_shapes, leaf_shapes)
    closed = {name: closed_all[name] for name in chosen_wrt}
    lap("closed form")

    identities = _jacobian_identities(tree, inputs, jacobians, output_name)
    for identity in identities:
        budget.decided(f"{identity.statement} {_outcome(identity)}")
    values = dict(inputs)
    if upstream_name_used is not None:
        values[upstream_name_used] = upstream
    for name in chosen_wrt:
        budget.stage(f"verifying df/d{name} = {closed[name]}")
        claimed = _explicit_claim(closed[name], values, leaf_shapes, kind)
        derived = gradients[name] if _same_engine(claimed, kind) else engine.matrix_to_sympy(gradients[name])
        verdict = verify.equal_matrices(derived, claimed, f"df/d{name} against the chain rule")
        witness = numeric.witness(tree, name, _for_numpy(closed[name], leaf_shapes), leaf_shapes,
                                  upstream_name_used)
        identities.append(Identity("gradient", name, closed[name], f"df/d{name} = {closed[name]}",
                                   verdict, witness))
        budget.decided(f"{identities[-1].statement} {_outcome(identities[-1])}", pending_key=f"df/d{name}")
    lap("verify")

    budget.stage("proving the closed forms for all sizes")
    general = _general_proofs(tree, output_name, upstream_name_used)
    for wrt_name, proof in general.items():
        budget.decided(f"df/d{wrt_name} {'proven' if proof.proven else 'NOT proven'} for all sizes")
    lap("general proof")

    return Derivation(
        general_proofs=general,
        expression=tree, shapes=shapes, sizes=sizes, defaulted=dict(report.defaulted),
        node_shapes=found_shapes, raw_inputs=inputs, raw_output=output, raw_upstream=upstream,
        jacobians=jacobians, raw_gradients=gradients, closed_form_trees=closed, rule_steps=steps,
        engine=kind,
        identities=identities, output_name=output_name, upstream_name=upstream_name_used,
        timings=timings,
    )


def _outcome(identity: Identity) -> str:
    return "verified" if identity.holds else "NOT verified"


def _checking(progress):
    """``progress``, also checking the time limit at each row of the Jacobians (the
    check that stops a run where there is no timer: outside the main thread)."""
    def report(label: str, done: int, total: int) -> None:
        budget.checkpoint()
        if progress is not None:
            progress(label, done, total)
    return report


def _general_prover_covers(tree: Expr) -> bool:
    """A product A @ B of two different matrices: what the general prover proves."""
    return (isinstance(tree, MatMul) and isinstance(tree.left, Name) and isinstance(tree.right, Name)
            and tree.left.name != tree.right.name)


def _general_proofs(tree: Expr, output_name: str, upstream_name: str | None) -> dict[str, Any]:
    """The step-by-step proof for all sizes, where the general prover covers the
    expression: a product A @ B of two different matrices, against an upstream.
    The proof is written with internal names and shown with the user's
    (general.py), so any name the expression language allows will do."""
    if not (_general_prover_covers(tree) and upstream_name is not None):
        return {}
    from .general import prove_matmul

    return prove_matmul(tree.left.name, tree.right.name, Y=output_name, G=upstream_name)


def _wrt(wrt: Iterable[str] | str | None, names: list[str]) -> list[str]:
    if wrt is None:
        return list(names)
    chosen = [wrt] if isinstance(wrt, str) else list(wrt)
    for name in chosen:
        if name not in names:
            raise BadInput(f"cannot differentiate by {name!r}: the expression's matrices are "
                           f"{', '.join(names)}")
    return list(dict.fromkeys(chosen))


def _explicit_claim(claim: Expr, values: dict[str, Any], leaf_shapes: dict[str, Shape], kind: str):
    """The claim written out, in the engine of the derivation when it can be (a
    closed form with, say, tanh in it is built by SymPy from SymPy inputs)."""
    node_shapes(claim, leaf_shapes)  # a claim must conform before it is built
    if kind == engine.SYMENGINE and engine.engine_for(claim) == engine.SYMENGINE:
        return engine.explicit(claim, values, kind)
    return build.explicit(claim, {name: engine.matrix_to_sympy(m) for name, m in values.items()})


def _for_numpy(node: Expr, leaf_shapes: dict[str, Shape]) -> Expr:
    """``node`` with every adj(A) written as the polynomial in A that it is, for the
    numeric witness (numeric.py evaluates inv and det, not adj).  Exact checks
    use the adjugate itself (build.py)."""
    if not any(isinstance(sub, Call) and sub.function == "adj" for sub in walk(node)):
        return node

    def rewrite(sub: Expr) -> Expr:
        kids = [rewrite(child) for child in sub.children()]
        sub = sub.rebuild(*kids) if kids else sub
        if isinstance(sub, Call) and sub.function == "adj":
            return _adjugate_polynomial(sub.argument, shape_of(sub.argument, leaf_shapes)[0])
        return sub

    return rewrite(node)


def _adjugate_polynomial(A: Expr, k: int) -> Expr:
    """adj(A) of a k x k matrix A as a polynomial in A (Faddeev-LeVerrier):
    M_1 = I, c_1 = -tr(A); M_s = A M_(s-1) + c_(s-1) I, c_s = -tr(A M_s)/s; and
    adj(A) = (-1)^(k+1) M_k.  For k = 2, trace(A) I - A; for k = 3,
    A^2 - trace(A) A + (trace(A)^2 - trace(A^2))/2 I."""
    identity = Eye(k)
    M: Expr = identity
    c: Expr = Neg(Call("trace", A))
    for s in range(2, k + 1):
        M = Add(MatMul(A, M), Hadamard(c, identity))
        c = Div(Neg(Call("trace", MatMul(A, M))), Number(Fraction(s)))
    return M if k % 2 else Neg(M)


def _same_engine(matrix: Any, kind: str) -> bool:
    return isinstance(matrix, sympy.MatrixBase) == (kind == engine.SYMPY)


def _jacobian_identities(expression: Expr, inputs: dict[str, sympy.ImmutableMatrix],
                         jacobians: dict[str, chain_rule.SparseJacobian],
                         output_name: str) -> list[Identity]:
    """Check the root operation's index formula for each argument that is a name.

    This is the seed note's intermediate result, e.g. dY_pq/dX_ij = delta_pi W_jq.
    """
    children = expression.children()
    if not children or not all(isinstance(child, Name) for child in children):
        return []
    if len({child.name for child in children}) < len(children):
        return []  # X @ X: dY/dX sums both arguments' terms; a per-argument formula is not all of it
    budget.stage(f"verifying the index formulas of d{output_name}/d" +
                 f", d{output_name}/d".join(child.name for child in children if child.name in jacobians))
    found = []
    operands = [sympy.IndexedBase(child.name) for child in children]
    p, q, i, j = (rules.INDEX[k] for k in "pqij")
    for rule, child in zip(rules.rules_for(expression), children):
        if rule.entry_jacobian is None or child.name not in jacobians:
            continue
        formula = rule.entry_jacobian(p, q, i, j, *operands)
        jac = jacobians[child.name]
        stored = jac.entries
        verdict = verify.equal_index_formula(
            lambda key: stored.get(key, 0), stored, formula, (p, q, i, j), jac.shape,
            inputs, f"d{output_name}/d{child.name} against differentiation")
        found.append(Identity("jacobian", child.name, formula,
                              f"d{output_name}_pq/d{child.name}_ij = {plain_text(formula)}", verdict))
    return found


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """Whether ``claim`` is the gradient of ``expression`` with respect to ``wrt``."""

    expression: Expr
    wrt: str
    claim: Expr
    shapes: dict[str, Shape]
    defaulted: dict[str, tuple[str, ...]]
    upstream_name: str | None
    verdict: verify.Verdict
    witness: numeric.NumericWitness | None
    for_all_sizes: bool = False  # the claim was also proven for all sizes, step by step
    # where the verdict holds: the conditions the expression and the claim need
    domain: tuple[domains.Condition, ...] = ()

    @property
    def domain_text(self) -> str:
        """"where every entry of X @ W is nonzero (relu has a kink at 0)", or "" when
        the verdict needs no condition."""
        return domains.domain_text(list(self.domain))

    @property
    def status(self) -> str:
        """VERIFIED, REFUTED (with a counterexample) or UNDECIDED; see :func:`outcome`."""
        return outcome(self.verdict, self.witness)

    @property
    def holds(self) -> bool:
        return self.status == VERIFIED

    def _repr_latex_(self) -> str:
        """Jupyter shows the claim, = or not, and what was checked, as rendered maths."""
        from .render import render_check

        return render_check(self)

    def report(self) -> dict[str, Any]:
        return {
            "expression": str(self.expression), "wrt": self.wrt, "claim": str(self.claim),
            "shapes": {name: list(shape) for name, shape in self.shapes.items()},
            "defaulted": {name: list(axes) for name, axes in self.defaulted.items()},
            "upstream": self.upstream_name,
            **_outcome_data(self.verdict, self.witness),
            "domain": domains.domain_data(list(self.domain)),
            "proven_for_all_sizes": self.for_all_sizes,
            "scope": ("proven for all sizes by the general prover, and checked exactly at these sizes"
                      if self.for_all_sizes else "checked exactly at these sizes only; not a proof for all sizes"),
        }


def check(expression: str | Expr, wrt: str, claim: str | Expr, *,
          shapes: Mapping[str, Any] | None = None, n: int | None = None, m: int | None = None,
          d: int | None = None, upstream: str | None = UPSTREAM_NAME,
          max_work: int = DEFAULT_MAX_WORK, time_limit: float | None = None,
          for_all_sizes: bool = True, numeric_witness: bool = True) -> CheckResult:
    """Check exactly whether ``claim`` is df/d``wrt`` for ``expression``.

    The claim may use the expression's names, the upstream gradient (``G`` by
    default, for a matrix-valued expression), numbers, eye(n) and ones(r, c).
    A claim of the wrong shape is refuted, naming both shapes; a claim whose
    products do not conform is bad input (ShapeError).

    ``time_limit``, in seconds (default None: none of its own), stops the run
    when it runs out with :class:`symderive.budget.TimeLimitReached`.
    ``for_all_sizes=False`` skips the proof for all sizes (a check at these sizes only);
    ``numeric_witness=False`` the numeric witness (the exact check alone decides).
    """
    with budget.within(time_limit):
        return _check(expression, wrt, claim, shapes, n, m, d, upstream, max_work, for_all_sizes,
                      numeric_witness)


def _check(expression, wrt, claim, shapes, n, m, d, upstream, max_work, for_all_sizes=True,
           numeric_witness=True) -> CheckResult:
    budget.stage("reading the expression and the claim")
    try:
        tree = _expression(expression)
    except BadInput as error:
        raise BadInput(f"in the expression: {error}") from error
    try:
        claim_tree = _expression(claim)
    except BadInput as error:
        raise BadInput(f"in the claim: {error}") from error
    upstream = _upstream_argument(UPSTREAM_NAME if upstream is None else upstream)
    budget.pending(f"the claim df/d{wrt} = {claim_tree}")
    given, chosen = _given_shapes(tree, _without(shapes, upstream, tree), {"n": n, "m": m, "d": d})
    report = infer_shapes(tree, given)
    derivation = _derive(tree, report, chosen, [wrt] if isinstance(wrt, str) else wrt, upstream,
                         size_argument("max_work", max_work), gradients_only=True, general=for_all_sizes)
    if shapes and upstream in shapes and derivation.upstream_name is not None \
            and tuple(shapes[upstream]) != derivation.output_shape:
        r, c = derivation.output_shape
        raise BadInput(f"--shape {upstream}: the upstream gradient has the shape of the "
                       f"expression, {r}x{c}, not {shapes[upstream]}")
    leaf_shapes = dict(derivation.shapes)
    values: dict[str, Any] = dict(derivation.raw_inputs)
    if derivation.upstream_name is not None:
        leaf_shapes[derivation.upstream_name] = derivation.output_shape
        values[derivation.upstream_name] = derivation.raw_upstream
    for name in names_in(claim_tree):
        if name not in leaf_shapes:
            known = ", ".join(leaf_shapes)
            extra = "" if derivation.upstream_name else \
                f" (the expression is scalar-valued, so there is no upstream {upstream})"
            raise BadInput(f"the claim uses {name!r}, which is not in the expression; known: {known}{extra}")
    try:
        claim_shape = shape_of(claim_tree, leaf_shapes)
    except BadInput as error:
        raise BadInput(f"in the claim: {error}") from error
    derived = derivation.raw_gradients[wrt]
    witness = None
    budget.stage(f"checking the claim df/d{wrt} = {claim_tree}")
    if claim_shape != tuple(derived.shape):
        verdict = verify.Verdict(
            False, 0, f"df/d{wrt} against the claim: shapes differ",
            reason=f"the claim {claim_tree} is {claim_shape[0]}x{claim_shape[1]} but df/d{wrt} "
                   f"has the shape of {wrt}, {derived.rows}x{derived.cols}")
    else:
        claimed = _explicit_claim(claim_tree, values, leaf_shapes, derivation.engine)
        if not _same_engine(claimed, derivation.engine):
            derived = engine.matrix_to_sympy(derived)
        verdict = verify.equal_matrices(derived, claimed, f"df/d{wrt} from the chain rule against the claim")
        if numeric_witness:
            witness = numeric.witness(tree, wrt, _for_numpy(claim_tree, leaf_shapes), leaf_shapes,
                                      derivation.upstream_name)
    status = outcome(verdict, witness)
    budget.decided(f"the claim df/d{wrt} = {claim_tree} {status}",
                   pending_key=f"the claim df/d{wrt} = {claim_tree}")
    if verdict.holds:
        budget.stage(f"proving the claim df/d{wrt} = {claim_tree} for all sizes")
    proven = bool(verdict.holds and derivation.general_proofs and _claim_proven(tree, wrt, claim_tree, derivation))
    if verdict.holds and not proven and for_all_sizes:
        # beyond a product: the expression as a one-step program, its backward pass proven
        # step by step, and the claim equal to its result in index notation
        from .network import claim_proven_for_all_sizes

        leaves = {name: shape for name, shape in leaf_shapes.items() if name != derivation.upstream_name}
        proven = claim_proven_for_all_sizes(tree, wrt, claim_tree, leaves, derivation.upstream_name) is not None
    return CheckResult(tree, wrt, claim_tree, derivation.shapes, derivation.defaulted,
                       derivation.upstream_name, verdict, witness, proven,
                       tuple(domains.conditions(tree, claim_tree)))


def check_local(expression: Expr, claims: Mapping[str, Expr], shapes: Mapping[str, Shape],
                upstream: str | None) -> dict[str, verify.Verdict]:
    """Exact verdicts of several claims about one expression (one per argument):
    the chain-rule gradients are derived once, for all of them, and each claim is
    compared entry by entry.  No numeric witness and no proof for all sizes: what
    a staged backward pass needs of each of its steps (symderive.network)."""
    tree = _expression(expression)
    upstream = _upstream_argument(UPSTREAM_NAME if upstream is None else upstream)
    given, chosen = _given_shapes(tree, _without(shapes, upstream, tree), {"n": None, "m": None, "d": None})
    derivation = _derive(tree, infer_shapes(tree, given), chosen, list(claims), upstream, DEFAULT_MAX_WORK * 100,
                         gradients_only=True, general=False)
    leaf_shapes = dict(derivation.shapes)
    values: dict[str, Any] = dict(derivation.raw_inputs)
    if derivation.upstream_name is not None:
        leaf_shapes[derivation.upstream_name] = derivation.output_shape
        values[derivation.upstream_name] = derivation.raw_upstream
    verdicts = {}
    for wrt, claim in claims.items():
        derived = derivation.raw_gradients[wrt]
        claim_shape = shape_of(claim, leaf_shapes)
        if claim_shape != tuple(derived.shape):
            verdicts[wrt] = verify.Verdict(False, 0, f"df/d{wrt} against the claim: shapes differ",
                                           reason=f"the claim {claim} is {claim_shape[0]}x{claim_shape[1]} but "
                                                  f"df/d{wrt} is {derived.rows}x{derived.cols}")
            continue
        claimed = _explicit_claim(claim, values, leaf_shapes, derivation.engine)
        if not _same_engine(claimed, derivation.engine):
            derived = engine.matrix_to_sympy(derived)
        verdicts[wrt] = verify.equal_matrices(derived, claimed, f"df/d{wrt} from the chain rule against the claim")
    return verdicts


def _claim_proven(tree: Expr, wrt: str, claim: Expr, derivation: Derivation) -> bool:
    """Where the general prover covers the expression (A @ B) and the claim is made of
    names, products, sums, differences and transposes: prove claim = df/d(wrt) for
    all sizes, as a one-step derivation checked like any other (written with
    internal names, never the claim's text: general.prove_claim)."""
    from .expr import Add, Sub, Transpose
    from .general import prove_claim

    if not all(isinstance(node, (Name, MatMul, Add, Sub, Transpose)) for node in walk(claim)):
        return False
    try:
        return prove_claim(wrt, claim, tree.left.name, tree.right.name,
                           Y=derivation.output_name, G=derivation.upstream_name).proven
    except BadInput:
        return False
