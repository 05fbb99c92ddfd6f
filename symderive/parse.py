"""Parse the expression language (NumPy's notation) into the tree of :mod:`symderive.expr`.

The text a user types never reaches ``eval``, ``exec``, ``compile`` or any
Python or SymPy parser: a small tokenizer cuts it into tokens, and a
recursive-descent parser, one function per grammar rule, builds only the
whitelisted nodes of :mod:`symderive.expr`.

The grammar, loosest binding first (``*`` means "repeated", ``?`` "optional")::

    expression := term (('+' | '-') term)*                      Add, Sub
    term       := unary (('@' | '*' | '/') unary)*              MatMul, Hadamard, Div
    unary      := ('-' | '+')* power                            Neg (unary + changes nothing)
    power      := postfix ('**' unary)?                         Power; right-associative
    postfix    := atom ('.' 'T')*                               Transpose
    atom       := number | 'pi' | name | '(' expression ')'
                | function '(' expression ')'                   Call
                | 'leaky_relu' '(' expression ',' constant ')'  Call with a slope
                | reduction '(' expression (',' 'axis' '=' ('0' | '1'))? ')'
                                                                Along (with an axis), Call
                | 'eye' '(' size ')'                            Identity
                | 'ones' '(' size ',' size ')'                  Ones

where ``reduction`` is sum, mean, softmax, log_softmax or logsumexp.

As in NumPy, ``@``, ``*`` and ``/`` bind equally and group from the left, so
``A @ B * C`` is ``(A @ B) * C``; unary minus binds looser than ``**``, so
``-X**2`` is ``-(X**2)``; and ``2**-1`` is allowed as an exponent.

Numbers.  ``12``, ``0.5``, ``.5``, ``5.``, ``1e-3``, ``2.5E+2``; each is read
exactly as a :class:`fractions.Fraction`.  No hexadecimal, complex, underscores
or leading zeros (``012``).  ``2.T`` is the transpose of 2 (how ``str`` prints it).

Constants.  An expression built only from numbers, ``pi``, parentheses,
``+ - * / **`` and ``sqrt``, ``exp`` or ``log`` of constants is a *constant*;
its exact value is worked out with fractions, or with SymPy once a root, pi or
a logarithm is in it (``**`` inside a rational constant needs a whole-number
exponent; ``2 ** (1/2)`` is written ``sqrt(2)``).  In a program, a size name
(``d``) and a declared scalar (``scalar lam``) are constants too: the caller
passes them as ``constants``.  Three places use constants:

* the exponent of ``**`` must be a rational constant: ``X ** -1``, ``X ** (1/2)``,
  ``X ** 2 ** -1`` give ``Power(X, Fraction)``;
* the right operand of ``/``, when it is a constant, becomes one ``Number`` (or
  ``Constant``): ``X / (2*3)`` is ``Div(X, Number(6))``; otherwise ``/`` divides
  entry by entry, broadcasting as ``*`` does;
* a constant in parentheses becomes one ``Number``: ``(1/2)`` is ``Number(1/2)``
  and ``(-3)`` is ``Number(-3)``; an irrational one one ``Constant``:
  ``(sqrt(2)/2)``.  This is how ``str`` prints such numbers, so
  ``parse(str(tree)) == tree``.

Names are ASCII identifiers of at most 32 characters that do not start with
``_``, are not Python keywords and are not function names.

Limits, so that no input can make the parser slow or crash: at most 10000
characters of text; at most 100 levels of parentheses, signs and ``**`` inside
one another; trees at most 200 levels deep; numbers of at most 1000 digits.

Every mistake raises :class:`ParseError`, which points at the offending line and
column.  A non-str argument is also a ParseError, at line 1, column 1.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, replace
from fractions import Fraction

from . import constants
from .errors import BadInput
from .expr import (ALONG_AXIS, FUNCTIONS, KINKED, PARAMETRIZED, Add, Along, Call, Constant, Div, Expr,
                   Hadamard, Identity, MatMul, Name, Neg, Number, Ones, Power, Sub, Transpose)

__all__ = ["parse", "ParseError"]

MAX_TEXT_LENGTH = 10_000  # characters of input
MAX_NESTING = 100  # parentheses, unary signs and ** exponents inside one another
MAX_TREE_DEPTH = 200  # levels of the resulting tree (later stages walk it recursively)
MAX_NAME_LENGTH = 32
MAX_SIZE = 10_000  # largest n in eye(n) and ones(rows, cols)
MAX_NUMBER_DIGITS = 1000  # digits of the numerator and denominator of any number
MAX_DECIMAL_EXPONENT = 1000  # largest |e| in a literal such as 1e-3

_WIDTH = 100  # longest source line shown whole in an error message
_KNOWN_FUNCTIONS = FUNCTIONS + ("eye", "ones")
_CONSTANT_FUNCTIONS = ("sqrt", "exp", "log")  # of a constant, a constant
RESERVED = ("pi",)  # names that stand for constants, never for matrices
_WHITESPACE = " \t\r\n"
_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SYMBOLS = "+-*/@(),.="
_NUMBER = re.compile(r"(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_NUMBER_LIMIT = 10**MAX_NUMBER_DIGITS
_BINARY = {"+": Add, "-": Sub, "@": MatMul, "*": Hadamard, "/": Div}
_CHARACTER_HINTS = {
    "[": "subscripts are not supported",
    "]": "subscripts are not supported",
    "'": "strings are not supported",
    '"': "strings are not supported",
    ";": "write one expression, not statements",
}


# --------------------------------------------------------------------------- the error


class ParseError(BadInput):
    """Text that is not an expression of the language.

    ``line`` and ``column`` (both from 1) point at the offending character or
    token, ``message`` says what was expected or found, and ``source_line`` is
    that line of the text.  ``str(error)`` is three lines: the position and
    message, the source line, and a caret under the offending column.
    """

    def __init__(self, message: str, line: int, column: int, source_line: str) -> None:
        super().__init__(message, line, column, source_line)
        self.message = message
        self.line = line
        self.column = column
        self.source_line = source_line

    def __str__(self) -> str:
        shown, caret = _window(self.source_line, self.column)
        return f"line {self.line}, column {self.column}: {self.message}\n{shown}\n{' ' * caret}^"


def _window(source_line: str, column: int) -> tuple[str, int]:
    """The line as shown under the message, and how many spaces precede the caret.

    Tabs show as one space and other characters outside printable ASCII as '?',
    so that the caret stays under its column.  A line longer than _WIDTH shows
    only a window of it around the column, with '...' for the parts left out.
    """
    shown = "".join(" " if c == "\t" else c if " " <= c <= "~" else "?" for c in source_line)
    index = column - 1
    if len(shown) <= _WIDTH:
        return shown, index
    start = max(0, min(index - _WIDTH // 2, len(shown) - _WIDTH))
    end = start + _WIDTH
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(shown) else ""
    return prefix + shown[start:end] + suffix, len(prefix) + index - start


def _error_at(text: str, offset: int, message: str) -> ParseError:
    """A ParseError at character ``offset`` of ``text`` (0-based)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end == -1:
        line_end = len(text)
    source_line = text[line_start:line_end].rstrip("\r")
    line = text.count("\n", 0, offset) + 1
    return ParseError(message, line, offset - line_start + 1, source_line)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _character(c: str) -> str:
    """A character as a message shows it: 'x', or its code point when unprintable."""
    if " " <= c <= "~":
        return repr(c)
    code = f"U+{ord(c):04X}"
    return f"'{c}' ({code})" if c.isprintable() else code


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    """One token: kind is 'number', 'name', 'symbol' or 'end'; offset counts from 0."""

    kind: str
    text: str
    offset: int

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind == "symbol" and self.text in symbols

    def describe(self) -> str:
        return "the end of the text" if self.kind == "end" else repr(_shorten(self.text))


def _tokenize(text: str) -> list[_Token]:
    """Cut the text into tokens, skipping whitespace; the last token has kind 'end'."""
    tokens: list[_Token] = []
    offset = 0
    while True:
        while offset < len(text) and text[offset] in _WHITESPACE:
            offset += 1
        if offset == len(text):
            break
        token = _read_token(text, offset)
        tokens.append(token)
        offset += len(token.text)
    end = tokens[-1].offset + len(tokens[-1].text) if tokens else 0
    tokens.append(_Token("end", "", end))
    return tokens


def _read_token(text: str, offset: int) -> _Token:
    """The token that starts at ``offset`` (not whitespace)."""
    c = text[offset]
    following = text[offset + 1:offset + 2]
    if c in _DIGITS or (c == "." and following != "" and following in _DIGITS):
        return _read_number(text, offset)
    if c in _LETTERS or c == "_":
        return _Token("name", _WORD.match(text, offset).group(), offset)
    if c == "*" and following == "*":
        return _Token("symbol", "**", offset)
    if c in _SYMBOLS:
        return _Token("symbol", c, offset)
    message = f"unexpected character {_character(c)}"
    if c in _CHARACTER_HINTS:
        message += f": {_CHARACTER_HINTS[c]}"
    elif not c.isascii():
        message += ": only ASCII is allowed"
    raise _error_at(text, offset, message)


def _read_number(text: str, offset: int) -> _Token:
    """number := digits ('.' digits?)? exponent? | '.' digits exponent?
    with exponent := ('e' | 'E') ('+' | '-')? digits.

    A '.' followed by a letter is not part of the number: ``2.T`` is ``2 .T``,
    the transpose of 2, which is how ``str`` prints it.
    """
    number = _NUMBER.match(text, offset).group()
    if number.endswith(".") and text[offset + len(number):offset + len(number) + 1].isalpha():
        number = number[:-1]  # 2.T is 2 .T, as str prints the transpose of a number
    glued = _WORD.match(text, offset + len(number))
    if glued:  # 0x1F, 1j, 1_000, 2.T, 1e
        written = _shorten(number + glued.group())
        raise _error_at(text, offset, f"malformed number {written!r}: write numbers like "
                        "12, 0.5, .5, 1e-3 (no hexadecimal, complex or underscores)")
    if len(number) > MAX_NUMBER_DIGITS:
        raise _error_at(text, offset, f"a number may have at most {MAX_NUMBER_DIGITS} characters")
    if number.isdigit() and len(number) > 1 and number[0] == "0":
        raise _error_at(text, offset, f"leading zeros are not allowed: write {number.lstrip('0') or '0'}, "
                        f"not {_shorten(number)}")
    _, _, exponent = number.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_DECIMAL_EXPONENT:
        raise _error_at(text, offset, f"the exponent of {_shorten(number)} is out of range "
                        f"(at most {MAX_DECIMAL_EXPONENT} in size)")
    if _too_large(Fraction(number)):
        raise _error_at(text, offset, f"a number may have at most {MAX_NUMBER_DIGITS} digits")
    return _Token("number", number, offset)


# --------------------------------------------------------------------------- constants


class _NoValue(Exception):
    """A constant whose exact value cannot be worked out; the message says why."""


def _too_large(value: Fraction) -> bool:
    return abs(value.numerator) >= _NUMBER_LIMIT or value.denominator >= _NUMBER_LIMIT


def _arithmetic(symbol: str, a, b):
    """The exact value of ``a symbol b`` for symbol in + - * / **, or _NoValue."""
    if not (isinstance(a, Fraction) and isinstance(b, Fraction)):
        try:
            return constants.combine(symbol, a, b)
        except constants.NoValue as reason:
            raise _NoValue(str(reason)) from None
    if symbol == "+":
        value = a + b
    elif symbol == "-":
        value = a - b
    elif symbol == "*":
        value = a * b
    elif symbol == "/":
        if b == 0:
            raise _NoValue("division by zero")
        value = a / b
    else:
        value = _whole_power(a, b)
        if not isinstance(value, Fraction):
            return value  # a root, worked out (and bounded) by constants
    if _too_large(value):
        raise _NoValue(f"this constant has more than {MAX_NUMBER_DIGITS} digits")
    return value


def _whole_power(a: Fraction, b: Fraction) -> Fraction:
    """a ** b for a whole number b, refusing results too large to write down."""
    if b.denominator != 1:  # a root: an irrational constant, worked out by constants
        try:
            return constants.combine("**", a, b)
        except constants.NoValue as reason:
            raise _NoValue(str(reason)) from None
    if a == 0 and b < 0:
        raise _NoValue("division by zero (0 to a negative power)")
    # The numerator or the denominator of a is at least 2**bits, so that of the
    # result is at least 2**(bits * |b|): refuse before computing a giant number.
    bits = max(abs(a.numerator).bit_length(), a.denominator.bit_length()) - 1
    if bits * abs(b) >= _NUMBER_LIMIT.bit_length():
        raise _NoValue(f"this constant has more than {MAX_NUMBER_DIGITS} digits")
    return a ** int(b)


# --------------------------------------------------------------------------- the parser


@dataclass(frozen=True)
class _Piece:
    """A parsed part of the text: its tree, and what the parser needs to know of it.

    ``start`` is its first token (errors about the piece point there), ``depth``
    the height of its tree.  ``constant`` says it is built only from numbers,
    parentheses and + - * / **; then ``value`` is its exact value, or None with
    ``problem`` = (message, token) saying why there is none.
    """

    node: Expr
    start: _Token
    depth: int = 1
    constant: bool = False
    value: Fraction | None = None
    problem: tuple[str, _Token] | None = None


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str, constants: dict | None = None) -> None:
        self.text = text
        self.constants = constants or {}
        self.tokens = _tokenize(text)
        self.index = 0
        self.nesting = 0

    # --- tokens and errors

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def error(self, token: _Token, message: str) -> ParseError:
        return _error_at(self.text, token.offset, message)

    def enter(self, token: _Token) -> None:
        """Go one level deeper (a parenthesis, a sign or an exponent) at ``token``."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(token, f"nested too deeply: more than {MAX_NESTING} levels of "
                             "parentheses, signs and powers")

    def leave(self) -> None:
        self.nesting -= 1

    def make(self, node: Expr, start: _Token, at: _Token, *parts: _Piece, **constant) -> _Piece:
        """A piece for ``node``, built at token ``at`` from the pieces ``parts``."""
        depth = 1 + max((part.depth for part in parts), default=0)
        if depth > MAX_TREE_DEPTH:
            raise self.error(at, f"nested too deeply: the expression has more than "
                             f"{MAX_TREE_DEPTH} operations inside one another")
        return _Piece(node, start, depth, **constant)

    def require_constant(self, piece: _Piece, message: str, rational: bool = False):
        """The exact value of a piece that must be a constant (an exponent, a divisor)."""
        if not piece.constant:
            raise self.error(piece.start, message)
        if piece.problem is not None:
            reason, token = piece.problem
            raise self.error(token, reason)
        if rational and not isinstance(piece.value, Fraction):
            raise self.error(piece.start, message.replace("a number", "a rational number")
                             + f", not {piece.value}")
        return piece.value

    # --- the grammar

    def whole_text(self) -> Expr:
        """text := expression end"""
        if self.peek().kind == "end":
            raise self.error(self.peek(), "the text is empty: expected an expression")
        piece = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, _unexpected(token))
        return piece.node

    def expression(self) -> _Piece:
        """expression := term (('+' | '-') term)*"""
        left = self.term()
        while self.peek().is_symbol("+", "-"):
            operator = self.advance()
            left = self.binary(operator, left, self.term())
        return left

    def term(self) -> _Piece:
        """term := unary (('@' | '*' | '/') unary)*"""
        left = self.unary()
        while self.peek().is_symbol("@", "*", "/"):
            operator = self.advance()
            right = self.unary()
            if operator.text == "/" and right.constant:
                right = self.divisor(right)
            left = self.binary(operator, left, right)
        return left

    def divisor(self, piece: _Piece) -> _Piece:
        """A constant right operand of '/': not zero, made into one Number (or Constant)."""
        value = self.require_constant(piece, "expected a constant")
        found = value if isinstance(value, Fraction) else constants.sign(value)
        if found == 0:
            raise self.error(piece.start, "division by zero")
        if found is None and not value.free_symbols:
            raise self.error(piece.start, f"cannot tell whether the divisor {value} is 0")
        return _Piece(_constant_node(value), piece.start, 1, constant=True, value=value)

    def binary(self, operator: _Token, left: _Piece, right: _Piece) -> _Piece:
        """``left operator right`` for a binary operator + - @ * /."""
        node = _BINARY[operator.text](left.node, right.node)
        return self.make(node, left.start, operator, left, right,
                         **_combine(operator, left, right))

    def unary(self) -> _Piece:
        """unary := ('-' | '+')* power   (so -X**2 is -(X**2); unary + changes nothing)"""
        signs = []
        while self.peek().is_symbol("-", "+"):
            sign = self.advance()
            self.enter(sign)
            signs.append(sign)
        piece = self.power()
        for sign in reversed(signs):
            if sign.text == "-":
                piece = self.make(Neg(piece.node), sign, sign, piece, **_negate(piece))
            else:
                piece = replace(piece, start=sign)
            self.leave()
        return piece

    def power(self) -> _Piece:
        """power := postfix ('**' unary)?   (right-associative; the exponent is a constant)"""
        base = self.postfix()
        if not self.peek().is_symbol("**"):
            return base
        operator = self.advance()
        self.enter(operator)
        exponent = self.unary()
        self.leave()
        value = self.require_constant(exponent, "the exponent of ** must be a number", rational=True)
        combined = _combine(operator, base, exponent)
        if combined.get("problem") and base.problem is None:  # (-1) ** (1/2): no real value
            reason, token = combined["problem"]
            raise self.error(token, reason)
        return self.make(Power(base.node, value), base.start, operator, base, **combined)

    def postfix(self) -> _Piece:
        """postfix := atom ('.' 'T')*"""
        piece = self.atom()
        while True:
            if self.peek().is_symbol("."):
                dot = self.advance()
                attribute = self.peek()
                if attribute.kind != "name" or attribute.text != "T":
                    raise self.error(attribute, "only .T is allowed after an expression")
                self.advance()
                piece = self.make(Transpose(piece.node), piece.start, dot, piece)
            elif self.peek().is_symbol("("):
                raise self.error(self.peek(), "unexpected '(': only a function can be called, "
                                 "as in tanh(X); is an operator missing?")
            else:
                return piece

    def atom(self) -> _Piece:
        """atom := number | name | '(' expression ')' | call"""
        token = self.peek()
        if token.kind == "number":
            self.advance()
            value = Fraction(token.text)
            return _Piece(Number(value), token, 1, constant=True, value=value)
        if token.kind == "name" and self.peek(1).is_symbol("("):
            return self.call()
        if token.kind == "name" and (token.text in RESERVED or token.text in self.constants):
            self.advance()
            value = constants.exact(self.constants[token.text] if token.text in self.constants
                                    else constants.PI)
            return _Piece(_constant_node(value), token, 1, constant=True, value=value)
        if token.kind == "name":
            return self.name()
        if token.is_symbol("("):
            return self.group()
        raise self.error(token, self.expected_expression(token))

    def expected_expression(self, found: _Token) -> str:
        """The message for a token where an expression should start."""
        if found.is_symbol("="):
            return _EQUALS
        if self.index == 0:
            return f"expected an expression, found {found.describe()}"
        return f"expected an expression after {self.tokens[self.index - 1].describe()}"

    def name(self) -> _Piece:
        """name := an ASCII identifier, not a keyword or function, not starting with '_'"""
        token = self.advance()
        problem = _name_problem(token.text)
        if problem is not None:
            raise self.error(token, problem)
        return _Piece(Name(token.text), token)

    def group(self) -> _Piece:
        """group := '(' expression ')'; a constant inside becomes one Number."""
        opening = self.advance()
        self.enter(opening)
        inner = self.expression()
        self.close(opening)
        self.leave()
        if inner.constant and inner.value is not None:
            return _Piece(_constant_node(inner.value), opening, 1, constant=True, value=inner.value)
        return replace(inner, start=opening)

    def close(self, opening: _Token) -> None:
        """Expect the ')' that closes ``opening``."""
        token = self.peek()
        if token.is_symbol(")"):
            self.advance()
            return
        opened = _error_at(self.text, opening.offset, "")
        raise self.error(token, f"expected ')' to close the '(' at line {opened.line}, "
                         f"column {opened.column}, found {token.describe()}")

    def call(self) -> _Piece:
        """call := function '(' expression ')' | 'eye' '(' size ')' | 'ones' '(' size ',' size ')'"""
        function = self.peek()
        if function.text == "eye":
            return self.eye()
        if function.text == "ones":
            return self.ones()
        if function.text not in FUNCTIONS:
            raise self.error(function, f"unknown function {function.describe()}; "
                             f"known: {', '.join(_KNOWN_FUNCTIONS)}")
        self.advance()
        opening = self.advance()
        self.enter(opening)
        name = function.text
        usage = (f"{name}(A, slope)" if name in PARAMETRIZED
                 else f"{name}(A) or {name}(A, axis=0 or 1)" if name in ALONG_AXIS else f"{name}(A)")
        if self.peek().is_symbol(")"):
            raise self.error(self.peek(), f"{name}() takes exactly one argument" if usage == f"{name}(A)"
                             else f"{name}() needs an argument: write {usage}")
        argument = self.expression()
        parameter = axis = None
        if name in PARAMETRIZED:
            comma = self.peek()
            if not comma.is_symbol(","):
                raise self.error(comma, f"{name} needs its slope for negative arguments: write {usage}, "
                                 "e.g. leaky_relu(Z, 0.01)")
            self.advance()
            if self.peek().kind == "name" and self.peek(1).is_symbol("="):
                raise self.error(self.peek(), f"{name} takes its slope as the second argument, without a "
                                 "keyword: write leaky_relu(Z, 0.01)")
            slope = self.term()
            parameter = self.require_constant(slope, "the slope of leaky_relu must be a number", rational=True)
        elif name in ALONG_AXIS and self.peek().is_symbol(","):
            self.advance()
            axis = self.axis(usage)
        elif self.peek().is_symbol(",") and self.peek(1).kind == "name" and self.peek(2).is_symbol("="):
            raise self.error(self.peek(1), f"{name} takes no keyword argument: write {usage}")
        if self.peek().is_symbol(","):
            raise self.error(self.peek(), f"{name}() takes exactly one argument" if usage == f"{name}(A)"
                             else f"too many arguments: write {usage}")
        self.close(opening)
        self.leave()
        if argument.constant and name in KINKED and argument.value == 0 and argument.problem is None:
            raise self.error(argument.start, f"{name} is not differentiable (or not defined) at 0")
        if argument.constant and name in _CONSTANT_FUNCTIONS and argument.problem is None:
            value = self.function_of_constant(name, argument)
            return _Piece(_constant_node(value), function, 1, constant=True, value=value)
        if axis is not None:
            return self.make(Along(name, argument.node, axis), function, function, argument)
        return self.make(Call(name, argument.node, parameter), function, function, argument)

    def axis(self, usage: str) -> int:
        """'axis' '=' ('0' | '1' | '-1' | '-2'), as NumPy writes it for 2-D arrays."""
        keyword_token = self.peek()
        if keyword_token.kind != "name" or keyword_token.text != "axis":
            raise self.error(keyword_token, f"expected axis=0 or axis=1: write {usage}")
        self.advance()
        if not self.peek().is_symbol("="):
            raise self.error(self.peek(), f"expected '=' after axis: write {usage}")
        self.advance()
        negative = self.peek().is_symbol("-")
        if negative:
            self.advance()
        token = self.peek()
        values = {"1": 1, "2": 0} if negative else {"0": 0, "1": 1}
        if token.kind != "number" or token.text not in values:
            raise self.error(token, f"axis is 0 (along each column) or 1 (along each row): write {usage}")
        self.advance()
        return values[token.text]

    def function_of_constant(self, name: str, argument: _Piece):
        """sqrt, exp or log of a constant: an exact constant."""
        try:
            return constants.function_of(name, argument.value)
        except constants.NoValue as reason:
            raise self.error(argument.start, str(reason)) from None

    def eye(self) -> _Piece:
        """'eye' '(' size ')'  ->  Identity(size)"""
        function = self.advance()
        opening = self.advance()
        size = self.size("eye(n)")
        self.close_call(opening, "eye(n)")
        return _Piece(Identity(size), function)

    def ones(self) -> _Piece:
        """'ones' '(' size ',' size ')'  ->  Ones(rows, cols)"""
        function = self.advance()
        opening = self.advance()
        rows = self.size("ones(rows, cols)")
        comma = self.peek()
        if not comma.is_symbol(","):
            raise self.error(comma, f"expected ',' in ones(rows, cols), found {comma.describe()}")
        self.advance()
        cols = self.size("ones(rows, cols)")
        self.close_call(opening, "ones(rows, cols)")
        return _Piece(Ones(rows, cols), function)

    def size(self, usage: str) -> int:
        """size := a whole number from 1 to MAX_SIZE, written with digits"""
        token = self.peek()
        if token.kind != "number" or not token.text.isdigit() or not 1 <= int(token.text) <= MAX_SIZE:
            raise self.error(token, f"the sizes in {usage} must be whole numbers from 1 to "
                             f"{MAX_SIZE}, written with digits")
        self.advance()
        return int(token.text)

    def close_call(self, opening: _Token, usage: str) -> None:
        """The ')' that ends eye(...) or ones(...)."""
        if self.peek().is_symbol(","):
            raise self.error(self.peek(), f"too many arguments: write {usage}")
        self.close(opening)


def _combine(operator: _Token, left: _Piece, right: _Piece) -> dict:
    """Whether ``left operator right`` is a constant, and if so its value or problem."""
    if operator.text == "@" or not (left.constant and right.constant):
        return {}
    problem = left.problem or right.problem
    if problem is not None:
        return {"constant": True, "problem": problem}
    try:
        return {"constant": True, "value": _arithmetic(operator.text, left.value, right.value)}
    except _NoValue as reason:
        return {"constant": True, "problem": (str(reason), operator)}


def _negate(piece: _Piece) -> dict:
    """Whether ``-piece`` is a constant, and if so its value or problem."""
    if not piece.constant:
        return {}
    if piece.problem is not None:
        return {"constant": True, "problem": piece.problem}
    return {"constant": True, "value": -piece.value}


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a matrix, or None if it can."""
    if name in RESERVED:
        return f"{name!r} is the constant {name}, not a name"
    if name == "axis":
        return "'axis' is the keyword of sum(A, axis=0): not a name"
    if name.startswith("_"):
        return f"names may not start with '_': {_shorten(name)!r}"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword, not a name"
    if name == "eye":
        return "'eye' is a function: write eye(n) for the n x n identity"
    if name == "ones":
        return "'ones' is a function: write ones(rows, cols)"
    if name in FUNCTIONS:
        return f"{name!r} is a function: write {name}(...)"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name {_shorten(name)!r} is longer than {MAX_NAME_LENGTH} characters"
    return None


_EQUALS = ("unexpected character '=': write an expression, not an assignment or a comparison "
           "(axis=k is written only inside sum, mean, softmax, log_softmax and logsumexp)")


def _unexpected(token: _Token) -> str:
    """The message for a token after a complete expression."""
    if token.is_symbol("="):
        return _EQUALS
    if token.is_symbol(")"):
        return "unexpected ')': there is no '(' for it to close"
    if token.is_symbol(","):
        return "unexpected ',': commas are only allowed in ones(rows, cols)"
    if token.kind in ("name", "number"):
        return f"unexpected {token.describe()}: is an operator missing?"
    return f"unexpected {token.describe()}"


# --------------------------------------------------------------------------- entry point


def _constant_node(value) -> Expr:
    """One node for a constant's value: a Number when it is rational, else a Constant."""
    value = constants.exact(value)
    return Number(value) if isinstance(value, Fraction) else Constant(value)


def _read_after_equals(text: str, offset: int) -> tuple[int, int] | None:
    """After 'axis=': optional spaces, then 0 or 1 (or -1, -2, as NumPy counts from
    the end), then something that is not a digit.  (value, offset after it)."""
    while offset < len(text) and text[offset] in _WHITESPACE:
        offset += 1
    for written, value in (("-1", 1), ("-2", 0), ("0", 0), ("1", 1)):
        end = offset + len(written)
        if text.startswith(written, offset) and not text[end:end + 1].isalnum() \
                and text[end:end + 1] not in (".", "_"):
            return value, end
    return None


def parse(text: str, constants: dict | None = None) -> Expr:
    """The expression tree of ``text``; a ParseError (a BadInput) if it is not in the language.

    ``constants`` maps names that stand for constants in this text (a program's
    sizes and declared scalars) to their SymPy symbols.  A ``text`` that is not
    a str is a ParseError at line 1, column 1.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as text (str), got {type(text).__name__}",
                         1, 1, "")
    if len(text) > MAX_TEXT_LENGTH:
        raise _error_at(text, MAX_TEXT_LENGTH, f"the text is longer than {MAX_TEXT_LENGTH} characters")
    parser = _Parser(text, constants)
    try:
        return parser.whole_text()
    except RecursionError:  # a safety net only: the nesting limit keeps the stack shallow
        raise parser.error(parser.peek(), "nested too deeply") from None
