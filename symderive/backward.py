"""The backward pass: a program's gradients, step by step, in reverse (reverse mode).

From dL/d(output) the steps are walked backwards.  Each step V = expr(args)
turns dV = dL/dV into a contribution to d(arg) for every argument it uses, by
the rules of :mod:`symderive.rules` applied through ``expr``; a name used by
several steps accumulates their contributions (the multivariable chain rule,
the seed note's section 2.2).  Contributions are written with the program's
names: the step's own output stands for its expression (dZ = dH * (1 - H**2),
not 1 - tanh(Z)**2), and each gradient has a name of its own (dZ, dH, ...).

Each backward step is also a statement for all sizes, proven by
:mod:`symderive.prove`: for the step's arguments as matrices of symbolic shape
and *any* scalar f of its output V, with G = df/dV,

    d(f)/d(arg[i,j]) = (contribution, with G for dV)[i,j]

and every operation inside it has its lemma (:mod:`symderive.lemmas`).  When
every step is proven, the gradients are proven for all sizes: each local
identity by its proof, composed by the chain rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from . import rules
from .errors import BadInput
from .expr import Add, Expr, Name, Number, Sub, names_in, walk
from .index import Declarations, Derivation, Derivative, Entry, Scalar, Step as IndexStep
from .lemmas import Lemma, lemmas_for_node
from .program import Program
from .prove import ProofReport, Unreadable, check_derivation
from .shapes import Shape, node_shapes

__all__ = ["BackwardStep", "BackwardPass", "backward_pass", "substitute", "recognize", "inline",
           "expand_names", "symbolic_gradients", "symbolic_closed_forms"]

ONE = Number(Fraction(1))


def substitute(node: Expr, values: dict[str, Expr]) -> Expr:
    """``node`` with each name in ``values`` replaced by its value."""
    if isinstance(node, Name):
        return values.get(node.name, node)
    children = node.children()
    if not children:
        return node
    return node.rebuild(*(substitute(child, values) for child in children))


def recognize(node: Expr, definitions: dict[Expr, str]) -> Expr:
    """``node`` with every sub-expression that is a step's expression replaced by the
    step's name (bottom-up), e.g. tanh(Z) by H where H = tanh(Z)."""
    children = node.children()
    if children:
        node = node.rebuild(*(recognize(child, definitions) for child in children))
    name = definitions.get(node)
    return Name(name) if name is not None else node


def inline(node: Expr, program: Program) -> Expr:
    """``node`` with every step's name replaced by its expression, recursively: an
    expression of the inputs alone."""
    definitions: dict[str, Expr] = {}
    for step in program.steps:
        definitions[step.name] = substitute(step.expression, definitions)
    return substitute(node, definitions)


@dataclass
class BackwardStep:
    """One step walked backwards: V's gradient turned into a contribution to one argument."""

    step: str  # V
    argument: str  # the name the contribution is for
    upstream: Expr  # dV (a name), or 1 for a scalar output
    contribution: Expr  # in the program's names and gradient names
    rule_steps: list[rules.RuleStep]
    lemmas: list[Lemma]
    proof: ProofReport | None = None  # d(f)/d(argument) = contribution, for all sizes
    proof_error: str = ""
    symbolic_contribution: Expr | None = None  # the contribution with sizes as names (ones(1, n))

    @property
    def proven(self) -> bool:
        return self.proof is not None and self.proof.proven and all(lemma.proven for lemma in self.lemmas)

    def data(self) -> dict[str, Any]:
        return {
            "step": self.step, "argument": self.argument, "upstream": str(self.upstream),
            "contribution": str(self.contribution),
            "rules": [s.rule.identity for s in self.rule_steps],
            "lemmas": [lemma.name for lemma in self.lemmas],
            "proven_for_all_sizes": self.proven,
            "proof": None if self.proof is None else self.proof.data(),
            "not_proven_because": self.proof_error or None,
        }


@dataclass
class BackwardPass:
    program: Program
    upstream_name: str | None  # G for a matrix-valued output, None for a scalar one
    gradient_names: dict[str, str]  # V -> dV
    steps: list[BackwardStep]
    gradients: dict[str, Expr]  # dV as the sum of its contributions (names)
    closed_forms: dict[str, Expr]  # each input's gradient in the program's forward names
    lemmas: list[Lemma] = field(default_factory=list)  # every lemma used, once

    @property
    def proven_for_all_sizes(self) -> bool:
        return bool(self.steps) and all(step.proven for step in self.steps) \
            and all(lemma.proven for lemma in self.lemmas)


def _gradient_names(program: Program, taken: set[str]) -> dict[str, str]:
    names = {}
    for name in program.inputs + program.step_names:
        candidate = f"d{name}"
        k = 1
        while candidate in taken:
            candidate = f"d{name}_{k}"
            k += 1
        taken.add(candidate)
        names[name] = candidate
    return names


def backward_pass(program: Program, shapes: dict[str, Shape], upstream_name: str | None,
                  symbolic_shapes: dict[str, tuple] | None = None, sizes: list[str] | None = None,
                  prove: bool = True) -> BackwardPass:
    """Walk ``program`` backwards at concrete ``shapes`` (every input's and step's),
    and prove each backward step for all sizes at ``symbolic_shapes`` (the same
    names with sizes as names; None skips the proofs)."""
    taken = set(program.inputs) | set(program.step_names) | ({upstream_name} if upstream_name else set())
    gradient_names = _gradient_names(program, taken)
    output = program.output
    scalar = upstream_name is None
    contributions: dict[str, list[Expr]] = {}
    steps: list[BackwardStep] = []
    used_lemmas: dict[int, Lemma] = {}
    for step in reversed(program.steps):
        if step.name != output and step.name not in contributions:
            continue  # nothing after it uses it: it does not reach the output
        if step.name == output:
            upstream: Expr = ONE if scalar else Name(upstream_name)
        else:
            upstream = Name(gradient_names[step.name])
        leaf_shapes = {name: shapes[name] for name in names_in(step.expression)}
        found = node_shapes(step.expression, leaf_shapes)
        upstream_shapes = dict(leaf_shapes)
        if isinstance(upstream, Name):
            upstream_shapes[upstream.name] = shapes[step.name]
        forms, rule_steps = rules.closed_forms(step.expression, upstream, found, upstream_shapes)
        own = {step.expression: step.name}
        for argument, form in forms.items():
            contribution = recognize(form, own) if step.expression != Name(argument) else form
            applied = [s for s in rule_steps if argument in names_in(s.argument)]
            node_lemmas = []
            for s in applied:
                for lemma in lemmas_for_node(s.node, found):
                    if lemma.rule == s.rule:
                        node_lemmas.append(lemma)
                        used_lemmas.setdefault(id(lemma), lemma)
            backward = BackwardStep(step.name, argument, upstream, contribution, applied, node_lemmas)
            if prove and symbolic_shapes is not None:
                _prove_step(backward, step.expression, symbolic_shapes, sizes or [], scalar and step.name == output,
                            shapes)
            steps.append(backward)
            contributions.setdefault(argument, []).append(contribution)
    gradients = {}
    for name, parts in contributions.items():
        total = parts[0]
        for part in parts[1:]:
            total = Add(total, part)
        gradients[name] = total
    closed = {}
    named = {gradient_names[name]: value for name, value in gradients.items()}
    for name in program.inputs:
        if name in gradients:
            closed[name] = expand_names(gradients[name], named)
    return BackwardPass(program, upstream_name, gradient_names, steps, gradients, closed,
                        sorted(used_lemmas.values(), key=lambda lemma: lemma.name))


def expand_names(node: Expr, named: dict[str, Expr]) -> Expr:
    """Replace the names in ``named`` (gradients dZ, or named arguments U1) by their
    values until none is left."""
    for _ in range(len(named) + 1):
        if not any(isinstance(sub, Name) and sub.name in named for sub in walk(node)):
            return node
        node = substitute(node, named)
    return node


def _ones_beside(ones: Expr, other: tuple) -> Expr:
    """ones(r, c) in an entrywise product with a matrix of shape ``other``: along an
    axis where the other is not 1 the two agree, so the size is the other's name;
    where the other is 1 (broadcast) nothing says which size is meant, and the
    number stays (a statement about that size only)."""
    from .expr import Ones

    rows = 1 if ones.rows == 1 else other[0] if other[0] != 1 else ones.rows
    cols = 1 if ones.cols == 1 else other[1] if other[1] != 1 else ones.cols
    return Ones(rows, cols)


def _constant_scalar(node) -> bool:
    """A 1x1 constant (1 / n, sqrt(d), lam): no matrix in it."""
    from .expr import Constant, Identity, Ones

    return isinstance(node, (Number, Constant)) or (
        bool(node.children()) and not names_in(node)
        and not any(isinstance(sub, (Ones, Identity)) for sub in walk(node)))


def symbolic_constants(node: Expr, decl: Declarations, shape: tuple | None = None) -> Expr:
    """As :func:`_symbolic_constants`, and a bare ones(r, c) or eye(k) where a
    matrix of ``shape`` is expected (the whole contribution eye(2) of trace) gets
    that shape's size names."""
    from .expr import Hadamard, Identity, MatMul, Neg, Ones
    from .prove import matrix_shape

    if shape is not None:
        if isinstance(node, Ones):
            return Ones(*shape)
        if isinstance(node, Identity) and shape[0] == shape[1]:
            return Identity(shape[0])
        if isinstance(node, Neg):
            return Neg(symbolic_constants(node.operand, decl, shape))
        if isinstance(node, Hadamard) and isinstance(node.left, Number):
            return Hadamard(node.left, symbolic_constants(node.right, decl, shape))
        if isinstance(node, Hadamard) and isinstance(node.left, Hadamard) and isinstance(node.left.left, Ones) \
                and _constant_scalar(node.left.right):
            return Hadamard(Hadamard(Ones(*shape), node.left.right), _symbolic_constants(node.right, decl))
        if isinstance(node, Hadamard) and (isinstance(node.left, Ones) or isinstance(node.right, Ones)):
            # the ones span the whole result (the other side is the same shape or broadcast)
            left = Ones(*shape) if isinstance(node.left, Ones) else _symbolic_constants(node.left, decl)
            right = Ones(*shape) if isinstance(node.right, Ones) else _symbolic_constants(node.right, decl)
            return Hadamard(left, right)
        if isinstance(node, (Add, Sub)):
            return node.rebuild(symbolic_constants(node.left, decl, shape),
                                symbolic_constants(node.right, decl, shape))
        if isinstance(node, MatMul) and isinstance(node.left, Ones) and not isinstance(node.right, (Ones, Identity)):
            right = _symbolic_constants(node.right, decl)
            return MatMul(Ones(shape[0], matrix_shape(right, decl)[0]), right)
        if isinstance(node, MatMul) and isinstance(node.right, Ones) and not isinstance(node.left, (Ones, Identity)):
            left = _symbolic_constants(node.left, decl)
            return MatMul(left, Ones(matrix_shape(left, decl)[1], shape[1]))
    return _symbolic_constants(node, decl)


def _symbolic_constants(node: Expr, decl: Declarations) -> Expr:
    """``node`` with the sizes of ones(r, c) and eye(n) written as the size names the
    shapes around them force (ones(1, 4) @ dY with dY: n x k is ones(1, n) @ dY):
    the rule table builds them at concrete sizes, a proof for all sizes needs names."""
    from .expr import Hadamard, Identity, MatMul, Ones
    from .prove import matrix_shape

    children = node.children()
    if not children:
        return node
    children = tuple(_symbolic_constants(child, decl) for child in children)
    if isinstance(node, MatMul):
        left, right = children
        if isinstance(left, Ones) and not isinstance(right, (Ones, Identity)):
            left = Ones(left.rows if left.rows == 1 else left.rows, matrix_shape(right, decl)[0])
        if isinstance(right, Ones) and not isinstance(left, (Ones, Identity)):
            right = Ones(matrix_shape(left, decl)[1], right.cols)
        if isinstance(left, Identity) and not isinstance(right, (Ones, Identity)):
            left = Identity(matrix_shape(right, decl)[0])
        if isinstance(right, Identity) and not isinstance(left, (Ones, Identity)):
            right = Identity(matrix_shape(left, decl)[1])
        children = (left, right)
    elif isinstance(node, Hadamard):
        left, right = children
        # ones(r, c) * (1 / n) beside a matrix: the ones take the matrix's shape
        if isinstance(left, Hadamard) and isinstance(left.left, Ones) and _constant_scalar(left.right) \
                and not isinstance(right, (Ones, Identity, Number)):
            left = Hadamard(_ones_beside(left.left, matrix_shape(right, decl)), left.right)
        if isinstance(left, Ones) and not isinstance(right, (Ones, Identity, Number)):
            left = _ones_beside(left, matrix_shape(right, decl))
        if isinstance(right, Ones) and not isinstance(left, (Ones, Identity, Number)):
            right = _ones_beside(right, matrix_shape(left, decl))
        if isinstance(right, Identity) and not isinstance(left, (Ones, Identity)):
            right = Identity(matrix_shape(left, decl)[0] if matrix_shape(left, decl)[0] != 1
                             else matrix_shape(left, decl)[1])
        children = (left, right)
    return node.rebuild(*children)


def fixed_sizes(node: Expr) -> list[Expr]:
    """The ones(r, c) and eye(k) in ``node`` whose sizes are still numbers other than 1:
    a statement with them is about those sizes, not about all sizes."""
    from .expr import Identity, Ones

    found = []
    for sub in walk(node):
        if isinstance(sub, Ones) and any(isinstance(d, int) and d != 1 for d in (sub.rows, sub.cols)):
            found.append(sub)
        elif isinstance(sub, Identity) and isinstance(sub.size, int) and sub.size != 1:
            found.append(sub)
    return found


def symbolic_gradients(bp: "BackwardPass") -> tuple[dict[str, Expr], dict[str, Expr]]:
    """Each name's gradient (in gradient names) and each input's closed form (in
    forward names), summed from the steps' contributions with sizes as names
    (ones(1, n), not ones(1, 4)); both empty unless every step has such a contribution."""
    if not bp.steps or any(step.symbolic_contribution is None for step in bp.steps):
        return {}, {}
    sums: dict[str, Expr] = {}
    for step in bp.steps:
        part = step.symbolic_contribution
        sums[step.argument] = Add(sums[step.argument], part) if step.argument in sums else part
    named = {bp.gradient_names[name]: value for name, value in sums.items()}
    return sums, {name: expand_names(sums[name], named) for name in bp.program.inputs if name in sums}


def symbolic_closed_forms(bp: "BackwardPass") -> dict[str, Expr]:
    """Each input's closed form with sizes as names (see :func:`symbolic_gradients`)."""
    return symbolic_gradients(bp)[1]


def _symbolic_contribution(backward: BackwardStep, expression: Expr,
                           symbolic_shapes: dict[str, tuple]) -> Expr:
    """The step's contribution to d(argument) computed afresh by the rule table at
    symbolic shapes (sizes as names): mean's 1/4 is 1/(n k) there, ones(1, 4) is
    ones(1, n).  The step's own expression is written as its name, as in the
    contribution at concrete sizes.  Raises when the rules or the shapes cannot
    work with names (the caller falls back to patching the concrete contribution)."""
    from .expr import Identity, Ones
    from .lemmas import SymbolicSize
    from .prove import matrix_shape

    def sized(shape: tuple) -> tuple:
        return tuple(SymbolicSize(d) if isinstance(d, str) else d for d in shape)

    leaves = names_in(expression)
    decl = Declarations(shapes={name: symbolic_shapes[name] for name in leaves})
    found = {node: sized(matrix_shape(node, decl)) for node in walk(expression)}
    leaf_shapes = {name: sized(symbolic_shapes[name]) for name in leaves}
    if isinstance(backward.upstream, Name):
        leaf_shapes[backward.upstream.name] = sized(symbolic_shapes[backward.step])
    forms, _ = rules.closed_forms(expression, backward.upstream, found, leaf_shapes)
    form = forms[backward.argument]
    if expression != Name(backward.argument):
        form = recognize(form, {expression: backward.step})

    def plain(node: Expr) -> Expr:  # sizes as plain names again
        def size(d):
            return str(d) if isinstance(d, SymbolicSize) else d

        if isinstance(node, Ones):
            return Ones(size(node.rows), size(node.cols))
        if isinstance(node, Identity):
            return Identity(size(node.size))
        children = node.children()
        return node.rebuild(*(plain(child) for child in children)) if children else node

    return plain(form)


def _instance(node: Expr, values: dict[str, int]) -> Expr:
    """``node`` with its sizes given values: ones(n, k) -> ones(4, 2), 1/(k n) -> 1/8."""
    from .expr import Constant, Identity, Ones, size_symbol

    def size(d):
        return values[d] if isinstance(d, str) else d

    if isinstance(node, Ones):
        return Ones(size(node.rows), size(node.cols))
    if isinstance(node, Identity):
        return Identity(size(node.size))
    if isinstance(node, Constant):
        return Constant(node.value.xreplace({size_symbol(name): value for name, value in values.items()}))
    children = node.children()
    return node.rebuild(*(_instance(child, values) for child in children)) if children else node


def _is_the_contribution(claim: Expr, backward: BackwardStep, symbolic_shapes: dict[str, tuple],
                         concrete_shapes: dict[str, Shape]) -> bool:
    """Whether ``claim`` (sizes as names) at the concrete sizes is the contribution the
    backward pass shows, compared exactly on explicit matrices of symbols: then a
    proof of the claim for all sizes is a proof of what is shown."""
    from . import build, verify

    shapes = dict(concrete_shapes)
    symbolic = dict(symbolic_shapes)
    if isinstance(backward.upstream, Name):
        shapes[backward.upstream.name] = concrete_shapes[backward.step]
        symbolic[backward.upstream.name] = symbolic_shapes[backward.step]
    values: dict[str, int] = {}
    for name in shapes.keys() & symbolic.keys():
        for named, value in zip(symbolic[name], shapes[name]):
            if isinstance(named, str) and values.setdefault(named, value) != value:
                return False
    instance = _instance(claim, values)
    if instance == backward.contribution:  # the same tree: nothing to evaluate
        return True
    names = set(names_in(claim)) | set(names_in(backward.contribution))
    if not names <= shapes.keys():
        return False
    matrices = {name: build.matrix_of_symbols(name, *shapes[name]) for name in names}
    lhs = build.explicit(instance, matrices)
    rhs = build.explicit(backward.contribution, matrices)
    return verify.equal_matrices(lhs, rhs, "the contribution at symbolic and at concrete sizes").holds


def _prove_step(backward: BackwardStep, expression: Expr, symbolic_shapes: dict[str, tuple],
                sizes: list[str], scalar_output: bool, concrete_shapes: dict[str, Shape] | None = None) -> None:
    """d(f)/d(arg[i,j]) = contribution[i,j] for all sizes, for any f of the step's output.

    The contribution proven is the rule table's at symbolic shapes, when at the
    concrete sizes it is exactly the contribution shown; otherwise (or without
    ``concrete_shapes``) the one shown, with the sizes of its ones and identities
    written as names (which cannot recover a count such as mean's 1/n)."""
    claim = None
    if concrete_shapes is not None:
        try:
            claim = _symbolic_contribution(backward, expression, symbolic_shapes)
            if fixed_sizes(claim) or not _is_the_contribution(claim, backward, symbolic_shapes, concrete_shapes):
                claim = None
        except (BadInput, KeyError, TypeError, ValueError):  # the rules or shapes cannot take names here
            claim = None
    if claim is not None:
        _prove_claim(backward, expression, symbolic_shapes, scalar_output, claim)
        if backward.proof is not None and not backward.proof.error:
            return
    _prove_claim(backward, expression, symbolic_shapes, scalar_output, None)


def _prove_claim(backward: BackwardStep, expression: Expr, symbolic_shapes: dict[str, tuple],
                 scalar_output: bool, claim: Expr | None) -> None:
    """Prove d(f)/d(arg[i,j]) = claim[i,j]; ``claim`` None: the concrete contribution
    with its ones and identities given size names."""
    leaves = names_in(expression)
    V = backward.step
    decl_shapes = {name: symbolic_shapes[name] for name in leaves}
    backward.proof, backward.proof_error, backward.symbolic_contribution = None, "", None
    if claim is None:
        claim = backward.contribution
        context = Declarations(shapes={**decl_shapes, **{n: symbolic_shapes[n] for n in names_in(claim)
                                                         if n in symbolic_shapes}})
        if isinstance(backward.upstream, Name):
            context.shapes[backward.upstream.name] = symbolic_shapes[V]
        try:
            claim = symbolic_constants(claim, context, symbolic_shapes[backward.argument])
        except Unreadable as problem:
            backward.proof_error = str(problem)
            return
        fixed = fixed_sizes(claim)
        if fixed:
            backward.proof_error = (f"the contribution has sizes fixed as numbers ({fixed[0]}), so it is a "
                                    "statement about these sizes, not all sizes")
            return
    backward.symbolic_contribution = claim
    if scalar_output:
        upstream = None
        before = Derivative(Entry(Name(V), 1, 1), Entry(Name(backward.argument), "i", "j"))
    else:
        upstream = ("G", V) if "G" not in leaves and V != "G" else ("G_", V)
        claim = substitute(claim, {backward.upstream.name: Name(upstream[0])})
        before = Derivative(Scalar(), Entry(Name(backward.argument), "i", "j"))
    rows, cols = symbolic_shapes[backward.argument]
    decl = Declarations(sizes=sorted({d for shape in decl_shapes.values() for d in shape if isinstance(d, str)}),
                        shapes=decl_shapes, defined={V: expression}, upstream=upstream,
                        ranges={"i": (1, rows), "j": (1, cols)})
    derivation = Derivation(decl, [IndexStep(before, "", 0, f"d(f)/d({backward.argument}[i,j])"),
                                   IndexStep(Entry(claim, "i", "j"), "the backward step", 0,
                                             f"({claim})[i,j]")],
                            f"{V} = {expression}: d{backward.argument}")
    try:
        report = check_derivation(derivation)
    except Unreadable as problem:
        backward.proof_error = str(problem)
        return
    backward.proof = report
    if report.error:
        backward.proof_error = report.error
    elif not report.proven:
        backward.proof_error = report.steps[0].verdict_text
