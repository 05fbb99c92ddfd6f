"""The maths of lecture notes: a Lark grammar, and its reading as index notation.

:mod:`symderive.latex_notes` finds the displays and inline maths of a LaTeX or
Markdown file; this module reads one piece of maths.  The grammar below is the
whole of what is read: entries (``X_{ij}``, ``X_{p,r}``, ``W^\\top_{qj}``,
``(\\mathbf{W}^\\top)_{qj}``), Kronecker deltas, sums (``\\sum_{p=1}^{n}``,
``\\sum_{p \\neq i}``, ``\\sum_p``), partial derivatives (``\\frac{\\partial f}{\\partial
X_{ij}}`` and the operator ``\\frac{\\partial}{\\partial X_{ij}}``), ``cases``,
matrices in bold or plain capitals with transposes, numbers, juxtaposition,
``\\cdot`` and ``\\times``; and declarations (``\\mathbf{X} \\in \\mathbb{R}^{n
\\times m}``, ``1 \\le i \\le n``, ``f : \\mathbb{R}^{n \\times d} \\rightarrow
\\mathbb{R}``).  The only macros are the fixed table of the grammar's tokens
(FRAC, BOLD, TOP, ...); anything else is a :class:`MathProblem` at its position,
and nothing in the text is ever executed or expanded.

Reading conventions (each said to the user as a READING remark where it matters):
a sum or a derivative operator takes the rest of the product as its body
(``\\sum_r X_{pr} W_{rq}``); ``X_{12}`` is row 1, column 2; a sum without
bounds runs over its index's whole range, read off the entries it addresses;
a ``cases`` is the sum of each value times the deltas of its conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Union

import lark

from .expr import Expr as MatrixExpr
from .expr import Add as MAdd
from .expr import MatMul, Name, Transpose
from .expr import Sub as MSub
from .index import (Atom, Declarations, Delta, Derivative, Entry, IndexExpr, Neg, Num, Plus, Scalar, Sum,
                    Times)
from .prove import Unreadable, matrix_shape

__all__ = ["GRAMMAR", "MathProblem", "MatrixDerivative", "Side", "MathReader", "parse_math", "free_indices",
           "index_range", "MAX_MATH_LENGTH", "MAX_NESTING"]

MAX_MATH_LENGTH = 20_000  # characters in one display
MAX_NESTING = 40  # braces, parentheses and environments inside one another
MAX_DEPTH = 160  # levels of the parse tree (nested sums and derivatives), so the reading never recurses deeply

GRAMMAR = r"""
// The maths of lecture notes, as far as symderive reads it (see symderive/latex_math.py).
// A display is rows separated by \\; a row is a chain of sides separated by top-level "=";
// a row that starts with "=" continues the row before it (align's "&= ...").

display: row (_ROWSEP row)* _ROWSEP?
row: side (_EQ side)* _PUNCT?
   | _EQ side (_EQ side)* _PUNCT?            -> continued_row
side: expr

?expr: term
     | MINUS term                            -> negative
     | expr PLUS term                        -> plus
     | expr MINUS term                       -> minus

// juxtaposition, \cdot and \times all multiply; a sum or a derivative operator
// takes the rest of the product as its body
?term: product
product: (factor _mulop?)* last
?last: factor | bigsum | derivop
_mulop: CDOT | TIMES

bigsum: SUM _LIMITS? "_" sumsub sumsup? product
sumsub: "{" INDEX _EQ bound "}"             -> sum_from
      | "{" INDEX NEQ INDEX "}"             -> sum_except
      | "{" INDEX "}"                       -> sum_over
      | INDEX                               -> sum_over
sumsup: "^" "{" bound "}" | "^" bound
?bound: INDEX | NUMBER

derivop: FRAC "{" PARTIAL "}" "{" PARTIAL quantity "}" product

?factor: NUMBER                             -> number
       | subject
       | delta
       | pfrac
       | numfrac
       | group
       | cases

// a matrix, an entry, a transpose, an entry of a parenthesised matrix expression
subject: base (sub | sup)*
?base: matname
matname: INDEX                              -> letter
       | BOLD "{" INDEX+ "}"                -> bold
sub: "_" "{" indices "}" | "_" INDEX | "_" NUMBER
indices: (INDEX | NUMBER) (_COMMA? (INDEX | NUMBER))*
sup: "^" TOP | "^" "{" TOP "}" | "^" INDEX | "^" "{" INDEX "}"
   | "^" SANS "{" INDEX "}" | "^" "{" SANS "{" INDEX "}" "}"

delta: DELTA sub

pfrac: FRAC "{" PARTIAL quantity "}" "{" PARTIAL quantity "}"
quantity: subject | SCALARNAME
numfrac: FRAC "{" expr "}" "{" expr "}"

group: _LPAR expr _RPAR (sub | sup)*
     | "{" expr "}"

cases: BEGINCASES caserow (_ROWSEP caserow)* _ROWSEP? ENDCASES
caserow: expr _COMMA? AMP condition+
?condition: TEXT                             -> text
          | idx _EQ idx                      -> cond_eq
          | idx NEQ idx                      -> cond_neq
          | _COMMA
?idx: INDEX | NUMBER

// declarations, inline or display: X \in R^{n x m}, 1 \le i \le n, f : R^{n x d} -> R, f = f(Y)
statements: statement (_COMMA? statement)* _PUNCT?
?statement: matname_list IN REALS "^" "{" dim TIMES dim "}"   -> shape
          | dim LE INDEX LE dim                             -> index_range
          | (SCALARNAME | INDEX) ":" REALS "^" "{" dim TIMES dim "}" ARROW REALS -> signature
matname_list: subject (_COMMA subject)*
?dim: INDEX | NUMBER

// tokens
FRAC: /\\[dt]?frac(?![A-Za-z])/
PARTIAL: /\\partial(?![A-Za-z])/
SUM: /\\sum(?![A-Za-z])/
_LIMITS: /\\(no)?limits(?![A-Za-z])/
DELTA: /\\delta(?![A-Za-z])/
BOLD: /\\(mathbf|bm|boldsymbol|mathbfit|mathit|mathrm)(?![A-Za-z])/
SANS: /\\(mathsf|mathrm)(?![A-Za-z])/
TOP: /\\(top|intercal|mathsf\s*\{\s*T\s*\}|mathrm\s*\{\s*T\s*\})(?![A-Za-z])/
CDOT: /\\cdot(?![A-Za-z])/
TIMES: /\\times(?![A-Za-z])/
NEQ: /\\(neq|ne)(?![A-Za-z])/
LE: /\\(le|leq)(?![A-Za-z])/
IN: /\\in(?![A-Za-z])/
REALS: /\\mathbb\s*\{\s*R\s*\}/
ARROW: /\\(rightarrow|to)(?![A-Za-z])/
SCALARNAME: /\\ell(?![A-Za-z])|\\mathcal\s*\{\s*[A-Za-z]\s*\}/
BEGINCASES: /\\begin\s*\{\s*cases\s*\}/
ENDCASES: /\\end\s*\{\s*cases\s*\}/
TEXT: /\\(text|textrm|mathrm|textit|quad\s*\\text)\s*\{[^{}\\]*\}/
_LPAR: /\\left\s*\(|\\[bB]igg?l?\s*\(|\(|\\left\s*\[|\\[bB]igg?l?\s*\[|\[/
_RPAR: /\\right\s*\)|\\[bB]igg?r?\s*\)|\)|\\right\s*\]|\\[bB]igg?r?\s*\]|\]/
_ROWSEP: /\\\\(\s*\[[^\]]*\])?/
_EQ: "="
_COMMA: ","
_PUNCT: "." | ";"
AMP: "&"
PLUS: "+"
MINUS: "-"
INDEX: /[A-Za-z]/
NUMBER: /[0-9]+/

SPACING: /\\[,;:! ]/ | /\\q?quad(?![A-Za-z])/ | /\\displaystyle(?![A-Za-z])/ | /\\(left|right)\s*\./ | /~/
%ignore SPACING
%ignore /[ \t\r\n]+/
"""

_PARSER = lark.Lark(GRAMMAR, start=["display", "statements"], parser="lalr", propagate_positions=True,
                    maybe_placeholders=False)


class MathProblem(Exception):
    """Maths that is not read, and why; ``offset`` is where in the maths (0-based)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class MatrixDerivative:
    """``\\frac{\\partial f}{\\partial \\mathbf{X}}`` as a whole matrix: only the left side
    of a matrix-form conclusion, checked through the entries of a chain before it."""

    scalar: str
    matrix: str


Value = Union[IndexExpr, MatrixExpr, MatrixDerivative]


@dataclass(frozen=True)
class Side:
    """One side of a chain of equalities: what it reads as, and where it stands in the maths."""

    value: Value
    start: int
    end: int


def _nesting(text: str) -> tuple[int, int]:
    """The deepest nesting of brackets (and where it is reached), counted before parsing so
    that neither Lark nor the reading recurses without bound."""
    depth = deepest = where = 0
    for offset, c in enumerate(text):
        if c in "{([":
            depth += 1
            if depth > deepest:
                deepest, where = depth, offset
        elif c in "})]":
            depth = max(depth - 1, 0)
    return deepest, where


def parse_math(text: str, start: str = "display") -> lark.Tree:
    """The Lark tree of one display (``start="display"``) or of declarations
    (``start="statements"``); a :class:`MathProblem` if it is not in the grammar."""
    if len(text) > MAX_MATH_LENGTH:
        raise MathProblem(f"maths longer than {MAX_MATH_LENGTH} characters is not read", 0)
    deepest, where = _nesting(text)
    if deepest > MAX_NESTING:
        raise MathProblem(f"brackets nested more than {MAX_NESTING} deep", where)
    try:
        tree = _PARSER.parse(text, start=start)
    except RecursionError:
        raise MathProblem("maths nested too deeply to read", 0) from None
    except lark.exceptions.UnexpectedCharacters as error:
        found = text[error.pos_in_stream:error.pos_in_stream + 12].split()[0] if text[error.pos_in_stream:].strip() else ""
        raise MathProblem(f"{found!r} is not part of the notation symderive reads", error.pos_in_stream) from None
    except lark.exceptions.UnexpectedToken as error:
        token = error.token
        offset = token.start_pos if token.start_pos is not None else len(text)
        shown = "the end of the maths" if token.type == "$END" else repr(str(token))
        raise MathProblem(f"unexpected {shown}", offset) from None
    except lark.exceptions.LarkError as error:  # anything else the parser refuses
        raise MathProblem(f"not read: {error.__class__.__name__}", 0) from None
    _check_depth(tree)
    return tree


def _check_depth(tree: lark.Tree) -> None:
    """Refuse a parse tree deeper than MAX_DEPTH (``\\sum_p \\sum_p ...`` a thousand times),
    measured without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MathProblem(f"maths nested more than {MAX_DEPTH} levels deep (sums or derivatives inside "
                              f"one another)", _start(node))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))


# ---------------------------------------------------------------------------
# Index-notation helpers
# ---------------------------------------------------------------------------


def _entries(expr: IndexExpr):
    """Every entry in an index expression, those differentiated by included."""
    if isinstance(expr, Entry):
        yield expr
    elif isinstance(expr, Derivative):
        yield from _entries(expr.of)
        yield expr.wrt
    elif isinstance(expr, Sum):
        yield from _entries(expr.body)
    elif isinstance(expr, Neg):
        yield from _entries(expr.operand)
    elif isinstance(expr, (Plus, Times)):
        for part in expr.terms if isinstance(expr, Plus) else expr.factors:
            yield from _entries(part)


def index_range(var: str, expr: IndexExpr, decl: Declarations) -> tuple[tuple[Atom, Atom], Entry] | None:
    """The range 1..size of an index, read off the first entry in ``expr`` that it
    addresses (i in X_{ij} with X n x m ranges over 1..n), and that entry; None if none does."""
    for entry in _entries(expr):
        for position, atom in enumerate((entry.row, entry.col)):
            if atom == var:
                try:
                    shape = matrix_shape(entry.matrix, decl)
                except Unreadable:
                    continue
                return (1, shape[position]), entry
    return None


def free_indices(expr: IndexExpr, sizes: list[str]) -> list[str]:
    """The index names free in ``expr``, in order of appearance (sizes are not indices)."""
    found: list[str] = []

    def note(atom: Atom, bound: frozenset) -> None:
        if isinstance(atom, str) and atom not in bound and atom not in sizes and atom not in found:
            found.append(atom)

    def visit(e: IndexExpr, bound: frozenset) -> None:
        if isinstance(e, Entry):
            note(e.row, bound), note(e.col, bound)
        elif isinstance(e, Delta):
            note(e.a, bound), note(e.b, bound)
        elif isinstance(e, Derivative):
            visit(e.of, bound), visit(e.wrt, bound)
        elif isinstance(e, Sum):
            note(e.lower, bound), note(e.upper, bound)
            visit(e.body, bound | {e.var})
        elif isinstance(e, Neg):
            visit(e.operand, bound)
        elif isinstance(e, (Plus, Times)):
            for part in e.terms if isinstance(e, Plus) else e.factors:
                visit(part, bound)

    visit(expr, frozenset())
    return found


def is_zero(expr: IndexExpr) -> bool:
    """Whether an expression is 0 as written: a 0, a product with a factor 0, a sum of such."""
    if isinstance(expr, Num):
        return expr.value == 0
    if isinstance(expr, Times):
        return any(is_zero(f) for f in expr.factors)
    if isinstance(expr, (Sum, Neg)):
        return is_zero(expr.body if isinstance(expr, Sum) else expr.operand)
    if isinstance(expr, Plus):
        return all(is_zero(t) for t in expr.terms)
    return False


def _times(*factors: IndexExpr) -> IndexExpr:
    flat: list[IndexExpr] = []
    for f in factors:
        flat.extend(f.factors if isinstance(f, Times) else (f,))
    return flat[0] if len(flat) == 1 else Times(tuple(flat))


def _plus(*terms: IndexExpr) -> IndexExpr:
    flat: list[IndexExpr] = []
    for t in terms:
        flat.extend(t.terms if isinstance(t, Plus) else (t,))
    return flat[0] if len(flat) == 1 else Plus(tuple(flat))


def _one_minus(e: IndexExpr) -> IndexExpr:
    return Plus((Num(Fraction(1)), Neg(e)))


def _start(tree) -> int:
    meta = getattr(tree, "meta", None)
    if meta is not None and not meta.empty:
        return meta.start_pos
    return getattr(tree, "start_pos", 0) or 0


def _end(tree) -> int:
    meta = getattr(tree, "meta", None)
    if meta is not None and not meta.empty:
        return meta.end_pos
    return getattr(tree, "end_pos", 0) or 0


# ---------------------------------------------------------------------------
# The reading
# ---------------------------------------------------------------------------

Remarker = Callable[[int, str, str], None]  # (offset in the maths, kind, text)


class MathReader:
    """Reads Lark trees of maths into index notation, with the declarations known so far.

    ``scalar`` is the name of the scalar function (f) whose derivatives appear;
    ``remark(offset, kind, text)`` receives the readings taken and the slips seen."""

    def __init__(self, decl: Declarations, scalar: str | None, remark: Remarker, text: str = "") -> None:
        self.decl = decl
        self.scalar = scalar
        self.remark = remark
        self.text = text

    # --- chains and statements ---------------------------------------------

    def chains(self, tree: lark.Tree) -> list[tuple[bool, list[Side]]]:
        """The rows of a display: (continues the row before, sides)."""
        rows = []
        for row in tree.children:
            sides = [Side(self.value(side.children[0]), _start(side), _end(side)) for side in row.children]
            rows.append((row.data == "continued_row", sides))
        return rows

    def statements(self, tree: lark.Tree) -> list[tuple]:
        """Declarations: ("shape", name, rows, cols), ("range", index, lower, upper),
        ("signature", scalar, rows, cols), each with its offset last."""
        found = []
        for statement in tree.children:
            kind, parts = statement.data, statement.children
            if kind == "shape":
                names, dims = parts[0], [p for p in parts if isinstance(p, lark.Token) and p.type in
                                         ("INDEX", "NUMBER")]
                for subject in names.children:
                    matrix = self.value(subject)
                    if not isinstance(matrix, Name):
                        raise MathProblem("only a named matrix can be declared to be in R^{rows x cols}",
                                          _start(subject))
                    found.append(("shape", matrix.name, self.atom(dims[0]), self.atom(dims[1]), _start(subject)))
            elif kind == "index_range":
                low, var, high = parts[0], parts[2], parts[4]
                found.append(("range", str(var), self.atom(low), self.atom(high), _start(statement)))
            elif kind == "signature":
                dims = [p for p in parts[1:] if isinstance(p, lark.Token) and p.type in ("INDEX", "NUMBER")]
                found.append(("signature", _scalar_name(parts[0]), self.atom(dims[0]), self.atom(dims[1]),
                              _start(statement)))
        return found

    # --- values --------------------------------------------------------------

    def value(self, tree) -> Value:
        method = getattr(self, "read_" + tree.data, None)
        if method is None:  # pragma: no cover - every rule has a reader
            raise MathProblem(f"{tree.data} is not read", _start(tree))
        return method(tree)

    def index_value(self, tree, what: str) -> IndexExpr:
        value = self.value(tree)
        if not isinstance(value, IndexExpr):
            raise MathProblem(f"{what} must be made of entries, not the matrix {_show(value)}", _start(tree))
        return value

    def atom(self, token) -> Atom:
        return int(token) if token.type == "NUMBER" else str(token)

    def read_negative(self, tree) -> Value:
        operand = self.value(tree.children[1])
        if isinstance(operand, IndexExpr):
            return Neg(operand)
        raise MathProblem("a negated matrix is not read; write its entries", _start(tree))

    def read_plus(self, tree) -> Value:
        return self._binary(tree, negate=False)

    def read_minus(self, tree) -> Value:
        return self._binary(tree, negate=True)

    def _binary(self, tree, negate: bool) -> Value:
        left, right = self.value(tree.children[0]), self.value(tree.children[2])
        if isinstance(left, IndexExpr) and isinstance(right, IndexExpr):
            return _plus(left, Neg(right) if negate else right)
        if isinstance(left, (Name, MatMul, Transpose, MAdd, MSub)) and isinstance(right, (Name, MatMul, Transpose,
                                                                                            MAdd, MSub)):
            return MSub(left, right) if negate else MAdd(left, right)
        raise MathProblem("a sum of a matrix and entries", _start(tree))

    def read_product(self, tree) -> Value:
        factors = [self.value(child) for child in tree.children
                   if not (isinstance(child, lark.Token) and child.type in ("CDOT", "TIMES"))]
        if all(isinstance(f, IndexExpr) for f in factors):
            return _times(*factors)
        if all(isinstance(f, MatrixExpr) for f in factors):
            result = factors[0]
            for f in factors[1:]:
                result = MatMul(result, f)
            return result
        if len(factors) == 1:
            return factors[0]
        raise MathProblem("a product of whole matrices and entries is not read; write it entry by entry",
                          _start(tree))

    def read_number(self, tree) -> IndexExpr:
        return Num(Fraction(int(tree.children[0])))

    def read_group(self, tree) -> Value:
        inner = self.value(tree.children[0])
        return self._postfix(inner, tree.children[1:], tree)

    def read_subject(self, tree) -> Value:
        base = tree.children[0]
        if base.data == "letter":
            letter = str(base.children[0])
            if letter.islower() and len(tree.children) == 1:
                raise MathProblem(f"{letter} is not a declared matrix or entry (a scalar is not read here)",
                                  _start(tree))
            matrix: MatrixExpr = Name(letter)
        else:  # \mathbf{XW}: one name per letter, multiplied
            letters = [str(t) for t in base.children[1:]]
            matrix = Name(letters[0])
            for letter in letters[1:]:
                matrix = MatMul(matrix, Name(letter))
        return self._postfix(matrix, tree.children[1:], tree)

    def _postfix(self, value: Value, postfixes, tree) -> Value:
        """Transposes and one subscript: the subscript takes the entry, a transpose
        written before or after it transposes the matrix (``W_{qj}^\\top`` is (W^T)_{qj})."""
        subscript = None
        transposes = 0
        for post in postfixes:
            if post.data == "sup":
                self._check_transpose(post)
                transposes += 1
            elif subscript is not None:
                raise MathProblem("two subscripts on one matrix", _start(post))
            else:
                subscript = post
        if transposes:
            if not isinstance(value, MatrixExpr):
                raise MathProblem("a transpose of something that is not a matrix", _start(tree))
            for _ in range(transposes):
                value = Transpose(value)
        if subscript is None:
            return value
        if not isinstance(value, MatrixExpr):
            raise MathProblem("a subscript on something that is not a matrix", _start(subscript))
        row, col = self.subscript(subscript)
        return Entry(value, row, col)

    def _check_transpose(self, sup) -> None:
        letters = [t for t in sup.children if isinstance(t, lark.Token) and t.type == "INDEX"]
        if letters and str(letters[0]) != "T":
            raise MathProblem(f"^{letters[0]}: the only superscript read is the transpose (^\\top, ^T)",
                              _start(sup))

    def subscript(self, sub) -> tuple[Atom, Atom]:
        """The (row, column) of ``_{ij}``, ``_{i,j}``, ``_{12}`` (row 1, column 2: said as a reading)."""
        tokens = sub.children[0].children if isinstance(sub.children[0], lark.Tree) else sub.children
        atoms: list[Atom] = []
        for token in tokens:
            if token.type == "NUMBER" and len(tokens) == 1 and len(str(token)) == 2:
                atoms.extend([int(str(token)[0]), int(str(token)[1])])
                self.remark(token.start_pos, "reading",
                            f"_{{{token}}} read as row {str(token)[0]}, column {str(token)[1]} "
                            f"(not as index {token}); write _{{{token[0]},{token[1]}}} to say so")
            else:
                atoms.append(self.atom(token))
        if len(atoms) != 2:
            raise MathProblem(f"an entry needs two indices, row and column; found {len(atoms)}",
                              _start(sub) if isinstance(sub, lark.Tree) else 0)
        if any(isinstance(a, int) and a < 1 for a in atoms):
            raise MathProblem("indices count from 1", _start(sub))
        return atoms[0], atoms[1]

    def read_delta(self, tree) -> IndexExpr:
        a, b = self.subscript(tree.children[1])
        return Delta(a, b)

    # --- derivatives ---------------------------------------------------------------

    def quantity(self, tree) -> Value | Scalar:
        child = tree.children[0]
        if isinstance(child, lark.Token):
            return self._scalar(_scalar_name(child), tree)
        if child.data == "subject" and len(child.children) == 1 and child.children[0].data == "letter" \
                and str(child.children[0].children[0]).islower():
            return self._scalar(str(child.children[0].children[0]), tree)
        return self.value(child)

    def _scalar(self, name: str, tree) -> Scalar:
        if self.scalar is None:
            raise MathProblem(f"{name} is not declared as a function of a matrix (say \"{name} = {name}(\\mathbf{{Y}})\" "
                              f"or \"{name} is a function of $\\mathbf{{Y}}$\")", _start(tree))
        if name != self.scalar:
            raise MathProblem(f"{name} is not the function {self.scalar} the notes declare", _start(tree))
        return Scalar(name)

    def read_pfrac(self, tree) -> Value:
        quantities = [c for c in tree.children if isinstance(c, lark.Tree)]
        of, wrt = self.quantity(quantities[0]), self.quantity(quantities[1])
        if isinstance(wrt, Entry) and isinstance(wrt.matrix, Name):
            if isinstance(of, (Scalar, Entry)):
                return Derivative(of, wrt)
            raise MathProblem("only the derivative of f or of an entry by an entry is read", _start(tree))
        if isinstance(wrt, Name) and isinstance(of, Scalar):
            upstream = self.decl.upstream
            if upstream and wrt.name == upstream[1]:
                return Name(upstream[0])
            return MatrixDerivative(of.name, wrt.name)
        if isinstance(wrt, MatrixExpr) and isinstance(of, MatrixExpr):
            raise MathProblem("the derivative of a matrix by a matrix (a 4th-rank tensor) is not read as a step",
                              _start(tree))
        raise MathProblem("a derivative by something other than an entry of a named matrix", _start(tree))

    def read_derivop(self, tree) -> IndexExpr:
        quantity = next(c for c in tree.children if isinstance(c, lark.Tree) and c.data == "quantity")
        wrt = self.quantity(quantity)
        if not (isinstance(wrt, Entry) and isinstance(wrt.matrix, Name)):
            raise MathProblem("\\frac{\\partial}{\\partial ...} is read only by an entry of a named matrix",
                              _start(tree))
        return Derivative(self.index_value(tree.children[-1], "what is differentiated"), wrt)

    def read_numfrac(self, tree) -> IndexExpr:
        top = self.index_value(tree.children[1], "a numerator")
        bottom = self.index_value(tree.children[2], "a denominator")
        if not isinstance(bottom, Num) or bottom.value == 0:
            raise MathProblem("only a fraction with a nonzero number below is read", _start(tree))
        if isinstance(top, Num):
            return Num(top.value / bottom.value)
        return _times(Num(1 / bottom.value), top)

    # --- sums ------------------------------------------------------------------------

    def read_bigsum(self, tree) -> IndexExpr:
        children = [c for c in tree.children if isinstance(c, lark.Tree)]
        sub, body_tree = children[0], children[-1]
        upper_tree = children[1] if len(children) == 3 else None
        var = str(sub.children[0])
        body = self.index_value(body_tree, "the body of a sum")
        upper = self.atom(upper_tree.children[0]) if upper_tree is not None else None
        full = index_range(var, body, self.decl)
        if sub.data == "sum_from":
            lower = self.atom(sub.children[1])
        elif sub.data == "sum_except":
            lower = 1
            body = _times(_one_minus(Delta(var, self.atom(sub.children[2]))), body)
        else:
            lower = 1
        if upper is None:
            if full is None:
                raise MathProblem(f"the range of the sum over {var} is not given, and {var} addresses no entry "
                                  f"whose size is known", _start(tree))
            upper = full[0][1]
            if sub.data == "sum_over":
                self.remark(_start(tree), "reading", f"the sum over {var} is read as {var} = 1..{upper}, "
                            f"the range of {var} in {_show_entry(full[1])}")
        if isinstance(lower, str) and is_zero(body):
            whole = f"{var} = 1..{full[0][1]}" if full else f"every {var}"
            self.remark(_start(tree), "slip",
                        f"the sum over {var} = {lower}..{upper} is harmless (every term is 0, so it is 0 "
                        f"whatever its range) but not the range the chain rule gives: that is {whole}")
        return Sum(var, lower, upper, body)

    # --- cases ------------------------------------------------------------------------------

    def read_cases(self, tree) -> IndexExpr:
        """Each value times the deltas of its conditions; "otherwise" may carry 0, or
        the complement of a single other case."""
        rows = [c for c in tree.children if isinstance(c, lark.Tree)]
        terms, otherwise = [], None
        conditions_seen = []
        for row in rows:
            value = self.index_value(row.children[0], "the value of a case")
            factors, is_otherwise = [], False
            for condition in row.children[1:]:
                if isinstance(condition, lark.Token):
                    continue  # the &
                if condition.data == "text":
                    words = _words(str(condition.children[0]))
                    if words & {"otherwise", "else"}:
                        is_otherwise = True
                    elif not words <= {"if", "and", "for", "when", "where"}:
                        raise MathProblem(f"the condition {str(condition.children[0])!r} is not read",
                                          _start(condition))
                elif condition.data == "cond_eq":
                    factors.append(Delta(self.atom(condition.children[0]), self.atom(condition.children[1])))
                elif condition.data == "cond_neq":
                    factors.append(_one_minus(Delta(self.atom(condition.children[0]),
                                                    self.atom(condition.children[2]))))
            if is_otherwise:
                if factors or otherwise is not None:
                    raise MathProblem("an \"otherwise\" with conditions of its own is not read", _start(row))
                otherwise = value
            elif not factors:
                raise MathProblem("a case without a condition", _start(row))
            else:
                # a row applies where its conditions hold and no row above it applies:
                # rows that overlap are not added (a redundant but true cases stays true)
                terms.append(_times(value, *factors, *[_one_minus(c) for c in conditions_seen]))
                conditions_seen.append(_times(*factors))
        if len(conditions_seen) > 1:
            self.remark(_start(tree), "reading", "the rows of the cases are read in order: each applies where "
                        "its conditions hold and no row above it applies")
        if otherwise is not None and not is_zero(otherwise):
            terms.append(_times(otherwise, *[_one_minus(c) for c in conditions_seen]))
        if not terms:
            return Num(Fraction(0))
        return _plus(*terms)


def _scalar_name(token) -> str:
    text = str(token)
    if text.startswith("\\mathcal"):
        return "".join(c for c in text[len("\\mathcal"):] if c.isalpha())
    return text.lstrip("\\")


def _words(text: str) -> set[str]:
    inside = text[text.index("{") + 1:-1]
    return {w.strip(".,;:").lower() for w in inside.split() if w.strip(".,;:")}


def _show(value) -> str:
    return str(value)


def _show_entry(entry: Entry) -> str:
    matrix = entry.matrix
    name = str(matrix) if isinstance(matrix, Name) else f"({matrix})"
    return f"{name}_{{{entry.row}{entry.col}}}"
