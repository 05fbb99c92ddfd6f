"""Programs end to end: shapes, the staged backward pass, its proofs, and its checks.

:func:`derive_program` runs the pipeline on a program of named steps
(:mod:`symderive.program`):

1. shapes: the declared ones with the sizes given (``--size n=4``), the rest
   inferred; every step's shape, non-conforming steps refused with names;
2. the backward pass (:mod:`symderive.backward`), each step proven for all
   sizes by :mod:`symderive.prove`, with the lemma of every rule it applies
   (:mod:`symderive.lemmas`);
3. checks at the concrete sizes, local to each step: the step's contribution
   against the chain-rule derivation of that step alone, on fresh matrices of
   symbols for its arguments and its upstream gradient (about one step's cost,
   not the expanded whole);
4. a numeric witness of the whole program: 50-digit central differences of the
   inlined expression against each input's closed form;
5. where the program is small and polynomial, the exact end-to-end check of
   every closed form against the chain rule of the inlined expression, as one
   more witness; otherwise it is reported as not run, and why.

:func:`check_program` tells whether a claim, written with any of the program's
names, is the gradient: exactly at the sizes given, and for all sizes when the
backward pass is proven and the claim equals its result in index notation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import sympy

from . import build, numeric, verify
from .backward import (BackwardPass, backward_pass, expand_names, inline, recognize, substitute,
                       symbolic_closed_forms)
from .domains import domain_text
from .errors import BadInput
from .expr import Expr, Name, Number, names_in, walk
from .index import Declarations, Derivation, Entry, Step as IndexStep
from .parse import parse
from .program import Program, named_arguments, read_program
from .prove import ProofReport, Unreadable, check_derivation, matrix_shape
from .shapes import Shape, infer_shapes, node_shapes, shape_of, size_argument

__all__ = ["ProgramDerivation", "ProgramCheck", "derive_program", "check_program", "NOTE_PROGRAM",
           "claim_proven_for_all_sizes"]

VERIFIED, REFUTED, UNDECIDED = "verified", "refuted", "undecided"
NOTE_PROGRAM = "X : n x m; W : m x d; Y = X @ W"
_SIZE_POOL = ("n", "m", "d", "k", "h", "l", "p", "q", "r", "s", "t", "u", "v")
PROGRAM_WITNESS_ENTRIES = 24  # entries of each input a program's numeric witness moves
END_TO_END_LIMIT = 4_000  # entries times terms of the inlined output, beyond which it is not expanded


@dataclass
class LocalCheck:
    """A backward step checked exactly at the concrete sizes."""

    step: str
    argument: str
    verdict: verify.Verdict

    @property
    def status(self) -> str:
        if self.verdict.holds:
            return VERIFIED
        found = self.verdict.counterexample
        return REFUTED if (found is not None and found.decided) or (found is None and self.verdict.reason) \
            else UNDECIDED

    def data(self) -> dict[str, Any]:
        found = self.verdict.counterexample
        return {"step": self.step, "argument": self.argument, "status": self.status,
                "method": self.verdict.method,
                "counterexample": None if found is None else {
                    "index": list(found.index), "lhs": str(found.lhs), "rhs": str(found.rhs)}}


@dataclass
class TextbookForm:
    """A gradient in the shorter form the program's assumptions allow: ``derived``
    (true everywhere) = ``tidied`` (by identities true everywhere) = ``form`` where
    the assumptions ``used`` hold (each occurrence of an assumed expression replaced
    by its value, then tidied).  ``verdict``: form against derived, exactly at the
    sizes given, on the set where the assumptions hold; ``proofs``: the two tidying
    moves in index notation for all sizes (the replacement is congruence)."""

    name: str  # dZ, or an input's name for its closed form
    derived: Expr
    tidied: Expr
    rewritten: Expr
    form: Expr
    used: list
    verdict: verify.Verdict
    proofs: list = field(default_factory=list)  # ProofReport or None, for tidied = derived, form = rewritten

    @property
    def assumption_text(self) -> str:
        return assumption_text(self.used)

    @property
    def status(self) -> str:
        if self.verdict.holds:
            return VERIFIED
        found = self.verdict.counterexample
        return REFUTED if found is not None and found.decided else UNDECIDED

    @property
    def proven_for_all_sizes(self) -> bool:
        return self.verdict.holds and bool(self.proofs) and all(p is not None and p.proven for p in self.proofs)

    def data(self) -> dict[str, Any]:
        return {"name": self.name, "derived": str(self.derived), "tidied": str(self.tidied),
                "form": str(self.form), "uses": [str(a) for a in self.used],
                "statement": f"{self.name} = {self.form}, {self.assumption_text}",
                "status": self.status, "method": self.verdict.method,
                "proven_for_all_sizes_under_the_assumptions": self.proven_for_all_sizes}


def assumption_text(used) -> str:
    """"under the assumption sum(T, axis=1) = 1" (or "assumptions a; b")."""
    if not used:
        return ""
    return ("under the assumption " if len(used) == 1 else "under the assumptions ") + \
        "; ".join(str(a) for a in used)


@dataclass
class ProgramDerivation:
    program: Program
    sizes: dict[str, int]
    shapes: dict[str, Shape]  # every input's and step's
    symbolic_shapes: dict[str, tuple]
    upstream_name: str | None
    backward: BackwardPass
    local_checks: list[LocalCheck]
    witnesses: dict[str, numeric.NumericWitness]
    end_to_end: dict[str, verify.Verdict]
    end_to_end_note: str = ""
    proof_note: str = ""
    defaulted: dict[str, tuple] = field(default_factory=dict)
    introduced: dict[str, Expr] = field(default_factory=dict)  # U1 = ..., named by symderive
    textbook: dict[str, TextbookForm] = field(default_factory=dict)  # forms that use an assumption

    @property
    def closed_forms(self) -> dict[str, Expr]:
        return self.backward.closed_forms

    @property
    def status(self) -> str:
        statuses = [c.status for c in self.local_checks]
        statuses += [VERIFIED if v.holds else REFUTED if v.counterexample is not None and v.counterexample.decided
                     else UNDECIDED for v in self.end_to_end.values()]
        if REFUTED in statuses:
            return REFUTED
        if UNDECIDED in statuses or any(w.agrees is False for w in self.witnesses.values()):
            return UNDECIDED
        return VERIFIED

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    @property
    def proven_for_all_sizes(self) -> bool:
        return not self.proof_note and self.backward.proven_for_all_sizes

    def proof_statement(self) -> str:
        if self.proven_for_all_sizes:
            return ("proven for all sizes: every backward step is proven in index notation for any scalar "
                    "function of its output, every rule it applies is a proven lemma, and the steps compose "
                    "by the multivariable chain rule (reverse accumulation)")
        unproven = [f"d{s.argument} from {s.step}" for s in self.backward.steps if not s.proven]
        lemmas = [lemma.name for lemma in self.backward.lemmas if not lemma.proven]
        parts = []
        if self.proof_note:
            parts.append(self.proof_note)
        if unproven:
            parts.append("not proven: " + ", ".join(unproven))
        if lemmas:
            parts.append("lemmas checked but not proven: " + ", ".join(lemmas))
        return "not proven for all sizes (" + "; ".join(parts) + "); checked at these sizes only"

    def report(self) -> dict[str, Any]:
        bp = self.backward
        return {
            "program": str(self.program),
            "output": self.program.output,
            "sizes": self.sizes,
            "shapes": {name: list(shape) for name, shape in self.shapes.items()},
            "symbolic_shapes": {name: [str(d) for d in shape] for name, shape in self.symbolic_shapes.items()},
            "upstream": self.upstream_name,
            "status": self.status,
            "verified": self.verified,
            "proven_for_all_sizes": self.proven_for_all_sizes,
            "scope": self.proof_statement(),
            "closed_forms": {name: str(form) for name, form in bp.closed_forms.items()},
            "gradients": {bp.gradient_names[name]: str(form) for name, form in bp.gradients.items()},
            "backward_steps": [step.data() for step in bp.steps],
            "lemmas": [lemma.data() for lemma in bp.lemmas],
            "local_checks": [check.data() for check in self.local_checks],
            "numeric_witness": {name: {"agrees": w.agrees, "method": w.method} for name, w in self.witnesses.items()},
            "end_to_end": ({name: {"verified": v.holds, "method": v.method} for name, v in self.end_to_end.items()}
                           or None),
            "end_to_end_note": self.end_to_end_note or None,
            "scalars": list(self.program.scalars),
            "assumptions": [str(a) for a in self.program.assumptions],
            "textbook_forms": {name: form.data() for name, form in self.textbook.items()},
            "domain": domain_text(self.domain()) or None,
        }

    def domain(self):
        """Where the gradients hold: the conditions of every step and closed form."""
        from .domains import conditions

        return conditions(*(step.expression for step in self.program.steps), *self.closed_forms.values())


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


def _concrete_shapes(program: Program, sizes: Mapping[str, int], shapes: Mapping[str, Shape]):
    sizes = dict(sizes)
    for name in sizes:
        if name not in program.sizes:
            known = ", ".join(program.sizes) or "none"
            raise BadInput(f"--size {name}: the program has no size {name!r} (its sizes: {known})")
    missing = [s for s in program.sizes if s not in sizes]
    if missing:
        raise BadInput(f"give a value to every size of the program: --size {missing[0]}=VALUE "
                       f"(sizes without one: {', '.join(missing)})")
    given: dict[str, tuple] = {}
    for name, (rows, cols) in program.declared.items():
        given[name] = tuple(sizes[d] if isinstance(d, str) else d for d in (rows, cols))
    for name, shape in shapes.items():
        if name not in program.inputs:
            raise BadInput(f"--shape {name}: {name!r} is not an input of the program "
                           f"(inputs: {', '.join(program.inputs)})")
        shape = (size_argument(f"rows of {name}", shape[0]), size_argument(f"cols of {name}", shape[1]))
        if name in given and given[name] != shape:
            raise BadInput(f"--shape {name}={shape[0]}x{shape[1]} disagrees with the declaration "
                           f"{name} : {program.declared[name][0]} x {program.declared[name][1]}")
        given[name] = shape
    # every step's inputs, not only the output's: an input may feed a step the output
    # does not use (its gradient is then 0)
    concrete: dict[str, Shape] = {}
    defaulted: dict[str, tuple] = {}
    for step in reversed(program.steps):
        if all(name in concrete for name in names_in(inline(Name(step.name), program))):
            continue
        report = infer_shapes(inline(Name(step.name), program), {**given, **concrete})
        for name, shape in report.shapes.items():
            concrete.setdefault(name, shape)
        defaulted.update({k: v for k, v in report.defaulted.items() if k not in defaulted})
    concrete = {name: concrete[name] if name in concrete else given[name] for name in program.inputs}
    for step in program.steps:
        leaves = {name: concrete[name] for name in names_in(step.expression)}
        try:
            concrete[step.name] = node_shapes(step.expression, leaves)[step.expression]
        except BadInput as error:
            raise BadInput(f"step {step.name} (line {step.line}): {error}") from None
    return concrete, defaulted


def _symbolic_shapes(program: Program, concrete: dict[str, Shape]) -> tuple[dict[str, tuple], list[str], str]:
    """Every name's shape with sizes as names: declared sizes, and for inputs whose
    shape was given in numbers, each number other than 1 made a size of its own."""
    taken = set(program.inputs) | set(program.step_names) | set(program.sizes)
    pool = [s for s in _SIZE_POOL if s not in taken] + [f"s{k}" for k in range(1, 100) if f"s{k}" not in taken]
    by_value: dict[int, str] = {}
    symbolic: dict[str, tuple] = {}
    for name in program.inputs:
        if name in program.declared:
            declared = program.declared[name]
            symbolic[name] = tuple(d if isinstance(d, str) or d == 1 else by_value.setdefault(d, pool.pop(0))
                                   for d in declared)
        else:
            symbolic[name] = tuple(1 if d == 1 else by_value.setdefault(d, pool.pop(0)) for d in concrete[name])
    sizes = sorted({d for shape in symbolic.values() for d in shape if isinstance(d, str)})
    decl = Declarations(sizes=sizes, shapes=dict(symbolic), defined=program.definitions())
    for step in program.steps:
        try:
            symbolic[step.name] = matrix_shape(step.expression, decl)
        except Unreadable as problem:
            return symbolic, sizes, f"with sizes as symbols, step {step.name} does not conform: {problem}"
    return symbolic, sizes, ""


def _upstream_name(program: Program, wanted: str) -> str:
    taken = set(program.inputs) | set(program.step_names)
    if wanted not in taken:
        return wanted
    k = 1
    while f"{wanted}{k}" in taken:
        k += 1
    return f"{wanted}{k}"


# ---------------------------------------------------------------------------
# derive
# ---------------------------------------------------------------------------


def derive_program(program: str | Program, *, sizes: Mapping[str, int] | None = None,
                   shapes: Mapping[str, Shape] | None = None, upstream: str = "G",
                   end_to_end: bool | None = None) -> ProgramDerivation:
    """Derive, prove and check the gradients of ``program`` by its staged backward pass."""
    if isinstance(program, str):
        program = read_program(program)
    written = program = _named_output(program)
    # arguments of elementwise functions that are not names become steps U1, U2, ...:
    # the index language applies functions to named matrices
    program, introduced = named_arguments(program)
    concrete, defaulted = _concrete_shapes(program, sizes or {}, shapes or {})
    symbolic, size_names, proof_note = _symbolic_shapes(program, concrete)
    out_shape = concrete[program.output]
    upstream_name = None if out_shape == (1, 1) else _upstream_name(program, upstream)
    bp = backward_pass(program, concrete, upstream_name, None if proof_note else symbolic, size_names)
    if not bp.steps:
        raise BadInput(f"the output {program.output} depends on no input of the program: "
                       "there is nothing to differentiate")
    if introduced:  # closed forms in the names the user wrote
        bp.closed_forms = {name: expand_names(form, introduced) for name, form in bp.closed_forms.items()}
    # everything below works at the sizes given: a constant's sizes (1/sqrt(d)) get their values;
    # the backward pass above keeps them as symbols for its proofs
    values = dict(sizes or {})
    here = at_sizes(program, values)
    forms = {name: at_sizes(form, values) for name, form in bp.closed_forms.items()}
    local = _local_checks(here, bp, concrete, values)
    inlined = inline(Name(here.output), here)
    input_shapes = {name: concrete[name] for name in program.inputs}
    witness_shapes = dict(input_shapes)
    if upstream_name is not None:
        witness_shapes[upstream_name] = out_shape
    # one witness per input, each at a fixed random sample of at most PROGRAM_WITNESS_ENTRIES entries
    # (the whole program is evaluated at 50 digits for each: the costliest part at 64)
    from .pipeline import _for_numpy  # adj, which the numeric witness does not know, as a polynomial

    witnesses = {name: numeric.witness(inlined, name, _for_numpy(inline(form, here), witness_shapes),
                                       witness_shapes, upstream_name, max_entries=PROGRAM_WITNESS_ENTRIES)
                 for name, form in forms.items()}
    exact, note = _end_to_end(here, forms, inlined, input_shapes, upstream_name, out_shape, end_to_end)
    derivation = ProgramDerivation(written, dict(sizes or {}), concrete, symbolic, upstream_name, bp, local,
                                   witnesses, exact, note, proof_note, defaulted, introduced)
    if program.assumptions:
        derivation.textbook = _textbook_forms(derivation, program)
    return derivation


def _all_shapes(derivation: ProgramDerivation) -> dict[str, Shape]:
    shapes = dict(derivation.shapes)
    if derivation.upstream_name:
        shapes[derivation.upstream_name] = derivation.shapes[derivation.program.output]
    return shapes


def _textbook_forms(derivation: ProgramDerivation, program: Program) -> dict[str, TextbookForm]:
    """Every gradient (of an intermediate, as dZ, and each input's closed form) that an
    assumption shortens: tidied, each assumed expression replaced by its value, tidied
    again; checked on the set where the assumptions hold, and proven move by move."""
    from .assume import occurs, rewrite, tidy
    from .backward import expand_names, symbolic_gradients

    bp = derivation.backward
    shapes = _all_shapes(derivation)
    named = {bp.gradient_names[name]: value for name, value in bp.gradients.items()}
    candidates = {bp.gradient_names[name]: expand_names(value, named) for name, value in bp.gradients.items()
                  if name not in program.inputs}
    candidates.update(bp.closed_forms)
    symbolic_sums, symbolic_closed = symbolic_gradients(bp)
    symbolic_named = {bp.gradient_names[name]: value for name, value in symbolic_sums.items()}
    symbolic = {bp.gradient_names[name]: expand_names(value, symbolic_named)
                for name, value in symbolic_sums.items() if name not in program.inputs}
    symbolic.update(symbolic_closed)
    found = {}
    for name, derived in candidates.items():
        label = name if name not in bp.gradient_names else bp.gradient_names[name]
        tidied = tidy(derived, shapes)
        rewritten, used = tidied, []
        for assumption in program.assumptions:
            if occurs(assumption.left, rewritten):
                rewritten = rewrite(rewritten, assumption.left, assumption.right)
                used.append(assumption)
        if not used:
            continue
        form = tidy(rewritten, shapes)
        try:  # a value broadcast where the assumed expression was not: not the same matrix, not offered
            if shape_of(form, shapes) != shape_of(derived, shapes):
                continue
        except BadInput:
            continue
        verdict = equal_under_assumptions(derivation, form, derived, used)
        proofs = []
        if name in symbolic and derivation.proven_for_all_sizes:
            symbolic_shapes = dict(derivation.symbolic_shapes)
            if derivation.upstream_name:
                symbolic_shapes[derivation.upstream_name] = symbolic_shapes[program.output]
            proofs = [_claim_proof_at(symbolic_shapes, tidied, symbolic[name]),
                      _claim_proof_at(symbolic_shapes, form, rewritten)]
        found[name] = TextbookForm(label, derived, tidied, rewritten, form, used, verdict, proofs)
    return found


def equal_under_assumptions(derivation: ProgramDerivation, claim: Expr, derived: Expr, used) -> verify.Verdict:
    """``claim`` against ``derived``, exactly at the sizes given, on the whole set where
    the assumptions ``used`` hold: each assumption is solved for one entry of each of
    its equations (T[p,k] = 1 - T[p,1] - ... - T[p,k-1] for sum(T, axis=1) = 1), the
    solution substituted in both sides, and the results compared as functions of the
    entries left free.  First with the program's intermediates as independent matrices
    of symbols (equal there is equal for their true values), else every step inlined."""
    from .assume import Unsolvable, solve_for_entries

    program = derivation.backward.program
    sizes = derivation.sizes
    here = at_sizes(program, sizes)
    claim, derived = at_sizes(claim, sizes), at_sizes(derived, sizes)
    shapes = _all_shapes(derivation)
    wanted = node_shapes(derived, {n: shapes[n] for n in names_in(derived)})[derived] if names_in(derived) \
        else (1, 1)
    symbols = {name: build.matrix_of_symbols(name, *shape) for name, shape in shapes.items()}
    equations, unknowns = [], []
    for assumption in used:
        left = build.explicit(at_sizes(assumption.left, sizes), symbols)
        right = build.explicit(at_sizes(assumption.right, sizes), symbols)[0, 0]
        equations += [left[i, j] - right for i in range(left.rows) for j in range(left.cols)]
        for name in names_in(assumption.left):
            unknowns += [s for s in symbols[name] if s not in unknowns]
    what = assumption_text(used)
    try:
        solution = solve_for_entries(equations, unknowns)
    except Unsolvable as problem:
        return verify.Verdict(False, 0, f"not checked {what}: {problem}",
                              verify.Counterexample((1, 1), sympy.S.Zero, sympy.S.Zero, False))
    solved = ", ".join(f"{s} = {v}" for s, v in list(solution.items())[:2]) + (", ..." if len(solution) > 2 else "")

    def side(tree: Expr, inlined: bool):
        matrix = _broadcast_to(build.explicit(inline(tree, here) if inlined else tree, symbols), wanted)
        return matrix.xreplace(solution)

    verdict = verify.equal_matrices(side(derived, False), side(claim, False),
                                    f"{what}, solved for one entry of each equation ({solved}), "
                                    "intermediates as independent matrices of symbols")
    if verdict.holds:
        return verdict
    found = _differs_at_a_point(here, derivation, shapes, derived, claim, wanted, solution)
    if found is not None:
        i, j = found["index"]
        return verify.Verdict(False, 0, f"{what}: the claim differs from the derived gradient at entry ({i}, {j}), "
                                        "at a random rational point where the assumption holds (the entries solved "
                                        f"for as {solved}), evaluated to 50 digits",
                              verify.Counterexample((i, j), sympy.Float(found["derived"], 15),
                                                    sympy.Float(found["claimed"], 15), True),
                              reason="differs at a point")
    return verify.equal_matrices(side(derived, True), side(claim, True),
                                 f"{what}, solved for one entry of each equation ({solved}), every step inlined")


def _named_output(program: Program) -> Program:
    """A single expression's one step gets a name: L when it is what the note calls
    the loss (any name the program does not use), else Y."""
    from dataclasses import replace

    if program.steps[-1].name:
        return program
    taken = set(program.inputs)
    name = next(candidate for candidate in ("Y", "Z", "F", "Out") + tuple(f"Y{k}" for k in range(1, 999))
                if candidate not in taken)
    return replace(program, steps=program.steps[:-1] + (replace(program.steps[-1], name=name),))


def claim_proven_for_all_sizes(expression: Expr, wrt: str, claim: Expr, shapes: Mapping[str, Shape],
                               upstream: str | None) -> ProofReport | None:
    """For a single expression already checked at concrete ``shapes``: the proof
    that ``claim`` is df/d``wrt`` for all sizes, when the expression's backward
    pass is proven step by step and the claim equals its result in index notation
    (None when it is not: the claim is then checked at these sizes only)."""
    from .program import Step as ProgramStep

    program = _named_output(Program({}, (ProgramStep("", expression, 1, str(expression)),), True))
    if upstream is not None and upstream in names_in(expression):
        return None
    program, introduced = named_arguments(program)
    try:
        concrete, _ = _concrete_shapes(program, {}, {name: shapes[name] for name in program.inputs})
    except BadInput:
        return None
    symbolic, size_names, note = _symbolic_shapes(program, concrete)
    if note:
        return None
    bp = backward_pass(program, concrete, upstream, symbolic, size_names)
    if not bp.proven_for_all_sizes or wrt not in bp.closed_forms:
        return None
    derived = symbolic_closed_forms(bp).get(wrt)  # in U1, ..., as the recognised claim is; sizes as names
    if derived is None:
        return None
    if upstream is not None:
        symbolic[upstream] = symbolic[program.output]
    definitions = {step.expression: step.name for step in program.steps}
    report = _claim_proof_at(symbolic, recognize(claim, definitions), derived)
    return report if report is not None and report.proven else None


def at_sizes(node, sizes: Mapping[str, int]):
    """``node`` (an expression or a program) with every constant's size symbols given
    their values: 1/sqrt(d) becomes 1/2 at d = 4.  A constant that becomes rational is
    a number.  Concrete work (local checks, witnesses, exact comparisons) needs the
    values; the proofs for all sizes keep the symbols."""
    from dataclasses import replace

    from .expr import Constant, size_symbol

    if isinstance(node, Program):
        steps = tuple(replace(step, expression=at_sizes(step.expression, sizes)) for step in node.steps)
        assumptions = tuple(replace(a, left=at_sizes(a.left, sizes), right=at_sizes(a.right, sizes))
                            for a in node.assumptions)
        return replace(node, steps=steps, assumptions=assumptions)
    if isinstance(node, Constant):
        values = {size_symbol(name): sympy.Integer(value) for name, value in sizes.items()}
        value = node.value.xreplace(values)
        if value == node.value:
            return node
        return Number(Fraction(int(value.p), int(value.q))) if value.is_Rational else Constant(value)
    children = node.children()
    return node.rebuild(*(at_sizes(child, sizes) for child in children)) if children else node


def _local_checks(program: Program, bp: BackwardPass, concrete: dict[str, Shape],
                  sizes: Mapping[str, int] | None = None) -> list[LocalCheck]:
    """Each backward step's contribution against the chain rule of its step alone,
    on fresh matrices of symbols for the step's arguments and upstream gradient:
    one derivation a step, for all its arguments.  ``program`` is at the sizes given
    (:func:`at_sizes`); so is each contribution before it is checked."""
    from .pipeline import check_local

    definitions = program.definitions()
    by_step: dict[str, dict[str, Expr]] = {}
    for step in bp.steps:
        expression = definitions[step.step]
        claim = substitute(at_sizes(step.contribution, sizes or {}), {step.step: expression})  # H back to tanh(Z)
        leaves = names_in(expression)
        upstream = "G"
        while upstream in leaves:
            upstream += "_"
        if isinstance(step.upstream, Name):
            if concrete[step.step] == (1, 1):  # a 1 x 1 upstream: the rule is linear in it, 1 decides
                claim = substitute(claim, {step.upstream.name: Number(Fraction(1))})
            else:
                claim = substitute(claim, {step.upstream.name: Name(upstream)})
        by_step.setdefault(step.step, {})[step.argument] = claim
    found = []
    verdicts: dict[str, dict[str, verify.Verdict]] = {}
    for name, claims in by_step.items():
        expression = definitions[name]
        leaves = {leaf: concrete[leaf] for leaf in names_in(expression)}
        upstream = "G"
        while upstream in leaves:
            upstream += "_"
        verdicts[name] = check_local(expression, claims, leaves, upstream)
    for step in bp.steps:
        found.append(LocalCheck(step.step, step.argument, verdicts[step.step][step.argument]))
    return found


def _end_to_end(program: Program, forms: dict[str, Expr], inlined: Expr, input_shapes: dict[str, Shape],
                upstream_name: str | None, out_shape: Shape, wanted: bool | None):
    """The exact check of every closed form against the chain rule of the inlined
    program: where it is polynomial and small (or when asked), else not run."""
    from .pipeline import check as check_expression, estimate_work

    if len(program.steps) == 1:
        return {}, "not needed: a program of one step is checked whole by its local check"
    polynomial = _polynomial(inlined)
    if wanted is None:
        work = estimate_work(inlined, node_shapes(inlined, input_shapes)) if polynomial else None
        wanted = polynomial and work is not None and work <= END_TO_END_LIMIT * 100
        if not wanted:
            return {}, ("not run: the inlined program is not polynomial, and expanding it whole is what the "
                        "staged pass avoids; the local checks, the proofs and the numeric witness cover it"
                        if not polynomial else "not run: the inlined program is too large to expand whole")
    results = {}
    used = {name: shape for name, shape in input_shapes.items() if name in names_in(inlined)}
    for name, form in forms.items():
        result = check_expression(inlined, name, inline(form, program), shapes=used,
                                  upstream=upstream_name or "G")
        results[name] = result.verdict
    return results, ""


def _polynomial(tree: Expr) -> bool:
    """Whether every entry of ``tree`` is a polynomial in the inputs' entries."""
    from .expr import Call, Div, Power

    for node in walk(tree):
        if isinstance(node, Call) and node.function not in ("trace", "sum"):
            return False
        if isinstance(node, Power) and not (node.exponent.denominator == 1 and node.exponent >= 0):
            return False
        if isinstance(node, Div) and not isinstance(node.right, Number):
            return False
    return True


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


@dataclass
class ProgramCheck:
    derivation: ProgramDerivation
    wrt: str
    claim: Expr
    verdict: verify.Verdict
    method: str
    counterexample: dict[str, Any] | None
    proof: ProofReport | None  # claim = the derived closed form, in index notation, for all sizes
    assumptions: list = field(default_factory=list)  # the assumptions the verdict is under, if any

    @property
    def status(self) -> str:
        if self.verdict.holds:
            return VERIFIED
        return REFUTED if self.counterexample is not None else UNDECIDED

    @property
    def holds(self) -> bool:
        return self.status == VERIFIED

    @property
    def under(self) -> str:
        """"under the assumption sum(T, axis=1) = 1", or "" for a verdict that needs none."""
        return assumption_text(self.assumptions)

    @property
    def for_all_sizes(self) -> bool:
        """Proven for all sizes (under :attr:`assumptions` when there are any: then the
        textbook form's moves are proven too, and the claim equals that form)."""
        if not (self.holds and self.derivation.proven_for_all_sizes and self.proof is not None and self.proof.proven):
            return False
        if not self.assumptions:
            return True
        form = self.derivation.textbook.get(self.wrt)
        return form is not None and form.proven_for_all_sizes and set(map(str, form.used)) <= set(
            map(str, self.assumptions))

    def report(self) -> dict[str, Any]:
        return {"program": str(self.derivation.program), "wrt": self.wrt, "claim": str(self.claim),
                "status": self.status, "verified": self.holds, "method": self.method,
                "derived": str(self.derivation.closed_forms.get(self.wrt)),
                "counterexample": self.counterexample,
                "proven_for_all_sizes": self.for_all_sizes,
                "under": self.under or None,
                "scope": ((f"proven for all sizes {self.under}: the backward pass is proven step by step, its "
                           "textbook form follows by proven identities and the assumption, and the claim equals it "
                           "in index notation") if self.for_all_sizes and self.assumptions
                          else "proven for all sizes: the backward pass is proven step by step, and the claim "
                               "equals its result in index notation" if self.for_all_sizes
                          else f"checked exactly at these sizes only{', ' + self.under if self.under else ''}; "
                               "not a proof for all sizes"),
                "claim_proof": None if self.proof is None else self.proof.data()}


def check_program(program: str | Program, wrt: str, claim: str | Expr, *,
                  sizes: Mapping[str, int] | None = None, shapes: Mapping[str, Shape] | None = None,
                  upstream: str = "G", derivation: ProgramDerivation | None = None) -> ProgramCheck:
    """Whether ``claim`` (any of the program's names may appear in it) is dL/d``wrt``.
    ``derivation``: the program's derivation at these sizes, when already made (several
    claims about one program need it once)."""
    if isinstance(program, str):
        program = read_program(program)
    if derivation is not None and (derivation.sizes != dict(sizes or {}) or str(derivation.program) != str(
            _named_output(program))):
        raise ValueError("the derivation given is of another program or at other sizes")
    if wrt not in program.inputs:
        raise BadInput(f"cannot differentiate by {wrt!r}: the program's inputs are {', '.join(program.inputs)}")
    try:
        claim_tree = parse(claim, constants=program.constants()) if isinstance(claim, str) else claim
    except BadInput as error:
        raise BadInput(f"in the claim: {error}") from error
    if derivation is None:
        derivation = derive_program(program, sizes=sizes, shapes=shapes, upstream=upstream)
    names = set(program.inputs) | set(program.step_names) | (
        {derivation.upstream_name} if derivation.upstream_name else set())
    for name in names_in(claim_tree):
        if name not in names:
            raise BadInput(f"the claim uses {name!r}, which is not a name of the program; known: "
                           f"{', '.join(sorted(names))}")
    shapes_all = dict(derivation.shapes)
    if derivation.upstream_name:
        shapes_all[derivation.upstream_name] = derivation.shapes[program.output]
    try:
        claim_shape = shape_of(claim_tree, shapes_all)
    except BadInput as error:
        raise BadInput(f"in the claim: {error}") from error
    derived = derivation.closed_forms.get(wrt)
    if derived is None:
        derived = Number(Fraction(0))  # the output does not depend on it
    wanted = shapes_all[wrt]
    if claim_shape != wanted:
        verdict = verify.Verdict(False, 0, "shapes differ",
                                 reason=f"the claim is {claim_shape[0]}x{claim_shape[1]} but d{program.output}/d{wrt} "
                                        f"has the shape of {wrt}, {wanted[0]}x{wanted[1]}")
        return ProgramCheck(derivation, wrt, claim_tree, verdict, verdict.method, {"reason": verdict.reason}, None)
    definitions = {step.expression: step.name for step in program.steps}
    recognized = recognize(claim_tree, definitions)
    program = derivation.backward.program  # with U1, U2, ... where symderive named arguments
    if program.assumptions:
        found = _check_under_assumptions(derivation, wrt, claim_tree, recognized, derived, shapes_all, wanted)
        if found is not None:
            return found
    verdict, method, counterexample = _compare(at_sizes(program, derivation.sizes), derivation,
                                               at_sizes(recognized, derivation.sizes),
                                               at_sizes(derived, derivation.sizes), shapes_all, wanted)
    symbolic = symbolic_closed_forms(derivation.backward).get(wrt)
    if symbolic is not None and derivation.introduced:
        symbolic = expand_names(symbolic, derivation.introduced)
    proof = _claim_proof(derivation, recognized, symbolic) if verdict.holds and symbolic is not None else None
    return ProgramCheck(derivation, wrt, claim_tree, verdict, method, counterexample, proof)


def _check_under_assumptions(derivation: ProgramDerivation, wrt: str, claim_tree: Expr, claim: Expr,
                             derived: Expr, shapes: dict[str, Shape], wanted: Shape) -> ProgramCheck | None:
    """A claim about a program with assumptions: None when it equals the derived
    gradient without them (the usual check then says so); else its verdict on the
    set where the assumptions hold (each alone first, then all together), which is
    what it is said to be verified or refuted under."""
    sizes = derivation.sizes
    symbols = {name: build.matrix_of_symbols(name, *shape) for name, shape in shapes.items()}
    plain = verify.equal_matrices(_broadcast_to(build.explicit(at_sizes(derived, sizes), symbols), wanted),
                                  _broadcast_to(build.explicit(at_sizes(claim, sizes), symbols), wanted), "")
    if plain.holds:
        return None
    assumptions = list(derivation.program.assumptions)
    trials = [[a] for a in assumptions] + ([assumptions] if len(assumptions) > 1 else [])
    verdict, used = None, assumptions
    for trial in trials:
        verdict, used = equal_under_assumptions(derivation, claim, derived, trial), trial
        if verdict.holds:
            break
    if verdict.holds:
        proof = None
        form = derivation.textbook.get(wrt)
        if derivation.proven_for_all_sizes and form is not None and form.proven_for_all_sizes:
            symbolic = dict(derivation.symbolic_shapes)
            if derivation.upstream_name:
                symbolic[derivation.upstream_name] = symbolic[derivation.program.output]
            proof = _claim_proof_at(symbolic, claim, form.form)
        return ProgramCheck(derivation, wrt, claim_tree, verdict, verdict.method, None, proof, used)
    found = verdict.counterexample
    if found is not None and found.decided:
        counterexample = {"index": list(found.index), "derived": str(found.lhs), "claimed": str(found.rhs),
                          "under": assumption_text(used)}
        return ProgramCheck(derivation, wrt, claim_tree, verdict, verdict.method, counterexample, None, used)
    return ProgramCheck(derivation, wrt, claim_tree, verdict, verdict.method, None, None, used)


def _compare(program: Program, derivation: ProgramDerivation, claim: Expr, derived: Expr,
             shapes: dict[str, Shape], wanted: Shape):
    """Exactly at the concrete sizes: first with the program's intermediates as
    matrices of independent symbols (equal there means equal for their actual
    values); else at a random rational point, evaluated to 50 digits, for a
    counterexample; else inlined and expanded."""
    symbols = {name: build.matrix_of_symbols(name, *shape) for name, shape in shapes.items()}
    left = _broadcast_to(build.explicit(derived, symbols), wanted)
    right = _broadcast_to(build.explicit(claim, symbols), wanted)
    verdict = verify.equal_matrices(left, right, "the derived gradient against the claim, intermediates "
                                                 "as independent matrices of symbols")
    if verdict.holds:
        return verdict, verdict.method, None
    found = _differs_at_a_point(program, derivation, shapes, derived, claim, wanted)
    if found is not None:
        method = (f"the claim differs from the derived gradient at entry ({found['index'][0]}, {found['index'][1]}), "
                  f"at a random rational point evaluated to 50 digits")
        return verify.Verdict(False, 0, method, reason="differs at a point"), method, found
    verdict = verify.equal_matrices(_broadcast_to(build.explicit(inline(derived, program), symbols), wanted),
                                    _broadcast_to(build.explicit(inline(claim, program), symbols), wanted),
                                    "the derived gradient against the claim, every step inlined")
    if verdict.holds:
        return verdict, verdict.method, None
    found = verdict.counterexample
    if found is not None and found.decided:
        return verdict, verdict.method, {"index": list(found.index), "derived": str(found.lhs),
                                         "claimed": str(found.rhs)}
    return verdict, verdict.method, None  # undecided: the entry is in verdict.counterexample


def _broadcast_to(matrix, shape: Shape):
    if tuple(matrix.shape) == tuple(shape):
        return matrix
    return sympy.ImmutableMatrix(shape[0], shape[1],
                                 lambda i, j: matrix[0 if matrix.rows == 1 else i, 0 if matrix.cols == 1 else j])


def _random_point(program: Program, derivation: ProgramDerivation, shapes: dict[str, Shape],
                  signed: bool = False):
    generator = random.Random(0)
    point = {}
    for name in list(program.inputs) + ([derivation.upstream_name] if derivation.upstream_name else []):
        rows, cols = shapes[name]
        point[name] = sympy.ImmutableMatrix(rows, cols, lambda i, j: sympy.Rational(
            generator.randint(51, 149) * (generator.choice((-1, 1)) if signed else 1), 100))
    return point


def _signs_matter(program: Program) -> bool:
    """Whether a point with negative entries should be tried too: the program has a
    kink (relu is the identity where its argument is positive, so a claim that forgets
    step(Z) agrees at every positive point) and no function that needs a positive
    argument (log, sqrt, fractional powers), so every signed point is in its domain."""
    from .expr import KINKED, Call, Power

    nodes = [node for step in program.steps for node in walk(step.expression)]
    kinked = any(isinstance(node, Call) and node.function in KINKED for node in nodes)
    positive_only = any((isinstance(node, Call) and node.function in ("log", "sqrt")) or
                        (isinstance(node, Power) and node.exponent.denominator != 1) for node in nodes)
    return kinked and not positive_only


def _scalar_values(program: Program) -> dict:
    """Random rational values for the program's named scalars: a claim is about every
    value of lam, so one value where it fails refutes it."""
    from .expr import scalar_symbol

    generator = random.Random(1)
    return {scalar_symbol(name): sympy.Rational(generator.randint(51, 149), 100) for name in program.scalars}


def _differs_at_a_point(program: Program, derivation: ProgramDerivation, shapes: dict[str, Shape],
                        derived: Expr, claim: Expr, wanted: Shape, solution: dict | None = None):
    """An entry where ``claim`` and ``derived`` (every step inlined) differ at a random
    rational point, evaluated to 50 digits, or None.  ``solution``: entries solved from
    the assumptions (functions of the others), so that the point satisfies them."""
    for signed in (False, True) if _signs_matter(program) else (False,):
        found = _differs_at(program, derivation, shapes, derived, claim, wanted, solution, signed)
        if found is not None:
            return found
    return None


def _differs_at(program: Program, derivation: ProgramDerivation, shapes: dict[str, Shape], derived: Expr,
                claim: Expr, wanted: Shape, solution: dict | None, signed: bool):
    point = _random_point(program, derivation, shapes, signed)
    values = _scalar_values(program)
    if solution:
        drawn = {symbol: value for name, matrix in point.items()
                 for symbol, value in zip(build.matrix_of_symbols(name, *matrix.shape), matrix)}
        drawn.update({symbol: value.xreplace(drawn) for symbol, value in solution.items()})
        point = {name: sympy.ImmutableMatrix(*matrix.shape, [drawn[s] for s in
                                                             build.matrix_of_symbols(name, *matrix.shape)])
                 for name, matrix in point.items()}
    left_values = _broadcast_to(build.explicit(inline(derived, program), point), wanted).xreplace(values)
    right_values = _broadcast_to(build.explicit(inline(claim, program), point), wanted).xreplace(values)
    for i in range(wanted[0]):
        for j in range(wanted[1]):
            a, b = sympy.N(left_values[i, j], 50), sympy.N(right_values[i, j], 50)
            if a.is_number and b.is_number and abs(a - b) > sympy.Float("1e-30") * (1 + abs(a) + abs(b)):
                where = {name: [[str(v) for v in row] for row in sympy.Matrix(m).tolist()]
                         for name, m in point.items()}
                where.update({str(symbol): str(value) for symbol, value in values.items()})
                return {"index": [i + 1, j + 1], "derived": str(sympy.N(a, 15)), "claimed": str(sympy.N(b, 15)),
                        "point": where}
    return None


def _claim_proof(derivation: ProgramDerivation, claim: Expr, derived: Expr) -> ProofReport | None:
    """derived[i,j] = claim[i,j] in index notation, for all sizes, the program's
    names (intermediates included) as matrices of symbolic shape."""
    symbolic = dict(derivation.symbolic_shapes)
    if derivation.upstream_name:
        symbolic[derivation.upstream_name] = symbolic[derivation.program.output]
    return _claim_proof_at(symbolic, claim, derived)


def _claim_proof_at(symbolic: dict[str, tuple], claim: Expr, derived: Expr) -> ProofReport | None:
    """derived[i,j] = claim[i,j] for all sizes, the names as matrices of the given symbolic shapes."""
    from .backward import fixed_sizes, symbolic_constants

    used = set(names_in(claim)) | set(names_in(derived))
    if not used <= set(symbolic):
        return None
    decl_shapes = {name: symbolic[name] for name in used}
    sizes = sorted({d for shape in decl_shapes.values() for d in shape if isinstance(d, str)})
    context = Declarations(sizes=sizes, shapes=decl_shapes)
    try:
        derived = symbolic_constants(derived, context)
        rows, cols = matrix_shape(derived, context)
        claim = symbolic_constants(claim, context, (rows, cols))
    except Unreadable:
        return None
    if fixed_sizes(derived) or fixed_sizes(claim):
        return None  # ones(1, 4) that no neighbour names: a statement about these sizes only
    from .expr import Identity, Ones

    for node in list(walk(derived)) + list(walk(claim)):  # sizes only ones(n, k) or eye(n) mention
        dims = (node.rows, node.cols) if isinstance(node, Ones) else (node.size,) if isinstance(node, Identity) else ()
        sizes = sorted(set(sizes) | {d for d in dims if isinstance(d, str)})
    decl = Declarations(sizes=sizes, shapes=decl_shapes, ranges={"i": (1, rows), "j": (1, cols)})
    derivation_ = Derivation(decl, [IndexStep(Entry(derived, "i", "j"), "", 0, f"({derived})[i,j]"),
                                    IndexStep(Entry(claim, "i", "j"), "the claim", 0, f"({claim})[i,j]")],
                             "the claim against the derived gradient")
    try:
        return check_derivation(derivation_)
    except Unreadable:
        return None
