"""Read a derivation written in index notation from text, and print its expressions back.

A derivation file declares sizes, matrices and indices, then writes a chain of
equalities, one step a line::

    # Section 3 of "Chain Rule on Matrix Multiplication", transcribed
    title Section 3: df/dX
    sizes n m d
    matrix X : n x m
    matrix W : m x d
    matrix Y = X @ W
    upstream G of Y
    index i : 1..n
    index j : 1..m

    d(f)/d(X[i,j])
      = sum(p=1..n, sum(q=1..d, d(f)/d(Y[p,q]) * d(Y[p,q])/d(X[i,j])))   # by multivariable chain rule
      = sum(q=1..d, G[i,q] * W.T[q,j])
      = (G @ W.T)[i,j]    # by recognition of a product

:func:`read_derivation` turns such text into the tree of :mod:`symderive.index`
(a :class:`~symderive.index.Derivation`); :func:`format_index_expr` prints an
index expression back in this syntax, so that reading what it prints gives the
same tree.

The format, line by line.  ``#`` starts a comment to the end of the line (also
on a ``title`` line); blank lines and comment lines are ignored.  Declarations
come first, each on its own line:

* ``title TEXT``: the rest of the line, once.
* ``sizes NAME NAME ...``: the symbolic sizes, once.
* ``matrix NAME : R x C``: a base matrix; R and C are sizes or whole numbers.
* ``matrix NAME = MEXPR``: a matrix defined by ``@ + - .T`` and parentheses
  over matrices declared before it (conformity is the prover's business).
* ``upstream G of Y``: G stands for df/dY; G gets Y's shape when Y is a base matrix.
* ``index NAME : LO..HI``: a free index; LO and HI are sizes or whole numbers.

Then the chain: the first other line is step 0, and every following line starts
with ``=``.  A step's comment ``# by RULE TEXT`` gives its rule.  The grammar of
index expressions::

    expr   := term (('+' | '-') term)*                    Plus (a - b is Plus((a, Neg(b))))
    term   := unary ('*' unary)*                          Times, flat
    unary  := '-' unary | atom                            Neg
    atom   := NUMBER                                      Num (12, 0.5: exact)
            | 'delta' '(' idx ',' idx ')'                 Delta
            | 'sum' '(' NAME '=' bound '..' bound ',' expr ')'   Sum
            | 'd' '(' (expr | 'f') ')' '/' 'd' '(' NAME '[' idx ',' idx ']' ')'   Derivative
            | entry | '(' expr ')'
    entry  := mref '[' idx ',' idx ']'                    Entry
    mref   := NAME ('.T')* | '(' mexpr ')' ('.T')*
    mexpr  := mterm (('+' | '-') mterm)*,  mterm := mpost ('@' mpost)*,
    mpost  := (NAME | '(' mexpr ')') ('.T')*              Add, Sub, MatMul, Transpose, Name
    idx    := NAME | INTEGER,  bound := NAME | INTEGER

An ``(`` where an expression starts begins a matrix expression when its ``)``
is followed by ``[`` or ``.T``, and a parenthesised expression otherwise.

Rules a file must also keep, each a :class:`~symderive.parse.ParseError` at the
offending line and column:

* Names are ASCII identifiers of at most 32 characters, not starting with
  ``_``.  A matrix cannot be named ``f``, ``d``, ``delta`` or ``sum`` (reserved
  in expressions), a declaration keyword, a Python keyword or a function of the
  expression language; sizes and indices can (``sizes n m d`` is fine).  Sizes,
  matrices and indices share one namespace: a name is declared once.
* Every matrix, size and index used must be declared before it is used; an
  index in an expression is a declared ``index`` or the variable of an
  enclosing ``sum``.  A summation variable is a new name: not a size, matrix or
  declared index, and not the variable of an enclosing sum.
* ``d(...)/d(X[i,j])`` differentiates by an entry of a matrix declared with
  ``matrix`` (a base or a defined one), written by its name, not transposed.
* ``f`` (the scalar) appears only as ``d(f)/d(...)``.
* Whole numbers (sizes, indices, bounds) are between 1 and 1000000.

Limits, so that no text can make the reader slow or crash: at most 200 lines
of at most 2000 characters; at most 100 parentheses, sums and derivatives
inside one another, and trees at most 200 levels deep; numbers of at most 100
characters.  Control characters (other than tab) are refused everywhere.

The text never reaches ``eval``, ``exec`` or any Python or SymPy parser: a
tokenizer cuts each line into tokens and a recursive-descent parser builds only
the nodes of :mod:`symderive.index` and :mod:`symderive.expr`.
"""

from __future__ import annotations

import keyword
import os
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from .errors import BadInput
from .expr import ALONG_AXIS, FUNCTIONS, Add, Along, Call, MatMul, Name, Sub, Transpose
from .expr import Expr as MatrixExpr
from .index import (Atom, Declarations, Delta, Derivation, Derivative, Entry, IndexExpr, Neg, Num,
                    Plus, Scalar, Step, Sum, Times)
from .parse import ParseError

__all__ = ["read_derivation", "read_derivation_file", "format_index_expr"]

MAX_LINES = 200
MAX_LINE_LENGTH = 2000  # characters, without the line break
MAX_NESTING = 100  # parentheses, sums and derivatives inside one another
MAX_TREE_DEPTH = 200  # levels of an index expression's or a matrix expression's tree
MAX_NAME_LENGTH = 32
MAX_INTEGER = 1_000_000  # largest size, index or bound written as a number
MAX_NUMBER_LENGTH = 100  # characters of a number in an expression
# Every character takes at most 4 bytes of UTF-8, and a line break at most 2.
MAX_FILE_BYTES = MAX_LINES * (4 * MAX_LINE_LENGTH + 2)

KEYWORDS = ("title", "sizes", "matrix", "upstream", "index")
RESERVED = ("f", "d", "delta", "sum")

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_SYMBOLS = "+-*/@()[],=:."
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_FIRST_WORD = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)")
_REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, format, surrogate, separators
_CHARACTER_HINTS = {
    "^": "there are no powers: write a product",
    "{": "use parentheses",
    "}": "use parentheses",
    ";": "write one step a line",
    "'": "there are no strings",
    '"': "there are no strings",
    "|": "there are no norms or absolute values",
}


# --------------------------------------------------------------------------- lines and tokens


@dataclass(frozen=True)
class _Line:
    """One line of the text: its number (from 1), the line as written, and the part before '#'."""

    number: int
    text: str
    code: str
    comment: str | None  # after '#', or None when the line has no comment

    def error(self, column: int, message: str) -> ParseError:
        """A ParseError at ``column`` (0-based) of this line."""
        return ParseError(message, self.number, column + 1, self.text)


@dataclass(frozen=True)
class _Token:
    """kind is 'name', 'number', 'symbol' or 'end'; column counts from 0."""

    kind: str
    text: str
    column: int

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind == "symbol" and self.text in symbols

    def is_name(self, *names: str) -> bool:
        return self.kind == "name" and (not names or self.text in names)

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the line"
        text = self.text if len(self.text) <= 40 else self.text[:40] + "..."
        return repr(text)


def _character(c: str) -> str:
    """A character as a message shows it: 'x', or its code point."""
    code = f"U+{ord(c):04X}"
    if " " <= c <= "~":
        return repr(c)
    return f"'{c}' ({code})" if c.isprintable() else code


def _split_lines(text: str) -> list[_Line]:
    """The lines of the text, refusing too many, too long, or with control characters.

    Each search for a line break looks at most MAX_LINE_LENGTH + 2 characters
    ahead, so that a huge text costs no more than its first lines.
    """
    lines: list[_Line] = []
    start = 0
    while start < len(text):
        number = len(lines) + 1
        window_end = min(len(text), start + MAX_LINE_LENGTH + 2)
        end = text.find("\n", start, window_end)
        if end == -1 and window_end == len(text):
            end = len(text)
        raw = text[start:window_end if end == -1 else end]
        if raw.endswith("\r"):
            raw = raw[:-1]
        if number > MAX_LINES:
            raise ParseError(f"the text has more than {MAX_LINES} lines", number, 1, raw)
        if end == -1 or len(raw) > MAX_LINE_LENGTH:
            raise ParseError(f"the line is longer than {MAX_LINE_LENGTH} characters",
                             number, MAX_LINE_LENGTH + 1, raw)
        _refuse_control_characters(number, raw)
        code, hash_sign, comment = raw.partition("#")
        lines.append(_Line(number, raw, code, comment if hash_sign else None))
        start = end + 1
    return lines


def _refuse_control_characters(number: int, raw: str) -> None:
    if raw.isprintable():
        return
    for column, c in enumerate(raw):
        if c != "\t" and not c.isprintable() and unicodedata.category(c) in _REFUSED_CATEGORIES:
            raise ParseError(f"unexpected character {_character(c)}: control characters are not "
                             "allowed", number, column + 1, raw)


def _tokenize(line: _Line) -> list[_Token]:
    """The tokens of the line's code (before any '#'); the last token has kind 'end'."""
    code = line.code
    tokens: list[_Token] = []
    i = 0
    while True:
        while i < len(code) and code[i] in " \t":
            i += 1
        if i == len(code):
            break
        c = code[i]
        if c in _DIGITS:
            token = _number_token(line, i)
        elif c in _LETTERS or c == "_":
            token = _Token("name", _WORD.match(code, i).group(), i)
        elif code.startswith("..", i):
            token = _Token("symbol", "..", i)
        elif c in _SYMBOLS:
            token = _Token("symbol", c, i)
        else:
            message = f"unexpected character {_character(c)}"
            if c in _CHARACTER_HINTS:
                message += f": {_CHARACTER_HINTS[c]}"
            elif not c.isascii():
                message += ": only ASCII is allowed outside comments and the title"
            raise line.error(i, message)
        tokens.append(token)
        i += len(token.text)
    end = tokens[-1].column + len(tokens[-1].text) if tokens else len(code.rstrip())
    tokens.append(_Token("end", "", end))
    return tokens


def _number_token(line: _Line, i: int) -> _Token:
    """number := digits ('.' digits)?  ('1..n' is 1, '..', n: a '.' needs a digit after it)."""
    text = _NUMBER.match(line.code, i).group()
    glued = _WORD.match(line.code, i + len(text))
    if glued:
        written = (text + glued.group())[:40]
        raise line.error(i, f"malformed number {written!r}: is a space missing?")
    if len(text) > MAX_NUMBER_LENGTH:
        raise line.error(i, f"a number may have at most {MAX_NUMBER_LENGTH} characters")
    whole = text.partition(".")[0]
    if len(whole) > 1 and whole[0] == "0":
        raise line.error(i, f"leading zeros are not allowed: {text[:40]!r}")
    return _Token("number", text, i)


# --------------------------------------------------------------------------- names


def _name_problem(name: str, matrix: bool) -> str | None:
    """Why ``name`` cannot be declared, or None if it can.

    Any name is an ASCII identifier (the tokenizer sees to that) of at most
    MAX_NAME_LENGTH characters not starting with '_'.  A matrix's name also
    cannot be a reserved word of expressions (f, d, delta, sum), a declaration
    keyword (a line starting with one is a declaration), a Python keyword or a
    function of the expression language (so that printed matrix expressions
    parse again).  Sizes and indices never stand where those words do, so the
    example's size ``d`` is fine.
    """
    if name.startswith("_"):
        return f"names may not start with '_': {name[:40]!r}"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters"
    if not matrix:
        return None
    if name in RESERVED:
        return (f"{name!r} is reserved in expressions (f is the scalar; d(...)/d(...), delta(...) "
                "and sum(...) are notation) and cannot name a matrix")
    if name in KEYWORDS:
        return f"{name!r} is a declaration keyword and cannot name a matrix"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword and cannot name a matrix"
    if name in FUNCTIONS or name in ("eye", "ones"):
        return f"{name!r} is a function of the expression language and cannot name a matrix"
    return None


# --------------------------------------------------------------------------- the parser of one line


class _Parser:
    """Recursive descent over the tokens of one line; one method per grammar rule.

    Expression methods return (node, height of its tree).
    """

    def __init__(self, reader: "_Reader", line: _Line, tokens: list[_Token]) -> None:
        self.reader = reader
        self.line = line
        self.tokens = tokens
        self.position = 0
        self.nesting = 0
        self.bound: list[str] = []  # variables of the enclosing sums, innermost last
        self.closing = self._match_parentheses()

    # --- tokens and errors

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def error(self, token: _Token, message: str) -> ParseError:
        return self.line.error(token.column, message)

    def expect_symbol(self, symbol: str, message: str) -> _Token:
        token = self.peek()
        if not token.is_symbol(symbol):
            raise self.error(token, f"{message}, found {token.describe()}")
        return self.advance()

    def expect_name(self, message: str, *names: str) -> _Token:
        token = self.peek()
        if not token.is_name(*names):
            raise self.error(token, f"{message}, found {token.describe()}")
        return self.advance()

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, _unexpected(token))

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(token, f"nested too deeply: more than {MAX_NESTING} parentheses, "
                             "sums and derivatives inside one another")

    def leave(self) -> None:
        self.nesting -= 1

    def check_height(self, height: int, token: _Token) -> int:
        if height > MAX_TREE_DEPTH:
            raise self.error(token, f"nested too deeply: the expression has more than "
                             f"{MAX_TREE_DEPTH} levels")
        return height

    def _match_parentheses(self) -> dict[int, int]:
        """The position of the ')' that closes each '(' (refusing unbalanced ones)."""
        closing: dict[int, int] = {}
        open_positions: list[int] = []
        for position, token in enumerate(self.tokens):
            if token.is_symbol("("):
                open_positions.append(position)
            elif token.is_symbol(")"):
                if not open_positions:
                    raise self.error(token, "unexpected ')': there is no '(' for it to close")
                closing[open_positions.pop()] = position
        if open_positions:
            raise self.error(self.tokens[open_positions[-1]], "this '(' is never closed")
        return closing

    def close(self, opening: _Token) -> None:
        token = self.peek()
        if not token.is_symbol(")"):
            raise self.error(token, f"expected ')' to close the '(' at column {opening.column + 1}, "
                             f"found {token.describe()}")
        self.advance()

    # --- whole numbers, indices and bounds

    def whole_number(self, token: _Token, what: str) -> int:
        if "." in token.text:
            raise self.error(token, f"{what} must be a whole number, not {token.text}")
        value = int(token.text)
        if not 1 <= value <= MAX_INTEGER:
            raise self.error(token, f"{what} must be between 1 and {MAX_INTEGER} "
                             "(indices count from 1)")
        return value

    def index(self) -> Atom:
        """idx := NAME | INTEGER, the NAME a declared index or the variable of an enclosing sum."""
        token = self.advance()
        if token.kind == "number":
            return self.whole_number(token, "an index")
        if token.kind != "name":
            raise self.error(token, f"expected an index (a name or a whole number), found "
                             f"{token.describe()}")
        name = token.text
        if name in self.bound or name in self.reader.declarations.ranges:
            return name
        kind = self.reader.kind_of(name)
        if kind is not None:
            raise self.error(token, f"{name!r} is {_a(kind)}, not an index")
        size = self.reader.declarations.sizes[0] if self.reader.declarations.sizes else "n"
        raise self.error(token, f"unknown index {name!r} (declare it with: index {name} : 1..{size})")

    def bound_of_sum(self) -> Atom:
        """bound := INTEGER | a size | a declared index | the variable of an enclosing sum."""
        token = self.advance()
        if token.kind == "number":
            return self.whole_number(token, "a bound")
        if token.kind != "name":
            raise self.error(token, f"expected a bound (a whole number, a size or an index), found "
                             f"{token.describe()}")
        name = token.text
        if name in self.bound or self.reader.kind_of(name) in ("size", "index"):
            return name
        if self.reader.kind_of(name) == "matrix":
            raise self.error(token, f"{name!r} is a matrix, not a bound")
        raise self.error(token, f"unknown bound {name!r}: a bound is a whole number, a size or an index")

    def bound_of_declaration(self) -> Atom:
        """A bound of 'index' or a side of 'matrix': a whole number or a size."""
        token = self.advance()
        if token.kind == "number":
            return self.whole_number(token, "a size or bound")
        if token.kind != "name":
            raise self.error(token, f"expected a size or a whole number, found {token.describe()}")
        kind = self.reader.kind_of(token.text)
        if kind == "size":
            return token.text
        if kind is not None:
            raise self.error(token, f"{token.text!r} is {_a(kind)}, not a size")
        raise self.error(token, f"unknown size {token.text!r} (list it after 'sizes')")

    # --- matrix expressions

    def matrix_name(self, token: _Token) -> Name:
        kind = self.reader.kind_of(token.text)
        if kind == "matrix":
            return Name(token.text)
        if kind is not None:
            raise self.error(token, f"{token.text!r} is {_a(kind)}, not a matrix")
        raise self.error(token, f"unknown matrix {token.text!r} "
                         f"(declare it with: matrix {token.text} : rows x cols)")

    def matrix_expression(self) -> tuple[MatrixExpr, int]:
        """mexpr := mterm (('+' | '-') mterm)*"""
        left, height = self.matrix_term()
        while self.peek().is_symbol("+", "-"):
            operator = self.advance()
            right, right_height = self.matrix_term()
            left = (Add if operator.text == "+" else Sub)(left, right)
            height = self.check_height(max(height, right_height) + 1, operator)
        return left, height

    def matrix_term(self) -> tuple[MatrixExpr, int]:
        """mterm := mpost ('@' mpost)*"""
        left, height = self.matrix_postfix()
        while self.peek().is_symbol("@"):
            operator = self.advance()
            right, right_height = self.matrix_postfix()
            left = MatMul(left, right)
            height = self.check_height(max(height, right_height) + 1, operator)
        if self.peek().is_symbol("*"):
            raise self.error(self.peek(), "in a matrix expression the product is '@'")
        return left, height

    def matrix_postfix(self) -> tuple[MatrixExpr, int]:
        """mpost := (NAME | FUNCTION '(' mexpr (',' 'axis' '=' (0 | 1))? ')' | '(' mexpr ')') ('.T')*"""
        token = self.peek()
        if token.is_name() and token.text in FUNCTIONS and token.text != "leaky_relu":
            node, height = self.matrix_call()
        elif token.is_name():
            self.advance()
            node, height = self.matrix_name(token), 1
        elif token.is_symbol("("):
            opening = self.advance()
            self.enter(opening)
            node, height = self.matrix_expression()
            self.close(opening)
            self.leave()
        else:
            raise self.error(token, f"expected a matrix, found {token.describe()}")
        return self.transposes(node, height)

    def matrix_call(self) -> tuple[MatrixExpr, int]:
        """A function of the expression language applied to a matrix expression:
        softmax(Z, axis=1), tanh(X @ W), sum(A, axis=0), norm(A)."""
        function = self.advance()
        opening = self.expect_symbol("(", f"expected '(' after {function.text}")
        self.enter(opening)
        argument, height = self.matrix_expression()
        axis = None
        if self.peek().is_symbol(","):
            comma = self.advance()
            if function.text not in ALONG_AXIS:
                raise self.error(comma, f"{function.text} takes no axis (only {', '.join(ALONG_AXIS)} do)")
            self.expect_name("expected 'axis' after ','", "axis")
            self.expect_symbol("=", "expected '=' after 'axis'")
            value = self.peek()
            if value.kind != "number" or value.text not in ("0", "1"):
                raise self.error(value, f"the axis is 0 (each column) or 1 (each row), found {value.describe()}")
            self.advance()
            axis = int(value.text)
        self.close(opening)
        self.leave()
        node = Call(function.text, argument) if axis is None else Along(function.text, argument, axis)
        return node, self.check_height(height + 1, function)

    def transposes(self, node: MatrixExpr, height: int) -> tuple[MatrixExpr, int]:
        """('.T')* after a matrix."""
        while self.peek().is_symbol("."):
            dot = self.advance()
            if not self.peek().is_name("T"):
                raise self.error(self.peek(), "only .T may follow a matrix")
            self.advance()
            node = Transpose(node)
            height = self.check_height(height + 1, dot)
        return node, height

    # --- index expressions

    def expression(self) -> tuple[IndexExpr, int]:
        """expr := term (('+' | '-') term)*   ->  Plus, with a - b as Plus((a, Neg(b)))"""
        first, height = self.term()
        terms = [first]
        while self.peek().is_symbol("+", "-"):
            operator = self.advance()
            term, term_height = self.term()
            if operator.text == "-":
                term, term_height = Neg(term), term_height + 1
            terms.append(term)
            height = self.check_height(max(height, term_height), operator)
        if len(terms) == 1:
            return first, height
        return Plus(tuple(terms)), self.check_height(height + 1, self.peek())

    def term(self) -> tuple[IndexExpr, int]:
        """term := unary ('*' unary)*   ->  Times"""
        first, height = self.unary()
        factors = [first]
        while self.peek().is_symbol("*"):
            self.advance()
            factor, factor_height = self.unary()
            factors.append(factor)
            height = max(height, factor_height)
        if self.peek().is_symbol("/"):
            raise self.error(self.peek(), "'/' appears only in a derivative d(...)/d(...)")
        if self.peek().is_symbol("@"):
            raise self.error(self.peek(), "'@' appears only in a matrix expression, as in "
                             "(G @ W.T)[i,j]; multiply entries with '*'")
        if len(factors) == 1:
            return first, height
        return Times(tuple(factors)), self.check_height(height + 1, self.peek())

    def unary(self) -> tuple[IndexExpr, int]:
        """unary := '-' unary | atom   (read with a loop: the tree's height bounds the signs)"""
        signs = []
        while self.peek().is_symbol("-"):
            signs.append(self.advance())
        node, height = self.atom()
        for sign in reversed(signs):
            node, height = Neg(node), self.check_height(height + 1, sign)
        return node, height

    def atom(self) -> tuple[IndexExpr, int]:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            return Num(Fraction(token.text)), 1
        if token.is_name("f"):
            raise self.error(token, "f, the scalar, appears only as d(f)/d(X[i,j])")
        if token.is_name("d"):
            return self.derivative()
        if token.is_name("delta"):
            return self.delta()
        if token.is_name("sum"):
            return self.sum()
        if token.is_name():
            return self.entry_of_name()
        if token.is_symbol("("):
            after = self.tokens[self.closing[self.position] + 1]
            if after.is_symbol("[", "."):
                return self.entry_of_matrix_expression()
            opening = self.advance()
            self.enter(opening)
            inner = self.expression()
            self.close(opening)
            self.leave()
            return inner
        if self.position == 0 or self.tokens[self.position - 1].is_symbol("="):
            raise self.error(token, f"expected an expression, found {token.describe()}")
        previous = self.tokens[self.position - 1]
        raise self.error(token, f"expected an expression after {previous.describe()}, "
                         f"found {token.describe()}")

    def opening_of(self, function: _Token, usage: str) -> _Token:
        """The '(' after delta, sum or d."""
        token = self.peek()
        if not token.is_symbol("("):
            raise self.error(function, f"{function.text!r} is reserved: write {usage}")
        return self.advance()

    def subscript(self) -> tuple[Atom, Atom]:
        """'[' idx ',' idx ']'"""
        token = self.peek()
        if token.is_symbol("("):
            raise self.error(token, "write an entry with brackets: X[i,j]")
        if not token.is_symbol("["):
            raise self.error(token, f"expected '[' and the indices of an entry, as in X[i,j], "
                             f"found {token.describe()}")
        self.advance()
        row = self.index()
        self.expect_symbol(",", "expected ',' between the two indices of an entry")
        col = self.index()
        self.expect_symbol("]", "expected ']' after the two indices of an entry")
        return row, col

    def entry_of_name(self) -> tuple[IndexExpr, int]:
        """entry := NAME ('.T')* '[' idx ',' idx ']'"""
        token = self.advance()
        node, height = self.transposes(self.matrix_name(token), 1)
        row, col = self.subscript()
        return Entry(node, row, col), self.check_height(height + 1, token)

    def entry_of_matrix_expression(self) -> tuple[IndexExpr, int]:
        """entry := '(' mexpr ')' ('.T')* '[' idx ',' idx ']'"""
        opening = self.advance()
        self.enter(opening)
        node, height = self.matrix_expression()
        self.close(opening)
        self.leave()
        node, height = self.transposes(node, height)
        row, col = self.subscript()
        return Entry(node, row, col), self.check_height(height + 1, opening)

    def delta(self) -> tuple[IndexExpr, int]:
        """'delta' '(' idx ',' idx ')'"""
        function = self.advance()
        opening = self.opening_of(function, "delta(p,i)")
        a = self.index()
        self.expect_symbol(",", "expected ',' between the two indices of delta(p,i)")
        b = self.index()
        self.close(opening)
        return Delta(a, b), 1

    def sum(self) -> tuple[IndexExpr, int]:
        """'sum' '(' NAME '=' bound '..' bound ',' expr ')'"""
        function = self.advance()
        opening = self.opening_of(function, "sum(p=1..n, ...)")
        self.enter(opening)
        variable = self.expect_name("expected the summation index, as in sum(p=1..n, ...)")
        self.check_summation_variable(variable)
        self.expect_symbol("=", "expected '=' after the summation index, as in sum(p=1..n, ...)")
        lower = self.bound_of_sum()
        self.expect_symbol("..", "expected '..' between the bounds, as in sum(p=1..n, ...)")
        upper = self.bound_of_sum()
        self.expect_symbol(",", "expected ',' after the bounds, as in sum(p=1..n, ...)")
        self.bound.append(variable.text)
        body, height = self.expression()
        self.bound.pop()
        self.close(opening)
        self.leave()
        return Sum(variable.text, lower, upper, body), self.check_height(height + 1, function)

    def check_summation_variable(self, token: _Token) -> None:
        name = token.text
        problem = _name_problem(name, matrix=False)
        if problem is not None:
            raise self.error(token, problem)
        if name in self.bound:
            raise self.error(token, f"{name!r} is already the index of an enclosing sum; "
                             "choose another name")
        declared = self.reader.declared.get(name)
        if declared is not None:
            kind, line = declared
            raise self.error(token, f"{name!r} is already declared as {_a(kind)} on line {line}; "
                             "choose another name for the summation index")

    def derivative(self) -> tuple[IndexExpr, int]:
        """'d' '(' (expr | 'f') ')' '/' 'd' '(' NAME '[' idx ',' idx ']' ')'"""
        function = self.advance()
        opening = self.opening_of(function, "d(f)/d(X[i,j]) or d(Y[p,q])/d(X[i,j])")
        self.enter(opening)
        if self.peek().is_name("f") and self.peek(1).is_symbol(")"):
            self.advance()
            of, height = Scalar("f"), 1
        else:
            of, height = self.expression()
        self.close(opening)
        self.expect_symbol("/", "expected '/' after d(...), as in d(f)/d(X[i,j])")
        self.expect_name("expected 'd' after '/', as in d(f)/d(X[i,j])", "d")
        second = self.expect_symbol("(", "expected '(' after d, as in d(f)/d(X[i,j])")
        wrt = self.variable_entry()
        self.close(second)
        self.leave()
        return Derivative(of, wrt), self.check_height(height + 1, function)

    def variable_entry(self) -> Entry:
        """The entry a derivative is by: NAME '[' idx ',' idx ']', NAME declared with 'matrix'."""
        token = self.peek()
        if not token.is_name():
            raise self.error(token, "differentiate by an entry of a declared matrix, as in "
                             f"d(f)/d(X[i,j]); found {token.describe()}")
        self.advance()
        matrix = self.matrix_name(token)
        upstream = self.reader.declarations.upstream
        if upstream is not None and token.text == upstream[0]:
            raise self.error(token, f"{token.text!r} is the upstream gradient (df/d{upstream[1]}), "
                             "not a matrix to differentiate by")
        if self.peek().is_symbol("."):
            raise self.error(self.peek(), f"differentiate by an entry of {token.text} itself: "
                             f"{token.text}.T[i,j] is {token.text}[j,i]")
        row, col = self.subscript()
        return Entry(matrix, row, col)


def _a(kind: str) -> str:
    """'a size', 'a matrix', 'an index'."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _unexpected(token: _Token) -> str:
    """The message for a token after a complete expression or declaration."""
    if token.is_symbol("="):
        return "one step a line: start a new line with '=' for the next step"
    if token.is_symbol("/"):
        return "'/' appears only in a derivative d(...)/d(...)"
    if token.kind in ("name", "number"):
        return f"unexpected {token.describe()}: is an operator missing?"
    return f"unexpected {token.describe()}"


# --------------------------------------------------------------------------- the reader of a file


class _Reader:
    """Reads the lines in order: declarations, then the chain."""

    def __init__(self) -> None:
        self.declarations = Declarations()
        self.declared: dict[str, tuple[str, int]] = {}  # name -> (kind, line of its declaration)
        self.title = ""
        self.title_line = 0
        self.sizes_line = 0
        self.upstream_line = 0
        self.steps: list[Step] = []

    def kind_of(self, name: str) -> str | None:
        declared = self.declared.get(name)
        return None if declared is None else declared[0]

    def read(self, lines: list[_Line]) -> Derivation:
        for line in lines:
            if line.code.strip():
                try:
                    self.read_line(line)
                except RecursionError:  # a safety net only: the nesting limits keep the stack shallow
                    raise line.error(0, "nested too deeply") from None
        if not self.steps:
            last = lines[-1] if lines else _Line(1, "", "", None)
            raise last.error(len(last.text), "there is no chain of equalities: after the "
                             "declarations, write an expression, then lines starting with '='")
        if len(self.steps) == 1:
            step = self.steps[0]
            line = next(line for line in lines if line.number == step.line)
            column = len(line.code) - len(line.code.lstrip(" \t"))
            raise line.error(column, "a chain needs at least two steps: continue with a line "
                             "starting with '='")
        return Derivation(self.declarations, self.steps, self.title)

    def read_line(self, line: _Line) -> None:
        first = _FIRST_WORD.match(line.code)
        word = first.group(1) if first else None
        if word in KEYWORDS:
            if self.steps:
                raise line.error(first.start(1), f"a declaration after the chain started on line "
                                 f"{self.steps[0].line}: declarations come before the chain")
            if word == "title":
                self.read_title(line, first.end(1))
                return
            parser = _Parser(self, line, _tokenize(line))
            keyword_token = parser.advance()
            declare = {"sizes": self.declare_sizes, "matrix": self.declare_matrix,
                       "upstream": self.declare_upstream, "index": self.declare_index}[word]
            declare(parser, keyword_token)
            parser.expect_end()
            return
        self.read_step(line)

    def new_name(self, parser: _Parser, token: _Token, matrix: bool = False) -> str:
        """Check that a name may be declared, and return it (the caller records it)."""
        problem = _name_problem(token.text, matrix)
        if problem is not None:
            raise parser.error(token, problem)
        if token.text in self.declared:
            previous, line = self.declared[token.text]
            raise parser.error(token, f"{token.text!r} is already declared as {_a(previous)} "
                               f"on line {line}")
        return token.text

    def record(self, name: str, kind: str, line: _Line) -> None:
        self.declared[name] = (kind, line.number)

    # --- declarations

    def read_title(self, line: _Line, end_of_keyword: int) -> None:
        rest = line.code[end_of_keyword:]
        if rest and rest[0] not in " \t":
            raise line.error(end_of_keyword, "expected a space after 'title'")
        if self.title_line:
            raise line.error(line.code.index("title"), f"the title is already given on line "
                             f"{self.title_line}")
        if not rest.strip():
            raise line.error(end_of_keyword, "expected the title's text after 'title'")
        self.title = rest.strip()
        self.title_line = line.number

    def declare_sizes(self, parser: _Parser, keyword_token: _Token) -> None:
        """sizes NAME NAME ..."""
        if self.sizes_line:
            raise parser.error(keyword_token, f"the sizes are already declared on line "
                               f"{self.sizes_line}: list them all on one 'sizes' line")
        if parser.peek().kind == "end":
            raise parser.error(parser.peek(), "expected the names of the sizes after 'sizes', "
                               "as in: sizes n m d")
        self.sizes_line = parser.line.number
        while parser.peek().kind != "end":
            token = parser.expect_name("expected the name of a size")
            name = self.new_name(parser, token)
            self.declarations.sizes.append(name)
            self.record(name, "size", parser.line)

    def declare_matrix(self, parser: _Parser, keyword_token: _Token) -> None:
        """matrix NAME : R x C   |   matrix NAME = MEXPR"""
        token = parser.expect_name("expected the matrix's name after 'matrix'")
        name = self.new_name(parser, token, matrix=True)
        separator = parser.peek()
        if separator.is_symbol(":"):
            parser.advance()
            rows = parser.bound_of_declaration()
            parser.expect_name("expected 'x' between the rows and the columns, as in "
                               "matrix X : n x m", "x")
            cols = parser.bound_of_declaration()
            parser.expect_end()
            self.declarations.shapes[name] = (rows, cols)
        elif separator.is_symbol("="):
            parser.advance()
            if parser.peek().kind == "end":
                raise parser.error(parser.peek(), "expected a matrix expression after '=', "
                                   "as in matrix Y = X @ W")
            definition, _ = parser.matrix_expression()
            parser.expect_end()
            self.declarations.defined[name] = definition
        else:
            raise parser.error(separator, f"expected ':' and a shape (matrix {name} : n x m) or "
                               f"'=' and a definition (matrix {name} = X @ W), found "
                               f"{separator.describe()}")
        self.record(name, "matrix", parser.line)

    def declare_upstream(self, parser: _Parser, keyword_token: _Token) -> None:
        """upstream G of Y"""
        if self.upstream_line:
            raise parser.error(keyword_token, f"the upstream gradient is already declared on "
                               f"line {self.upstream_line}")
        token = parser.expect_name("expected the name of the upstream gradient, as in "
                                   "upstream G of Y")
        gradient = self.new_name(parser, token, matrix=True)
        parser.expect_name("expected 'of', as in upstream G of Y", "of")
        output_token = parser.expect_name("expected the matrix it is the gradient of, as in "
                                          "upstream G of Y")
        output = parser.matrix_name(output_token).name
        parser.expect_end()
        self.declarations.upstream = (gradient, output)
        if output in self.declarations.shapes:
            self.declarations.shapes[gradient] = self.declarations.shapes[output]
        self.upstream_line = parser.line.number
        self.record(gradient, "matrix", parser.line)

    def declare_index(self, parser: _Parser, keyword_token: _Token) -> None:
        """index NAME : LO..HI"""
        token = parser.expect_name("expected the index's name after 'index'")
        name = self.new_name(parser, token)
        parser.expect_symbol(":", f"expected ':' and a range, as in index {name} : 1..n")
        lower_token = parser.peek()
        lower = parser.bound_of_declaration()
        parser.expect_symbol("..", f"expected '..' between the bounds, as in index {name} : 1..n")
        upper = parser.bound_of_declaration()
        parser.expect_end()
        if isinstance(lower, int) and isinstance(upper, int) and lower > upper:
            raise parser.error(lower_token, f"the range {lower}..{upper} is empty")
        self.declarations.ranges[name] = (lower, upper)
        self.record(name, "index", parser.line)

    # --- the chain

    def read_step(self, line: _Line) -> None:
        tokens = _tokenize(line)
        parser = _Parser(self, line, tokens)
        first = parser.peek()
        if first.is_symbol("="):
            if not self.steps:
                raise parser.error(first, "the chain starts with an expression, not '=': "
                                   "write the first step without '='")
            parser.advance()
            if parser.peek().kind == "end":
                raise parser.error(parser.peek(), "expected an expression after '='")
            text = line.code[first.column + 1:].strip()
        else:
            if self.steps:
                raise parser.error(first, "expected '=' at the start of the line: every step "
                                   "after the first starts with '='")
            text = line.code.strip()
        expression, _ = parser.expression()
        parser.expect_end()
        self.steps.append(Step(expression, _rule(line.comment), line.number, text))


def _rule(comment: str | None) -> str:
    """The rule a step's comment claims: '# by RULE TEXT' gives 'RULE TEXT'; otherwise ''."""
    if comment is None:
        return ""
    body = comment.strip()
    if body.startswith(("by ", "by\t")):
        return body[3:].strip()
    return ""


# --------------------------------------------------------------------------- entry points


def read_derivation(text: str) -> Derivation:
    """The derivation written in ``text``; a ParseError at the offending line and column if
    the text is not a derivation (a non-str ``text`` is a ParseError at line 1, column 1)."""
    if not isinstance(text, str):
        raise ParseError(f"expected the derivation as text (str), got {type(text).__name__}",
                         1, 1, "")
    if text.startswith("\ufeff"):  # a byte order mark, invisible in editors
        text = text[1:]
    return _Reader().read(_split_lines(text))


def read_derivation_file(path: str | os.PathLike) -> Derivation:
    """The derivation in the UTF-8 file at ``path``.

    A file that cannot be read (missing, a directory, not UTF-8, too large) is a
    BadInput with a one-line message naming the path; text that is not a
    derivation is a ParseError.
    """
    shown = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{shown}: is a directory, not a derivation file") from None
    except PermissionError:
        raise BadInput(f"{shown}: permission denied") from None
    except OSError as error:
        raise BadInput(f"{shown}: cannot read the file ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{shown}: the file is too large for a derivation (at most {MAX_LINES} "
                       f"lines of at most {MAX_LINE_LENGTH} characters)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BadInput(f"{shown}: not UTF-8 text (byte 0x{data[error.start]:02X} on line "
                       f"{line})") from None
    return read_derivation(text)


# --------------------------------------------------------------------------- printing


_PLUS, _TIMES, _UNARY, _ATOM = range(4)


def format_index_expr(e: IndexExpr) -> str:
    """``e`` in the syntax of derivation files, with only the parentheses it needs.

    Reading the result back gives ``e`` again for every tree the reader can
    produce.  Trees it cannot produce still print readably: a negative number as
    ``-3``, a fraction that is no decimal as ``(1/3)``, a Plus or Times of one
    term as that term, of none as ``0`` or ``1``.
    """
    if isinstance(e, Plus):
        if len(e.terms) < 2:
            return format_index_expr(e.terms[0]) if e.terms else "0"
        parts = [_wrap(e.terms[0], _TIMES)]
        for term in e.terms[1:]:
            if isinstance(term, Neg):
                parts.append(" - " + _wrap(term.operand, _TIMES))
            else:
                parts.append(" + " + _wrap(term, _TIMES))
        return "".join(parts)
    if isinstance(e, Times):
        if len(e.factors) < 2:
            return format_index_expr(e.factors[0]) if e.factors else "1"
        return " * ".join(_wrap(factor, _UNARY) for factor in e.factors)
    if isinstance(e, Neg):
        return "-" + _wrap(e.operand, _UNARY)
    if isinstance(e, Num):
        return _format_number(Fraction(e.value))
    if isinstance(e, Entry):
        return f"{_format_matrix(e.matrix)}[{e.row},{e.col}]"
    if isinstance(e, Delta):
        return f"delta({e.a},{e.b})"
    if isinstance(e, Sum):
        return f"sum({e.var}={e.lower}..{e.upper}, {format_index_expr(e.body)})"
    if isinstance(e, Derivative):
        return f"d({format_index_expr(e.of)})/d({format_index_expr(e.wrt)})"
    if isinstance(e, Scalar):
        return e.name
    raise TypeError(f"not an index expression: {e!r}")


def _precedence(e: IndexExpr) -> int:
    if isinstance(e, Plus):
        return _PLUS if len(e.terms) >= 2 else _precedence(e.terms[0]) if e.terms else _ATOM
    if isinstance(e, Times):
        return _TIMES if len(e.factors) >= 2 else _precedence(e.factors[0]) if e.factors else _ATOM
    if isinstance(e, Neg) or (isinstance(e, Num) and e.value < 0):
        return _UNARY
    return _ATOM


def _wrap(e: IndexExpr, level: int) -> str:
    """``e`` printed where its precedence must be at least ``level``, else in parentheses.

    Signs get no parentheses (``a - -b``, ``a * -b``, ``--a``): so the printed
    text is never nested deeper than the text the tree was read from, and what
    was read within the limits prints within them.
    """
    text = format_index_expr(e)
    return f"({text})" if _precedence(e) < level else text


def _format_number(value: Fraction) -> str:
    """An exact decimal (12, 0.5, 0.125) when there is one, else (p/q); negative with '-'."""
    if value < 0:
        return "-" + _format_number(-value)
    if value.denominator == 1:
        return str(value.numerator)
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return f"({value.numerator}/{value.denominator})"
    places = max(twos, fives)
    digits = str(value.numerator * 10**places // value.denominator).rjust(places + 1, "0")
    return f"{digits[:-places]}.{digits[-places:]}"


def _format_matrix(matrix: MatrixExpr) -> str:
    """The matrix of an entry: W, W.T, (G @ W).T as printed; others in parentheses."""
    if isinstance(matrix, (Name, Transpose)):
        return str(matrix)
    return f"({matrix})"
