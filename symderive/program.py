"""Programs of named steps: the first stage of the pipeline.

A course writes a network the way it computes it, one named step at a time::

    X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k
    Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2

Statements are separated by ``;`` or new lines; ``#`` starts a comment to the
end of the line.  A statement is

* a declaration ``NAME : R x C``: an input matrix and its shape, R and C sizes
  (names such as ``n``, or whole numbers); ``3x2`` may be written without spaces;
* an assignment ``NAME = EXPR``: a step, EXPR an expression of the language
  (:mod:`symderive.parse`) over the inputs and the steps before it;
* ``scalar lam`` or ``scalar eps, lam``: named real scalars (a weight decay, a
  variance floor).  A scalar is a constant of the expressions, not a 1x1 input:
  nothing is differentiated by it.  Size names are constants too, so ``X / sqrt(d)``
  divides by the square root of the size d;
* ``assume EXPR = VALUE``: a declared fact about the inputs, entry by entry, VALUE
  a constant (``assume sum(T, axis=1) = 1``: every row of T sums to 1).  The
  gradients are derived without it (they hold everywhere); an assumption is used
  only to reach a textbook form, and every result that uses one says so.

The last assignment is the output.  A text with no statement separator, no
declaration and no assignment is a single expression: a one-step program.

Rules, each a :class:`~symderive.parse.ParseError` with line, column and caret:
a name is declared or assigned once; a step uses only names declared or assigned
before it (or inputs never declared, whose shapes are inferred as for a single
expression); an input is not assigned; sizes and matrices do not share names.
Nothing here evaluates text: declarations are read by a regular grammar and
expressions by the expression parser.

Limits: at most 20,000 characters, 200 statements, 10,000 characters a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Union

from .expr import Constant, Expr, Name, Number, names_in, scalar_symbol, size_symbol
from .parse import MAX_TEXT_LENGTH, ParseError, _name_problem, parse

__all__ = ["Program", "Step", "Assumption", "Dimension", "read_program", "looks_like_program", "MAX_PROGRAM_LENGTH",
           "MAX_STATEMENTS"]

MAX_PROGRAM_LENGTH = 20_000
MAX_STATEMENTS = 200
MAX_DIMENSION = 1_000_000

Dimension = Union[str, int]  # a size name or a whole number

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_DECLARATION = re.compile(
    rf"^(?P<name>{_NAME})\s*:\s*(?:(?P<r>{_NAME}|\d+)\s+[x×]\s+(?P<c>{_NAME}|\d+)"
    rf"|(?P<rn>\d+)\s*[x×]\s*(?P<cn>\d+))\s*$")
_ASSIGNMENT = re.compile(rf"^(?P<name>{_NAME})\s*=(?!=)")
_SCALARS = re.compile(rf"^scalar\s+(?P<names>{_NAME}(?:\s*,\s*{_NAME})*)\s*$")
_ASSUME = re.compile(r"^assume\s+")
KEYWORDS = ("scalar", "assume")  # statement words, never names of a program


@dataclass(frozen=True)
class Step:
    """``name = expression``, from line ``line`` of the program."""

    name: str
    expression: Expr
    line: int
    text: str


@dataclass(frozen=True)
class Assumption:
    """``assume left = right``: every entry of ``left`` (an expression of the
    inputs) equals ``right`` (a constant, broadcast), from line ``line``."""

    left: Expr
    right: Expr
    line: int

    def __str__(self) -> str:
        return f"{self.left} = {self.right}"


@dataclass(frozen=True)
class Program:
    """Declared inputs (name -> (rows, cols), sizes symbolic), and the steps in order;
    the named scalars and the assumptions, if any."""

    declared: dict[str, tuple[Dimension, Dimension]]
    steps: tuple[Step, ...]
    single_expression: bool = False  # written as one expression, not as named steps
    scalars: tuple[str, ...] = ()
    assumptions: tuple[Assumption, ...] = ()

    @property
    def output(self) -> str:
        return self.steps[-1].name

    @property
    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    @property
    def inputs(self) -> list[str]:
        """Every matrix that is not a step: declared ones in order, then the rest as used."""
        found = dict.fromkeys(self.declared)
        assigned = set(self.step_names)
        for step in self.steps:
            for name in names_in(step.expression):
                if name not in assigned:
                    found.setdefault(name)
        return list(found)

    @property
    def sizes(self) -> list[str]:
        """The size names of the declarations, in order of first appearance."""
        found: dict[str, None] = {}
        for rows, cols in self.declared.values():
            for dim in (rows, cols):
                if isinstance(dim, str):
                    found.setdefault(dim)
        return list(found)

    def definitions(self) -> dict[str, Expr]:
        return {step.name: step.expression for step in self.steps}

    def constants(self) -> dict:
        """The names that stand for constants in the program's expressions: its
        sizes (positive integers) and its scalars (reals), as SymPy symbols."""
        found = {name: size_symbol(name) for name in self.sizes}
        found.update({name: scalar_symbol(name) for name in self.scalars})
        return found

    def __str__(self) -> str:
        """The program in its own language: :func:`read_program` reads it back."""
        scalars = [f"scalar {', '.join(self.scalars)}"] if self.scalars else []
        declared = [f"{name} : {r} x {c}" for name, (r, c) in self.declared.items()]
        assumed = [f"assume {assumption}" for assumption in self.assumptions]
        return "; ".join(scalars + declared + assumed + [f"{step.name} = {step.expression}" for step in self.steps])


def looks_like_program(text: str) -> bool:
    """Whether ``text`` is written as statements (a separator, a declaration, an
    assignment or a comment) rather than as one expression."""
    if any(mark in text for mark in (";", "\n", "#", ":")):
        return True
    # an '=' inside parentheses is a keyword argument (sum(A, axis=0)), read, or
    # refused with its position, by the expression parser; one outside is a step
    depth = 0
    for character in text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == "=" and depth <= 0:
            return True
    return False


@dataclass
class _Statement:
    text: str
    line: int
    column: int  # of its first character, 1-based
    source_line: str


def _statements(text: str) -> list[_Statement]:
    found = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        code = line.split("#", 1)[0]
        start = 0
        for piece in code.split(";"):
            stripped = piece.strip()
            if stripped:
                column = start + (len(piece) - len(piece.lstrip())) + 1
                found.append(_Statement(stripped, number, column, line))
            start += len(piece) + 1
    return found


def _error(statement: _Statement, offset: int, message: str) -> ParseError:
    return ParseError(message, statement.line, statement.column + offset, statement.source_line)


def _dimension(statement: _Statement, text: str) -> Dimension:
    if text.isdigit():
        value = int(text)
        if not 1 <= value <= MAX_DIMENSION:
            raise _error(statement, statement.text.find(text),
                         f"a dimension is a whole number from 1 to {MAX_DIMENSION:,}, not {text}")
        return value
    return text


def read_program(text: str) -> Program:
    """The program written in ``text``; a ParseError pointing into it if it is not one."""
    if not isinstance(text, str):
        raise ParseError(f"expected the program as text (str), got {type(text).__name__}", 1, 1, "")
    if len(text) > MAX_PROGRAM_LENGTH:
        raise ParseError(f"the program is longer than {MAX_PROGRAM_LENGTH:,} characters", 1, 1,
                         text.split("\n", 1)[0])
    if not looks_like_program(text):
        if len(text) > MAX_TEXT_LENGTH:
            raise ParseError(f"the text is longer than {MAX_TEXT_LENGTH} characters", 1, 1, text[:100])
        return Program({}, (Step("", parse(text), 1, text.strip()),), single_expression=True)
    statements = _statements(text)
    if len(statements) > MAX_STATEMENTS:
        extra = statements[MAX_STATEMENTS]
        raise _error(extra, 0, f"more than {MAX_STATEMENTS} statements")
    declared: dict[str, tuple[Dimension, Dimension]] = {}
    sizes: set[str] = set()
    steps: list[Step] = []
    assigned: dict[str, int] = {}
    used_inputs: set[str] = set()
    scalars: list[str] = []
    assumptions: list[Assumption] = []

    def constants() -> dict:
        found = {size: size_symbol(size) for size in sorted(sizes)}
        found.update({name: scalar_symbol(name) for name in scalars})
        return found

    for statement in statements:
        scalar = _SCALARS.match(statement.text)
        if scalar:
            for name in (part.strip() for part in scalar["names"].split(",")):
                offset = statement.text.find(name, len("scalar"))
                problem = _name_problem(name)
                if problem:
                    raise _error(statement, offset, problem)
                if name in scalars:
                    raise _error(statement, offset, f"{name!r} is declared twice")
                if name in declared or name in assigned or name in used_inputs:
                    raise _error(statement, offset, f"{name!r} names a matrix; a scalar needs a name of its "
                                                    "own, declared before any step uses it")
                if name in sizes:
                    raise _error(statement, offset, f"{name!r} is a size; a scalar needs a name of its own")
                scalars.append(name)
            continue
        if _ASSUME.match(statement.text):
            assumptions.append(_assumption(statement, constants(), declared, assigned))
            continue
        if statement.text.split()[0] in KEYWORDS:
            word = statement.text.split()[0]
            raise _error(statement, 0, "a scalar is declared as 'scalar lam' or 'scalar eps, lam'" if word == "scalar"
                         else "an assumption is written 'assume EXPR = VALUE', e.g. assume sum(T, axis=1) = 1")
        declaration = _DECLARATION.match(statement.text)
        if declaration:
            name = declaration["name"]
            problem = _name_problem(name)
            if problem:
                raise _error(statement, 0, problem)
            if name in declared or name in assigned:
                raise _error(statement, 0, f"{name!r} is declared twice")
            if name in used_inputs:
                raise _error(statement, 0, f"{name!r} is declared after a step uses it: declare inputs first")
            rows = _dimension(statement, declaration["r"] or declaration["rn"])
            cols = _dimension(statement, declaration["c"] or declaration["cn"])
            for dim in (rows, cols):
                if isinstance(dim, str):
                    if dim in declared or dim in assigned:
                        raise _error(statement, statement.text.rfind(dim),
                                     f"{dim!r} names a matrix; a size needs a name of its own")
                    sizes.add(dim)
            if name in sizes:
                raise _error(statement, 0, f"{name!r} is a size; a matrix needs a name of its own")
            if name in scalars or any(dim in scalars for dim in (rows, cols)):
                raise _error(statement, 0, f"{name if name in scalars else rows if rows in scalars else cols!r} "
                                           "is a scalar; matrices and sizes need names of their own")
            declared[name] = (rows, cols)
            continue
        assignment = _ASSIGNMENT.match(statement.text)
        if not assignment:
            if ":" in statement.text:
                raise _error(statement, statement.text.find(":"),
                             "a declaration is NAME : ROWS x COLS, e.g. X : n x m or X : 3 x 2")
            raise _error(statement, 0, "expected a declaration (X : n x m) or a step (Z = X @ W); "
                                       "a program separates them with ';' or new lines")
        name = assignment["name"]
        problem = _name_problem(name)
        if problem:
            raise _error(statement, 0, problem)
        if name in declared:
            raise _error(statement, 0, f"{name!r} is an input (declared above); a step needs a new name")
        if name in assigned:
            raise _error(statement, 0, f"{name!r} is assigned twice (line {assigned[name]}); "
                                       "each step needs a new name")
        if name in sizes or name in scalars:
            raise _error(statement, 0, f"{name!r} is a {'size' if name in sizes else 'scalar'}; "
                                       "a step needs a name of its own")
        body_offset = assignment.end()
        body = statement.text[body_offset:]
        if not body.strip():
            raise _error(statement, body_offset, f"expected an expression after '{name} ='")
        try:
            expression = parse(body, constants=constants())
        except ParseError as error:
            raise _error(statement, body_offset + error.column - 1, error.message) from None
        for misused in _constants_as_matrices(expression, sizes, scalars):
            raise _error(statement, body_offset + body.find(misused),
                         f"{misused!r} is a {'size' if misused in sizes else 'scalar'}, not a matrix: "
                         "it may scale or divide, not multiply as a matrix")
        for used in names_in(expression):
            if used == name:
                raise _error(statement, body_offset + body.find(used),
                             f"{name!r} is used in its own definition")
            if used in sizes:
                raise _error(statement, body_offset + body.find(used),
                             f"{used!r} is a size, not a matrix")
            if used not in declared and used not in assigned:
                if any(used == later for later in _later_assignments(statements, statement)):
                    raise _error(statement, body_offset + body.find(used),
                                 f"{used!r} is used before the step that defines it")
                used_inputs.add(used)
        assigned[name] = statement.line
        steps.append(Step(name, expression, statement.line, statement.text))
    if not steps:
        last = statements[-1] if statements else _Statement("", 1, 1, "")
        raise _error(last, 0, "a program needs at least one step (NAME = EXPR); the last one is the output")
    for assumption in assumptions:
        for used in names_in(assumption.left):
            if used in assigned:
                raise ParseError(f"assume: {used!r} is a step; an assumption is about the inputs only",
                                 assumption.line, 1, text.split("\n")[assumption.line - 1])
    return Program(declared, tuple(steps), scalars=tuple(scalars), assumptions=tuple(assumptions))


def _assumption(statement: _Statement, constants: dict, declared: dict, assigned: dict) -> Assumption:
    """``assume LEFT = VALUE``: LEFT an expression of declared inputs, VALUE a constant."""
    body_offset = _ASSUME.match(statement.text).end()
    body = statement.text[body_offset:]
    masked = re.sub(r"\baxis\s*=", lambda m: "_" * len(m.group()), body)  # sum(T, axis=1) is one side
    equals = [k for k, c in enumerate(masked) if c == "="]
    parts = [body[:equals[0]], body[equals[0] + 1:]] if len(equals) == 1 else [body]
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise _error(statement, body_offset, "an assumption is written 'assume EXPR = VALUE', "
                                             "e.g. assume sum(T, axis=1) = 1")
    sides = []
    offset = body_offset
    for part in parts:
        try:
            sides.append(parse(part, constants=constants))
        except ParseError as error:
            raise _error(statement, offset + error.column - 1, error.message) from None
        offset += len(part) + 1
    left, right = sides
    if not isinstance(right, (Number, Constant)):
        raise _error(statement, body_offset + len(parts[0]) + 1,
                     "the value of an assumption is a constant (a number, pi, sqrt(2), a scalar), "
                     "as in assume sum(T, axis=1) = 1")
    if not names_in(left):
        raise _error(statement, body_offset, "an assumption is about the inputs: its left side names one")
    for used in names_in(left):
        if used in assigned:
            raise _error(statement, body_offset + parts[0].find(used),
                         f"{used!r} is a step; an assumption is about the inputs only")
        if used not in declared:
            raise _error(statement, body_offset + parts[0].find(used),
                         f"{used!r} is not a declared input; declare it (NAME : ROWS x COLS) before assuming "
                         "about it")
    return Assumption(left, right, statement.line)


def _constants_as_matrices(expression: Expr, sizes: set[str], scalars: list[str]) -> list[str]:
    """The sizes and scalars written where a matrix must stand: an operand of @ or of a
    transpose (n @ X multiplies by a 1x1 that is not there)."""
    from .expr import MatMul, Transpose, walk

    found = []
    for node in walk(expression):
        operands = (node.left, node.right) if isinstance(node, MatMul) else \
            (node.operand,) if isinstance(node, Transpose) else ()
        for operand in operands:
            if isinstance(operand, Constant):
                found += sorted(str(s) for s in operand.value.free_symbols if str(s) in sizes or str(s) in scalars)
    return found


def _later_assignments(statements: list[_Statement], current: _Statement) -> list[str]:
    after = statements[statements.index(current) + 1:]
    return [m["name"] for m in (_ASSIGNMENT.match(s.text) for s in after) if m]


def _needs_a_name(node: Expr) -> bool:
    """An elementwise function, or a power that is not a whole number, applied to
    something other than a name: the index language reads such functions of a
    named matrix's entries only."""
    from .expr import ELEMENTWISE, Call, Power

    if isinstance(node, Call) and node.function in ELEMENTWISE:
        return not isinstance(node.argument, Name)
    if isinstance(node, Power) and not (node.exponent.denominator == 1 and node.exponent >= 0):
        return not isinstance(node.base, Name)
    return False


def named_arguments(program: Program) -> tuple[Program, dict[str, Expr]]:
    """The program with each argument of an elementwise function (or of a fractional
    power) that is not a name made a step of its own, named U1, U2, ... (names the
    program does not use): tanh(X @ W + b) becomes U1 = X @ W + b; tanh(U1).
    Returns the new program and the new steps' definitions."""
    from .expr import Call, Power

    taken = set(program.inputs) | set(program.step_names) | set(program.sizes) | set(program.scalars)
    counter = iter(range(1, 10_000))
    new_steps: list[Step] = []
    introduced: dict[str, Expr] = {}
    memo: dict[Expr, str] = {}

    def fresh() -> str:
        while True:
            name = f"U{next(counter)}"
            if name not in taken:
                taken.add(name)
                return name

    def visit(node: Expr, line: int) -> Expr:
        children = node.children()
        if children:
            node = node.rebuild(*(visit(child, line) for child in children))
        if _needs_a_name(node):
            argument = node.argument if isinstance(node, Call) else node.base
            if argument not in memo:
                memo[argument] = fresh()
                introduced[memo[argument]] = argument
                new_steps.append(Step(memo[argument], argument, line, f"{memo[argument]} = {argument}"))
            named = Name(memo[argument])
            node = node.rebuild(named) if isinstance(node, Call) else Power(named, node.exponent)
        return node

    for step in program.steps:
        expression = visit(step.expression, step.line)
        new_steps.append(Step(step.name, expression, step.line, step.text))
    if not introduced:
        return program, {}
    return replace(program, steps=tuple(new_steps)), introduced
