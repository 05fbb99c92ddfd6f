"""Render: a Derivation into a LaTeX document, through the jinja2 templates.

The code here holds no LaTeX paragraphs.  It hands the templates data: cells
of matrices printed by :class:`MathPrinter` (sympy's LaTeX printer, taught
symderive's notation), counts, verdicts.  The templates, in ``templates/``,
hold every word and every environment of the document.

Large objects are elided before they reach a template: a matrix shows its
corners with dots, a long sum its first and last terms, a 4th-rank tensor one
slice; the full size is always stated beside it.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .build import entry_indices, separates_indices
from .engine import to_sympy

__all__ = ["MathPrinter", "TextPrinter", "plain_text", "Cell", "Notation", "render_document", "render_forms", "render_notebook", "render_check",
           "write_atomic", "write_files", "InterruptedAfterWriting", "template_dir", "escape_latex", "output_filename", "output_stem",
           "ProgramPrinter", "ProgramIndexPrinter", "prose_latex", "size_tex", "program_data",
           "render_program_forms", "program_filename", "program_stem"]

# Elision bounds: beyond these a matrix shows corners, a sum its ends.
MAX_MATRIX_ROWS = 8
MAX_MATRIX_COLS = 6
MAX_SUM_TERMS = 3  # a longer sum inside a matrix entry prints as "a + b + \cdots + z"
MAX_ENTRY_WIDTH = 40  # visible characters of one entry; a wider one prints expanded and elided
MAX_SUM_MATRIX_COLS = 4  # columns shown of a matrix whose entries are sums
MAX_CHAIN_TERMS = 12  # terms of the written-out chain-rule sum before eliding
LINE_WIDTH = 48  # visible characters on one line of a written-out sum
TENSOR_MAX_ROWS = 16  # a whole 4th-rank tensor is shown only up to P*I rows ...
TENSOR_MAX_COLS = 10  # ... and Q*J columns; otherwise one slice of it
TENSOR_MAX_WIDTH = 80  # characters of maths across the whole tensor, at most
NARROWER_COLUMNS = (4, 3, 2)  # columns kept when a matrix is too wide to read: 2 is the first and dots


# ---------------------------------------------------------------------------
# The printer
# ---------------------------------------------------------------------------


class MathPrinter(LatexPrinter):
    r"""sympy's LaTeX printer with the seed note's notation.

    Entry symbols ``X_11`` print as ``X_{11}`` (``X_{10,1}`` when separated),
    matrices in bold, transposes as ``^\\top``, Kronecker deltas in the order
    written, indexed entries without commas (``W_{jq}``).  With
    ``upstream_fraction`` the upstream gradient prints as the note writes it,
    df/dY, instead of its short name G.
    """

    _default_settings = {
        **LatexPrinter._default_settings,
        "upstream": "G",
        "output": "Y",
        "upstream_fraction": False,
        "max_terms": None,
        "max_width": None,
        "bold": True,
        "factor_order": (),  # names whose entries lead a product, in this order
    }

    def _entry(self, base: str, index: str) -> str:
        if base == self._settings["upstream"] and self._settings["upstream_fraction"]:
            return r"\frac{\partial f}{\partial %s_{%s}}" % (self._settings["output"], index)
        return "%s_{%s}" % (entry_base_tex(base), index)

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        parsed = entry_indices(expr)
        if parsed is None:
            return super()._print_Symbol(expr, style)
        base, i, j = parsed
        index = f"{i},{j}" if "," in expr.name else f"{i}{j}"
        return self._entry(base, index)

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        name = str(expr.name)
        if name == self._settings["upstream"] and self._settings["upstream_fraction"]:
            return r"\frac{\partial f}{\partial %s}" % name_tex(self._settings["output"], self._settings["bold"])
        return name_tex(name, self._settings["bold"])

    def _print_Mul(self, expr) -> str:
        """Products of entries in the note's order: the upstream gradient first,
        then the matrices in the order the expression names them (X_11 W_11, as
        the note writes X_pr W_rq, where sympy's own order would be W_11 X_11)."""
        order = self._settings["factor_order"]
        if not order or not expr.is_Mul:
            return super()._print_Mul(expr)
        if expr.could_extract_minus_sign():
            return "- " + self.parenthesize(-expr, PRECEDENCE["Mul"])
        if any(factor.is_Pow and factor.exp.is_negative for factor in expr.args):
            return super()._print_Mul(expr)  # a fraction: sympy's layout
        factors = expr.as_ordered_factors()

        def rank(position_factor):
            position, factor = position_factor
            if factor.is_Number:
                return (0, 0, position)
            base = factor.base if factor.is_Pow else factor
            parsed = entry_indices(base) if isinstance(base, sympy.Symbol) else None
            if parsed is not None and parsed[0] in order:
                return (1, order.index(parsed[0]), position)
            return (2, 0, position)

        ordered = [factor for _, factor in sorted(enumerate(factors), key=rank)]
        if ordered == factors:
            return super()._print_Mul(expr)
        texts = []
        for k, factor in enumerate(ordered):
            text = self._print(factor)
            if self._needs_mul_brackets(factor, first=k == 0, last=k == len(ordered) - 1):
                text = r"\left(%s\right)" % text
            texts.append(text)
        return " ".join(texts)

    def parenthesize(self, item, level, is_neg=False, strict=False) -> str:
        text = super().parenthesize(item, level, is_neg, strict)
        if level == PRECEDENCE["Pow"] and text.endswith(r"\right)"):
            return "{%s}" % text  # the base of a power: (a + b)^{2} as {(a + b)}^{2}, as chktex asks
        return text

    def parenthesize_super(self, s: str) -> str:
        """A base with a superscript of its own (W^{(2)}_{11}) raised to a power:
        in parentheses, braced as chktex asks."""
        return r"{\left(%s\right)}" % s if "^" in s else s

    def _print_Transpose(self, expr: sympy.Transpose) -> str:
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, sympy.MatrixSymbol):
            inner = r"\left(%s\right)" % inner
        return r"%s^{\top}" % inner

    def _print_KroneckerDelta(self, expr, exp=None) -> str:
        tex = r"\delta_{%s}" % "".join(self._print(arg) for arg in expr.args)
        return tex if exp is None else r"%s^{%s}" % (tex, exp)

    def _print_Indexed(self, expr: sympy.Indexed) -> str:
        indices = [self._print(k) for k in expr.indices]
        joiner = "" if all(len(k) == 1 for k in indices) else ","
        return self._entry(str(expr.base), joiner.join(indices))

    def doprint(self, expr) -> str:
        """``expr`` printed; past ``max_width`` visible characters, its expanded
        sum with the middle terms elided, or a note of its size: an entry of a
        matrix must not outgrow the page (nor TeX's largest dimension)."""
        text = super().doprint(expr)
        limit = self._settings["max_width"]
        if limit is None or _visible_width(text) <= limit:
            return text
        terms = sympy.Add.make_args(sympy.expand(expr))
        if len(terms) > 2:
            ordered = sorted(terms, key=_natural_key)
            shorter = self._elided_sum(self._print(ordered[0]), ordered[-1])
            if _visible_width(shorter) <= limit:
                return shorter
            return r"\text{a sum of %s terms}" % f"{len(terms):,}"
        # no parentheses round the note: in a matrix's own they would read as doubled brackets
        if expr.is_Mul:
            return r"\text{a product of %s factors}" % f"{len(expr.args):,}"
        return r"\text{an expression of %s operations}" % f"{sympy.count_ops(expr):,}"

    def _elided_sum(self, head: str, last) -> str:
        """``head + ... + last`` (``head`` already printed), a negative last term
        written with a minus."""
        if last.could_extract_minus_sign():
            return "%s + \\cdots - %s" % (head, self.parenthesize(-last, PRECEDENCE["Add"], strict=True))
        return "%s + \\cdots + %s" % (head, self._print(last))

    def _print_Add(self, expr: sympy.Add, order=None) -> str:
        limit = self._settings["max_terms"]
        if limit is None or len(expr.args) <= limit:
            return super()._print_Add(expr, order)
        # in the order of their indices (G_{3,9} before G_{3,10}), the head and the
        # last term on their own, with the dots between
        terms = sorted(expr.args, key=_natural_key)
        head = sympy.Add(*terms[: limit - 1], evaluate=False)
        return self._elided_sum(super()._print_Add(head, order="none"), terms[-1])


def _natural_key(term: sympy.Expr) -> tuple:
    """A sort key ordering terms by the indices of their entries, as numbers
    (X_{2,9} before X_{2,10}), then by their text, for a deterministic order."""
    entries = []
    for factor in (term.args if term.is_Mul else (term,)):
        base = factor.base if factor.is_Pow else factor
        if isinstance(base, sympy.Symbol):
            parsed = entry_indices(base)
            entries.append(parsed if parsed else (base.name, 0, 0))
        elif not factor.is_Number:
            entries.extend((symbol.name, 0, 0) for symbol in sorted(factor.free_symbols, key=str))
    return (sorted(entries), str(term))


class TextPrinter(StrPrinter):
    """Plain text for summaries and JSON, in the expression language's notation:
    ``G @ W.T``, ``delta_pi*W_jq``."""

    # StrPrinter would first ask each object for its own _sympystr (Indexed has
    # one, printing W[j, q]); a name no object defines makes the methods below win.
    printmethod = "_symderive_text"

    def _print_MatMul(self, expr) -> str:
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)]
        parts = [self.parenthesize(a, PRECEDENCE["Mul"]) for a in matrices]
        text = " @ ".join(parts)
        return "*".join([self._print(s) for s in scalars] + [text]) if scalars else text

    def _print_Transpose(self, expr) -> str:
        return "%s.T" % self.parenthesize(expr.arg, PRECEDENCE["Atom"], strict=True)

    def _print_KroneckerDelta(self, expr) -> str:
        return "delta_%s" % "".join(self._print(a) for a in expr.args)

    def _print_Indexed(self, expr) -> str:
        return "%s_%s" % (expr.base, "".join(self._print(k) for k in expr.indices))


def plain_text(expr: sympy.Basic) -> str:
    """``expr`` as one line of plain text."""
    return TextPrinter().doprint(expr)


_ELEMENTWISE_TEX = {"exp": r"\exp", "log": r"\log", "tanh": r"\tanh", "sigmoid": r"\sigma",
                   "sin": r"\sin", "cos": r"\cos"}


def name_tex(name: str, bold: bool = True) -> str:
    """A matrix name in LaTeX: ``W1`` as W_1, underscores escaped, bold if asked."""
    letters, digits = re.fullmatch(r"(.*?)(\d*)", name).groups()
    if not letters:
        letters, digits = name, ""
    body = letters.replace("_", r"\_")
    body = r"\mathbf{%s}" % body if bold else body
    return f"{body}_{{{digits}}}" if digits else body


def entry_base_tex(name: str) -> str:
    """A name ready to take an index subscript: ``X``, or ``W^{(1)}`` for a name
    ending in a number, whose entries W^{(1)}_{11} would read as W_{111} with the
    number as a subscript too."""
    if name.isalpha():
        return name
    letters, digits = re.fullmatch(r"(.*?)(\d*)", name).groups()
    if letters and digits:
        return "%s^{(%s)}" % (name_tex(letters, bold=False), digits)
    return "{%s}" % name_tex(name, bold=False)


def transposed_entry_base_tex(name: str) -> str:
    """The transpose of a name, ready for a parenthesis and an index: ``W^{\top}``,
    ``W^{(1)\top}``."""
    base = entry_base_tex(name)
    if base.endswith(")}"):
        return base[:-1] + r"\top}"
    return r"%s^{\top}" % name_tex(name, bold=False)


class ExprPrinter:
    r"""Expressions of the language (closed forms, claims) in the note's notation.

    Products are juxtaposed, the entrywise product is \odot, entrywise powers
    carry a circle (A^{\circ 2}), functions apply entry by entry, the upstream
    gradient is df/dY.  Parentheses follow the same binding rules as ``str``.
    """

    def __init__(self, upstream: str | None, output: str, upstream_fraction: bool = True,
                 bold: bool = True) -> None:
        self.upstream, self.output, self.fraction, self.bold = upstream, output, upstream_fraction, bold

    named: dict = {}  # sub-expressions printed by a name (set by broken_lines)
    exempt = None  # ... except this one, whose definition is being printed

    def __call__(self, node) -> str:
        from . import expr as E

        if self.named and node is not self.exempt and node in self.named:
            return self.named[node]

        def wrap(sub, bare: bool) -> str:
            return self(sub) if bare else r"\left(%s\right)" % self(sub)

        def base(sub, bare: bool) -> str:
            """A base of a superscript: one ending in a parenthesis goes in braces, as chktex asks."""
            text = wrap(sub, bare)
            return "{%s}" % text if text.endswith(r"\right)") else text

        if isinstance(node, E.Name):
            if node.name == self.upstream and self.fraction:
                return r"\frac{\partial f}{\partial %s}" % name_tex(self.output, self.bold)
            return name_tex(node.name, self.bold)
        if isinstance(node, E.Number):
            v = node.value
            if v.denominator == 1:
                return str(v.numerator)
            return ("-" if v < 0 else "") + r"\tfrac{%d}{%d}" % (abs(v.numerator), v.denominator)
        if isinstance(node, E.Constant):
            import sympy

            return sympy.latex(node.value)
        if isinstance(node, E.Identity):
            return r"I_{%s}" % node.size
        if isinstance(node, E.Ones):
            return r"\mathbf{1}_{%s \times %s}" % (node.rows, node.cols)
        if isinstance(node, (E.Add, E.Sub)):
            symbol = "+" if isinstance(node, E.Add) else "-"
            right = wrap(node.right, not isinstance(node.right, (E.Add, E.Sub, E.Neg)))
            return f"{self(node.left)} {symbol} {right}"
        if isinstance(node, (E.MatMul, E.Hadamard)):
            def operand(sub):
                loose = isinstance(sub, (E.Add, E.Sub, E.Neg, E.Div)) or (
                    isinstance(sub, (E.MatMul, E.Hadamard)) and type(sub) is not type(node)) or (
                    isinstance(sub, E.Number) and sub.value < 0)
                return wrap(sub, not loose)
            if isinstance(node, E.Hadamard) and isinstance(node.left, E.Number):
                # 2 \mathbf{1}_{2 \times 1} would read as 21: a visible \cdot before the ones
                joiner = r" \cdot " if isinstance(node.right, E.Ones) else " "
                return f"{operand(node.left)}{joiner}{operand(node.right)}"
            if isinstance(node, E.Hadamard) and isinstance(node.right, E.Number):
                return r"%s \cdot %s" % (operand(node.left), operand(node.right))  # a scaling, not an entrywise product
            symbol = " " if isinstance(node, E.MatMul) else r" \odot "
            return operand(node.left) + symbol + operand(node.right)
        if isinstance(node, E.Div) and not isinstance(node.right, (E.Number, E.Constant)):
            def side(sub):  # entrywise division: A \oslash B
                return wrap(sub, isinstance(sub, (E.Name, E.Call, E.Along, E.Transpose, E.Power, E.Constant)))
            return r"%s \oslash %s" % (side(node.left), side(node.right))
        if isinstance(node, E.Div):
            return r"\frac{1}{%s} %s" % (self(node.right), wrap(node.left, isinstance(
                node.left, (E.Name, E.Call, E.Along, E.Transpose, E.Power))))
        if isinstance(node, E.Neg):
            return "-" + wrap(node.operand, not isinstance(node.operand, (E.Add, E.Sub, E.Neg)))
        if isinstance(node, E.Power):
            exponent = self(E.Number(node.exponent))
            return r"%s^{\circ %s}" % (base(node.base, isinstance(node.base, (E.Name, E.Call))
                                            and not (isinstance(node.base, E.Call) and node.base.function == "inv")),
                                        exponent)
        if isinstance(node, E.Transpose):
            return r"%s^{\top}" % base(node.operand, isinstance(node.operand, (E.Name, E.Identity, E.Ones)))
        if isinstance(node, E.Along):
            group = r"\text{col}" if node.axis == 0 else r"\text{row}"
            return r"\operatorname{%s}_{%s}\left(%s\right)" % (
                node.function.replace("_", r"\_"), group, self(node.argument))
        if isinstance(node, E.Call):
            arg = self(node.argument)
            if node.function == "leaky_relu":
                return r"\operatorname{leaky}_{%s}\left(%s\right)" % (self(E.Number(node.parameter)), arg)
            if node.function == "norm":
                return r"\left\lVert %s \right\rVert_{F}" % arg
            if node.function in ("relu", "abs", "step", "sign", "mean", "softmax", "log_softmax", "logsumexp"):
                return r"\operatorname{%s}\left(%s\right)" % (node.function.replace("_", r"\_"), arg)
            if node.function in _ELEMENTWISE_TEX:
                return r"%s\left(%s\right)" % (_ELEMENTWISE_TEX[node.function], arg)
            if node.function == "sqrt":
                return r"\sqrt{%s}" % arg
            if node.function == "trace":
                return r"\operatorname{tr}\left(%s\right)" % arg
            if node.function == "sum":
                return r"\operatorname{sum}\left(%s\right)" % arg
            if node.function == "det":
                return r"\det\left(%s\right)" % arg
            if node.function == "adj":
                return r"\operatorname{adj}\left(%s\right)" % arg
            if node.function == "inv":
                return r"%s^{-1}" % base(node.argument, isinstance(node.argument, E.Name))
        raise TypeError(f"cannot print {type(node).__name__}")


class IndexPrinter:
    r"""Index-notation expressions (:mod:`symderive.index`) in the note's notation:
    X_{pr}, (W^\top)_{qj}, (G W^\top)_{ij}, \delta_{pi}, \sum_{r=1}^{m},
    \frac{\partial f}{\partial X_{ij}}."""

    def __init__(self, upstream: str | None = None, output: str | None = None, bold: bool = True) -> None:
        self.matrices = ExprPrinter(upstream, output or "Y", upstream_fraction=False, bold=bold)

    @staticmethod
    def indices(*atoms) -> str:
        texts = [str(a) for a in atoms]
        return ("" if all(len(t) == 1 for t in texts) else ",").join(texts)

    def entry(self, node) -> str:
        from . import expr as E

        index = self.indices(node.row, node.col)
        matrix = node.matrix
        if isinstance(matrix, E.Name):
            return "%s_{%s}" % (entry_base_tex(matrix.name), index)
        if isinstance(matrix, E.Transpose) and isinstance(matrix.operand, E.Name):
            # braces round the parenthesis before a sub- or superscript: chktex asks for them
            return r"{(%s)}_{%s}" % (transposed_entry_base_tex(matrix.operand.name), index)
        return r"{\left(%s\right)}_{%s}" % (self.matrices(matrix), index)

    def __call__(self, node, level: int = 0) -> str:
        from . import index as I

        def wrap(text: str, needed: bool) -> str:
            return r"\left(%s\right)" % text if needed else text

        if isinstance(node, I.Num):
            v = node.value
            return str(v.numerator) if v.denominator == 1 else r"\tfrac{%d}{%d}" % (v.numerator, v.denominator)
        if isinstance(node, I.Scalar):
            return node.name
        if isinstance(node, I.Entry):
            return self.entry(node)
        if isinstance(node, I.Delta):
            return r"\delta_{%s}" % self.indices(node.a, node.b)
        if isinstance(node, I.Sum):
            text = r"\sum_{%s=%s}^{%s} %s" % (node.var, node.lower, node.upper, self(node.body, 1))
            return wrap(text, level >= 2)
        if isinstance(node, I.Plus):
            parts = [self(node.terms[0], 0)]
            for term in node.terms[1:]:
                if isinstance(term, I.Neg):
                    parts.append("- " + self(term.operand, 1))
                else:
                    parts.append("+ " + self(term, 0))
            return wrap(" ".join(parts), level >= 1)
        if isinstance(node, I.Times):
            factors = [self(f, 2 if k < len(node.factors) - 1 else 1) for k, f in enumerate(node.factors)]
            return wrap(r" \, ".join(factors), level >= 2)
        if isinstance(node, I.Neg):
            return wrap("-" + self(node.operand, 2), level >= 1)
        if isinstance(node, I.Derivative):
            of = node.of
            top = self(of, 0) if isinstance(of, (I.Scalar, I.Entry)) else None
            if top is not None:
                return r"\frac{\partial %s}{\partial %s}" % (top, self.entry(node.wrt))
            return r"\frac{\partial}{\partial %s} %s" % (self.entry(node.wrt), wrap(self(of, 0), True))
        raise TypeError(f"cannot print {type(node).__name__}")


def proof_data(report, printer: IndexPrinter | None = None, bold: bool = True) -> dict[str, Any]:
    """A checked derivation (prove.ProofReport) as data for the templates."""
    decl = report.derivation.declarations
    upstream, output = decl.upstream or (None, None)
    printer = printer or IndexPrinter(upstream, output, bold)
    steps = report.derivation.steps
    return {
        "title": report.derivation.title,
        "first": printer(steps[0].expression) if steps else "",
        "steps": [{
            "number": verdict.number,
            "tex": printer(verdict.after.expression),
            "rule": verdict.rule,
            "verdict": verdict.verdict,
            "verdict_text": verdict.verdict_text,
            "proven": verdict.verdict == "proven for all sizes",
            "false": verdict.verdict == "false",
            "side_conditions": verdict.side_conditions,
            "instances": verdict.instances,
        } for verdict in report.steps],
        "ranges": [{"index": name, "lower": lo, "upper": hi} for name, (lo, hi) in decl.ranges.items()],
        "proven": report.proven,
        "error": report.error,
        "k": report.k,
        **_coverage_data(report.coverage),
    }


def _coverage_data(coverage) -> dict[str, Any]:
    """What the concrete witness of a proof compared, for the template's sentence."""
    if coverage is None:
        return {"coverage_complete": False, "sizes_checked": 0, "sizes_total": 0,
                "points_checked": 0, "points_total": 0}
    return {"coverage_complete": coverage.complete, "sizes_checked": coverage.sizes_checked,
            "sizes_total": coverage.sizes_total, "points_checked": f"{coverage.points_checked:,}",
            "points_total": f"{coverage.points_total:,}"}


# ---------------------------------------------------------------------------
# Data for the templates
# ---------------------------------------------------------------------------


UPSTREAM_NOTATIONS = ("fraction", "short")


@dataclass(frozen=True)
class Notation:
    r"""What a lecturer can choose of the notation; the defaults are the note's.

    ``upstream``: "fraction" writes the upstream gradient as
    \frac{\partial f}{\partial \mathbf{Y}} in closed forms, as the note does;
    "short" writes its short name (G), introduced once.  ``bold``: matrix names
    in bold (\mathbf{X}, the note's) or plain.  ``title``: a title of the
    user's own, plain text (escaped for LaTeX), instead of the generated one.
    Indices are 1-based, as in the note, always.
    """

    upstream: str = "fraction"
    bold: bool = True
    title: str | None = None

    def __post_init__(self) -> None:
        if self.upstream not in UPSTREAM_NOTATIONS:
            raise ValueError(f"upstream notation must be one of {', '.join(UPSTREAM_NOTATIONS)}, "
                             f"not {self.upstream!r}")
        if not isinstance(self.bold, bool):
            raise ValueError(f"bold must be True or False, not {self.bold!r}")
        if self.title is not None and not isinstance(self.title, str):
            raise ValueError(f"title must be text, not {type(self.title).__name__}")
        for ch in self.title or "":
            if not _typesettable(ch):
                raise ValueError(f"title: the character {ch!r} (U+{ord(ch):04X}) cannot be typeset by "
                                 f"pdflatex with its default fonts; write it another way")


# Characters of Latin-1 and Latin Extended-A that pdflatex's default (OT1)
# fonts cannot typeset, measured one by one with pdflatex: guillemets, eth,
# thorn, ogoneks, barred and other letters the OT1 encoding lacks.
_UNTYPESETTABLE = frozenset(chr(c) for c in (
    0xAB, 0xBB, 0xD0, 0xDE, 0xF0, 0xFE, 0x104, 0x105, 0x110, 0x111, 0x118, 0x119, 0x126, 0x127,
    0x12E, 0x12F, 0x138, 0x13F, 0x140, 0x149, 0x14A, 0x14B, 0x166, 0x167, 0x172, 0x173, 0x17F))


def _typesettable(ch: str) -> bool:
    """Whether a character of a user's title can go into the document: printable
    ASCII, control characters (escaped as spaces), or a Latin letter pdflatex has."""
    code = ord(ch)
    return code < 0x7F or (0xA0 <= code < 0x180 and ch not in _UNTYPESETTABLE)


@dataclass(frozen=True)
class Cell:
    """One cell of a displayed matrix: printed maths, or a run of dots."""

    tex: str = ""
    dots: str = ""  # "", "h" (cdots), "v" (vdots) or "d" (ddots)


def _kept(count: int, limit: int) -> list[int | None]:
    """Which of ``count`` positions to show: all, or the first and last few with None between."""
    if count <= limit:
        return list(range(count))
    if limit < 3:  # the first, then dots
        return [0, None]
    head = limit - 2
    return list(range(head)) + [None] + [count - 1]


def matrix_cells(matrix: sympy.MatrixBase, printer: MathPrinter | None,
                 max_rows: int = MAX_MATRIX_ROWS, max_cols: int = MAX_MATRIX_COLS) -> list[list[Cell]]:
    """The cells of ``matrix``, its middle rows and columns elided past the bounds
    (with no printer, its entries are printed already)."""
    rows = []
    for i in _kept(matrix.rows, max_rows):
        row = []
        for j in _kept(matrix.cols, max_cols):
            if i is None and j is None:
                row.append(Cell(dots="d"))
            elif i is None:
                row.append(Cell(dots="v"))
            elif j is None:
                row.append(Cell(dots="h"))
            else:
                row.append(Cell(matrix[i, j] if printer is None else printer.doprint(to_sympy(matrix[i, j]))))
        rows.append(row)
    return rows


def _shown_matrix(name_tex: str, matrix, printer: MathPrinter) -> dict[str, Any]:
    sums = any(getattr(matrix[i, j], "is_Add", False)
               for i in range(min(matrix.rows, 2)) for j in range(min(matrix.cols, 2)))
    max_cols = MAX_SUM_MATRIX_COLS if sums else MAX_MATRIX_COLS
    cells = matrix_cells(matrix, printer, MAX_MATRIX_ROWS, max_cols)
    return {
        "name": name_tex,
        "rows": matrix.rows,
        "cols": matrix.cols,
        "cells": cells,
        "elided": matrix.rows > MAX_MATRIX_ROWS or matrix.cols > max_cols,
        # the layouts to try in turn: all the columns kept, then fewer (the first
        # and last), then the first alone; the template takes the first that fits
        "layouts": [cells] + _narrower(matrix, printer, MAX_MATRIX_ROWS, max_cols),
    }


def _narrower(matrix, printer: MathPrinter, max_rows: int, max_cols: int) -> list[list[list[Cell]]]:
    """``matrix``'s cells with fewer columns than ``max_cols``, narrowest last: what
    a wide matrix falls back to rather than being shrunk below legibility."""
    return [matrix_cells(matrix, printer, max_rows, limit)
            for limit in NARROWER_COLUMNS if limit < min(matrix.cols, max_cols)]


def _entry_tex(printer: MathPrinter, base: str, i: int, j: int, separate: bool) -> str:
    return printer._entry(base, f"{i},{j}" if separate else f"{i}{j}")


class _Slice:
    """The slice dY_pq/dA of a Jacobian, read entry by entry: printing a corner of
    a 64 x 64 slice needs only the entries shown."""

    def __init__(self, jac, p: int, q: int) -> None:
        self.jac, self.p, self.q = jac, p, q
        self.rows, self.cols = jac.shape[2], jac.shape[3]

    def __getitem__(self, key):
        i, j = key
        return self.jac.entries.get((self.p, self.q, i, j), 0)


def _jacobian_view(derivation, name: str, printer: MathPrinter, plain: MathPrinter) -> dict[str, Any]:
    """The tensor dY/dA: whole as a matrix of matrices when small, else one slice."""
    jac = derivation.jacobians[name]
    P, Q, I, J = jac.shape
    out = derivation.output_name
    sep_out, sep_in = separates_indices(P, Q), separates_indices(I, J)
    whole = P * I <= TENSOR_MAX_ROWS and Q * J <= TENSOR_MAX_COLS
    blocks = None
    if whole:
        blocks = [[matrix_cells(jac.block(p, q), printer, I, J) for q in range(Q)] for p in range(P)]
        # written whole only when it can be read: a line holds about TENSOR_MAX_WIDTH
        # characters of maths; a wider tensor is shown by its first slice alone
        columns = [max(_display_width(blocks[p][q][i][j].tex) for p in range(P) for i in range(I)) + 2
                   for q in range(Q) for j in range(J)]
        if sum(columns) + 2 * Q > TENSOR_MAX_WIDTH:
            blocks = None
    # the first slice dY_11/dA, written with the note's fractions and then by value
    variables = None
    if I <= MAX_MATRIX_ROWS and J <= MAX_MATRIX_COLS:
        variables = [[Cell(_entry_tex(plain, name, i + 1, j + 1, sep_in)) for j in range(J)]
                     for i in range(I)]
    return {
        "shape": jac.shape,
        "nonzero": jac.nnz,
        "entries": jac.size,
        "whole": blocks,
        "first_entry": _entry_tex(plain, out, 1, 1, sep_out),
        "slice_variables": variables,
        "slice_values": matrix_cells(_Slice(jac, 0, 0), printer),
        # how the slice is set: on one line; its two matrices on two lines; then
        # with fewer columns (the template takes the first layout that fits)
        "slice_layouts": _slice_layouts(jac, printer, plain, name, sep_in, variables is not None),
    }


def _slice_layouts(jac, printer: MathPrinter, plain: MathPrinter, name: str, sep_in: bool,
                   with_variables: bool) -> list[dict[str, Any]]:
    _, _, I, J = jac.shape
    values = _Slice(jac, 0, 0)
    variables = _Variables(plain, name, sep_in, I, J)
    layouts = [{"variables": matrix_cells(variables, None, I, J) if with_variables else None,
                "cells": matrix_cells(values, printer), "stacked": False, "elided": False}]
    if with_variables:
        layouts.append(dict(layouts[0], stacked=True))
    for limit in NARROWER_COLUMNS:
        if limit < min(J, MAX_MATRIX_COLS):
            layouts.append({"variables": matrix_cells(variables, None, I, limit) if with_variables else None,
                            "cells": matrix_cells(values, printer, MAX_MATRIX_ROWS, limit),
                            "stacked": with_variables, "elided": True})
    return layouts


class _Variables:
    """The entries A_ij of a matrix, as printed names (for matrix_cells with no printer)."""

    def __init__(self, plain: MathPrinter, name: str, separate: bool, rows: int, cols: int) -> None:
        self.plain, self.name, self.separate, self.rows, self.cols = plain, name, separate, rows, cols

    def __getitem__(self, key):
        return _entry_tex(self.plain, self.name, key[0] + 1, key[1] + 1, self.separate)


def _visible_width(tex: str) -> int:
    """A rough count of the characters a piece of maths shows (commands and braces dropped)."""
    return len(re.sub(r"\\[a-zA-Z]+|[{}^_ ]", "", tex))


def _display_width(tex: str) -> int:
    """A rough width, in characters, of a piece of maths as set: the visible characters,
    and a named function (\\tanh, \\exp) or a fraction as a few more."""
    named = len(re.findall(r"\\(?:frac|dfrac|tanh|sinh|cosh|exp|log|sin|cos|sigma|operatorname)\b", tex))
    symbols = len(re.findall(r"\\(?!(?:left|right|mathbf|frac|dfrac|tfrac|text|operatorname|begin|end)\b)[a-zA-Z]+", tex))
    return _visible_width(tex) + 3 * named + symbols


LINE_BUDGET = 64  # characters of maths (as _display_width counts them) on one displayed line
SUB_NAMES = r"\mathbf{\Phi}_{%d}"  # the names given to sub-expressions of a long formula


def _terms(node) -> list[tuple[str, Any]]:
    """The terms of a sum, with their signs: a - (b + c) has the terms a and -(b + c)."""
    from . import expr as E

    if isinstance(node, (E.Add, E.Sub)):
        right_bare = not isinstance(node.right, (E.Add, E.Sub, E.Neg))
        return _terms(node.left) + [("+" if isinstance(node, E.Add) else "-", node.right, right_bare)]
    return [("", node, True)]


def broken_lines(printer: ExprPrinter, tree, budget: int = LINE_BUDGET, first: int = 1) -> dict[str, Any]:
    """``tree`` printed for reading: its terms in lines of about ``budget`` characters,
    and a term too long for a line with its largest sub-expressions that fit one named
    (Phi_1, Phi_2, ...) and defined after it.  What a person does with a formula wider
    than the page, instead of shrinking it below legibility."""
    from . import expr as E

    named: dict = {}
    definitions: list = []
    printer.named, printer.exempt = named, None
    try:
        def width(node) -> int:
            return _display_width(printer(node))

        for _ in range(12):
            wide = [t for _, t, _ in _terms(tree) if width(t) > budget]
            if not wide:
                break
            best, best_width = None, 0
            stack = list(wide[0].children())
            while stack:
                node = stack.pop()
                if node in named or isinstance(node, (E.Name, E.Number)):
                    continue
                w = width(node)
                if w <= budget:
                    if w > best_width:
                        best, best_width = node, w
                else:
                    stack.extend(node.children())
            if best is None or best_width < 8:
                break
            named[best] = SUB_NAMES % (len(definitions) + first)
            definitions.append(best)

        def text(sign: str, node, bare: bool) -> str:
            body = printer(node) if bare else r"\left(%s\right)" % printer(node)
            return f"{sign} {body}" if sign else body

        lines: list[str] = []
        used = budget + 1
        for sign, node, bare in _terms(tree):
            piece = text(sign, node, bare)
            w = _display_width(piece)
            if lines and used + w <= budget:
                lines[-1] += " " + piece
                used += w
            else:
                lines.append(piece)
                used = w
        where = []
        for node in definitions:
            printer.exempt = node
            where.append({"name": named[node], "tex": printer(node)})
        return {"lines": lines, "where": where}
    finally:
        printer.named, printer.exempt = {}, None


def _broken_all(printer: ExprPrinter, trees: list) -> list[dict[str, Any]]:
    """broken_lines of each of ``trees``, displayed together: their named
    sub-expressions numbered on from one to the next."""
    done, first = [], 1
    for tree in trees:
        done.append(None if tree is None else broken_lines(printer, tree, first=first))
        first += 0 if tree is None else len(done[-1]["where"])
    return done


def _with_gaps(keep: list[int], count: int) -> list[int | None]:
    """The positions ``keep`` of ``count``, in order, with None (dots) for each run left out."""
    out: list[int | None] = []
    previous = -1
    for k in keep:
        if k > previous + 1:
            out.append(None)
        out.append(k)
        previous = k
    if previous < count - 1:
        out.append(None)
    return out


def _lines(items: list, key: str, show, keep: list[int] | None = None) -> list[list[dict]]:
    """Items of a long sum: elided past MAX_CHAIN_TERMS, printed by ``show`` (only
    those kept), then broken into lines of about LINE_WIDTH visible characters,
    the first item marked."""
    shown = [dict(show(items[k]), first=False) if k is not None else {"dots": True, "first": False}
             for k in (_kept(len(items), MAX_CHAIN_TERMS) if keep is None else _with_gaps(keep, len(items)))]
    if shown:
        shown[0]["first"] = True
    lines: list[list[dict]] = [[]]
    used = 0
    for item in shown:
        width = 3 if item["dots"] else _visible_width(item[key])
        if lines[-1] and used + width > LINE_WIDTH:
            lines.append([])
            used = 0
        lines[-1].append(item)
        used += width
    return lines


def _chain_rule_view(derivation, name: str, printer: MathPrinter, plain: MathPrinter) -> dict[str, Any]:
    """df/dA_11 written term by term, the vanishing terms included."""
    from .chain_rule import VANISHES_ABSENT, chain_rule_entry

    jac = derivation.jacobians[name]
    P, Q, I, J = jac.shape
    entry = chain_rule_entry(jac, derivation.raw_upstream, 0, 0)
    sep_out, sep_in = separates_indices(P, Q), separates_indices(I, J)
    out = derivation.output_name
    variable = _entry_tex(plain, name, 1, 1, sep_in)

    def show(term) -> dict:
        """One term, printed: only the terms a reader will see are printed."""
        y = _entry_tex(plain, out, term.p + 1, term.q + 1, sep_out)
        shown = {
            "dots": False,
            "y": y,
            "upstream": printer.doprint(to_sympy(term.upstream)),
            "product": printer.doprint(to_sympy(term.upstream * term.local)),
            "vanishes": term.vanishes is not None,
            # a pair of fractions is about as wide as 14 characters
            "symbolic": "x" * 14,
        }
        shown["shown"] = shown["upstream"] + "0" if shown["vanishes"] else shown["product"]
        return shown

    terms = list(entry.terms)
    absent = sum(t.vanishes == VANISHES_ABSENT for t in entry.terms)
    kept = [t for t in terms if t.vanishes is None]
    # the sum as the note writes it, then by value, then without its vanishing
    # terms (only when some vanish: otherwise that line would repeat the one before)
    # by value, a sum too long to write out shows its nonzero terms and elides the vanishing ones
    nonzero = [k for k, t in enumerate(terms) if t.vanishes is None]
    if len(nonzero) > MAX_CHAIN_TERMS:
        nonzero = nonzero[:MAX_CHAIN_TERMS - 2] + nonzero[-1:]
    keep = nonzero if len(terms) > MAX_CHAIN_TERMS and nonzero else None
    groups = [(True, _lines(terms, "symbolic", show)), (False, _lines(terms, "shown", show, keep))]
    if len(kept) < len(terms):
        groups.append((False, _lines(kept, "shown", show)))
    rows = []
    for symbolic, lines in groups:
        for k, line in enumerate(lines):
            if line:
                rows.append({"opens": k == 0, "symbolic": symbolic, "terms": line, "zero": False})
    if not kept:  # every term vanishes (or there are none): the sum is 0
        rows.append({"opens": True, "symbolic": False, "terms": [], "zero": True})
    return {
        "entry": variable,
        "P": P, "Q": Q,
        "rows": rows,
        "count": len(terms),
        "vanishing_absent": absent,
        "vanishing_derivative": entry.vanishing - absent,
    }


def _contraction_view(derivation, name: str, plain: MathPrinter, bold: bool) -> dict[str, Any] | None:
    """The note's steps at the chosen entry A_11, at the sizes chosen: of the chain-rule
    sum only the terms with one index fixed survive (the delta contraction); each
    survivor's local derivative is an entry of another input, written as an entry of
    its transpose when its indices run the other way; and the sum is then recognised
    as entry (1,1) of a product.  None when the entry's sum has no such shape (any
    expression but a product of two matrices, or a survivor that is not one entry)."""
    from .chain_rule import chain_rule_entry

    jac = derivation.jacobians[name]
    P, Q, I, J = jac.shape
    terms = [t for t in chain_rule_entry(jac, derivation.raw_upstream, 0, 0).terms if t.vanishes is None]
    if len(terms) < 2 or derivation.upstream_name is None:
        return None
    where = {}  # entry symbol -> (matrix, row, column)
    for other, matrix in derivation.raw_inputs.items():
        if other != name:
            for r in range(matrix.rows):
                for c in range(matrix.cols):
                    where[str(matrix[r, c])] = (other, r, c)
    found = [where.get(str(to_sympy(t.local))) for t in terms]
    if None in found or len({f[0] for f in found}) != 1:
        return None
    other = found[0][0]
    if len({t.p for t in terms}) == 1 and [t.q for t in terms] == list(range(Q)):
        free, fixed, fixed_value, upper = "q", "p", terms[0].p, Q
        steps = [t.q for t in terms]
    elif len({t.q for t in terms}) == 1 and [t.p for t in terms] == list(range(P)):
        free, fixed, fixed_value, upper = "p", "q", terms[0].q, P
        steps = [t.p for t in terms]
    else:
        return None
    rows, cols = [f[1] for f in found], [f[2] for f in found]
    # the local derivative M_{a k} (k the free index) or M_{k b}
    if len(set(rows)) == 1 and cols == steps:
        local_fixed, local_free_first = rows[0], False
    elif len(set(cols)) == 1 and rows == steps:
        local_fixed, local_free_first = cols[0], True
    else:
        return None
    # the upstream entry G_{i k} (free = q) or G_{k j} (free = p); the sum is a product
    # when the free index is summed between neighbours: G_{ik} M_{kb} or M_{ak} G_{kj}
    transposed = (free == "q") != local_free_first
    sep_out = separates_indices(P, Q)
    sep_other = separates_indices(*derivation.shapes[other])
    join = (lambda a, b, sep: f"{a},{b}" if sep else f"{a}{b}")
    fixed_text, local_text = str(fixed_value + 1), str(local_fixed + 1)
    up_index = join(fixed_text, free, sep_out) if free == "q" else join(free, fixed_text, sep_out)
    local_index = join(free, local_text, sep_other) if local_free_first else join(local_text, free, sep_other)
    product_index = join(free, local_text, sep_other) if free == "q" else join(local_text, free, sep_other)
    result = (fixed_text, local_text) if free == "q" else (local_text, fixed_text)
    return {
        "entry": _entry_tex(plain, name, 1, 1, separates_indices(I, J)),
        "free": free, "fixed": fixed, "fixed_value": fixed_value + 1, "upper": upper,
        "output_entry": "%s_{%s}" % (entry_base_tex(derivation.output_name), up_index),
        "local": "%s_{%s}" % (entry_base_tex(other), local_index),
        "matrix": name_tex(other, bold),
        "transposed": transposed,
        "product_index": product_index,      # the other matrix's entry as the product reads it
        "upstream_first": free == "q",       # G M (free q) or M G (free p)
        "result_index": join(*result, separates_indices(I, J)),
    }


def document_data(derivation, notation: Notation | None = None) -> dict[str, Any]:
    """Everything the document template needs, printed and elided."""
    notation = notation or Notation()
    bold = notation.bold

    def matrix_name(name: str) -> str:
        return name_tex(name, bold)

    # in products, the upstream gradient's entries first, then the matrices in the expression's order
    factor_order = tuple(([derivation.upstream_name] if derivation.upstream_name else [])
                         + [str(name) for name in derivation.shapes])
    names = {"upstream": derivation.upstream_name, "output": derivation.output_name, "bold": bold,
             "factor_order": factor_order}
    plain = MathPrinter({**names})
    # entries of matrices and terms of sums: elided, and never wider than MAX_ENTRY_WIDTH
    printer = MathPrinter({**names, "max_terms": MAX_SUM_TERMS, "max_width": MAX_ENTRY_WIDTH})
    fraction = notation.upstream == "fraction"
    display = ExprPrinter(derivation.upstream_name, derivation.output_name, fraction, bold)
    short = ExprPrinter(derivation.upstream_name, derivation.output_name, False, bold)
    identities = {(identity.kind, identity.wrt): identity for identity in derivation.identities}
    inputs = []
    for name in derivation.jacobians:
        jacobian_identity = identities.get(("jacobian", name))
        inputs.append({
            "name": name,
            "tex": matrix_name(name),
            "entry": entry_base_tex(name),
            "shape": derivation.shapes[name],
            "jacobian": _jacobian_view(derivation, name, printer, plain),
            "jacobian_formula": None if jacobian_identity is None else {
                "tex": plain.doprint(jacobian_identity.claim),
                "holds": jacobian_identity.holds,
                "checked": jacobian_identity.verdict.checked,
            },
            "chain_rule": _chain_rule_view(derivation, name, printer, plain),
            "contraction": _contraction_view(derivation, name, plain, bold),
            "gradient": _shown_matrix(r"\frac{\partial f}{\partial %s}" % matrix_name(name),
                                      derivation.raw_gradients[name], printer),
            "closed_form": display(derivation.closed_form_trees[name]),
            "closed_form_lines": broken_lines(display, derivation.closed_form_trees[name]),
            "closed_form_short": short(derivation.closed_form_trees[name]),
            "verdict": _verdict_view(identities[("gradient", name)]),
        })
    def operand(node) -> str:
        return display(node) if getattr(node, "name", None) else r"\left(%s\right)" % display(node)

    steps = [{
        "argument": operand(step.argument),
        "node": operand(step.node),
        "operation": step.rule.operation,
        "upstream": display(step.upstream),
        "result": display(step.result),
        "result_lines": broken_lines(display, step.result),
    } for step in derivation.rule_steps]
    # a scalar-valued output (a loss, L) in italics, as a lecturer writes a scalar
    output = name_tex(derivation.output_name, bold and derivation.upstream_name is not None)
    return {
        "expression": display(derivation.expression),
        "sizes": derivation.sizes,
        "shapes": [{"tex": matrix_name(n), "rows": r, "cols": c} for n, (r, c) in derivation.shapes.items()],
        "defaulted": [matrix_name(n) for n in derivation.defaulted],
        "output": output,
        "output_entry": entry_base_tex(derivation.output_name),
        "output_shape": derivation.output_shape,
        "scalar": derivation.upstream_name is None,
        "upstream_entry": None if derivation.upstream_name is None else entry_base_tex(derivation.upstream_name),
        "matrices": [_shown_matrix(matrix_name(name), m, plain) for name, m in derivation.raw_inputs.items()]
                    + [_shown_matrix(output, derivation.raw_output, printer)],
        "upstream": None if derivation.upstream_name is None else _shown_matrix(
            (r"\frac{\partial f}{\partial %s}" % output if fraction else
             r"%s = \frac{\partial f}{\partial %s}" % (matrix_name(derivation.upstream_name), output)),
            derivation.raw_upstream, plain),
        "upstream_short": None if fraction or derivation.upstream_name is None
                          else matrix_name(derivation.upstream_name),
        "title": notation.title,
        "label": "symderive-" + output_stem(derivation),
        "inputs": inputs,
        "steps": steps,
        # the walk through the rules is worth showing when some argument is not a name
        "composite": any(not getattr(child, "name", None) for child in derivation.expression.children()),
        "identities": [_identity_row(identity, plain, display, derivation, bold)
                       for identity in derivation.identities],
        "verified": derivation.verified,
        "status": derivation.status,
        "general": [proof_data(report, bold=bold) for report in derivation.general_proofs.values()],
        "general_proven": derivation.proven_for_all_sizes,
    }


def _verdict_view(identity) -> dict[str, Any]:
    verdict = identity.verdict
    found = verdict.counterexample
    return {
        "holds": identity.holds,
        "status": identity.status,  # verified, refuted or undecided
        "exact": verdict.holds,
        "checked": verdict.checked,
        "witness": None if identity.witness is None else identity.witness.agrees,
        "counterexample": None if found is None else {"index": found.index, "decided": found.decided},
        "reason": verdict.reason,
    }


def _identity_row(identity, printer: MathPrinter, display: ExprPrinter, derivation,
                  bold: bool) -> dict[str, Any]:
    out = entry_base_tex(derivation.output_name)
    if identity.kind == "jacobian":
        lhs = r"\frac{\partial %s_{pq}}{\partial %s_{ij}}" % (out, entry_base_tex(identity.wrt))
        rhs = printer.doprint(identity.claim)
        lines = {"lines": [rhs], "where": []}
    else:
        lhs = r"\frac{\partial f}{\partial %s}" % name_tex(identity.wrt, bold)
        rhs = display(identity.claim)
        # a table's cell holds about half a line
        lines = broken_lines(display, identity.claim, budget=LINE_BUDGET // 3)
        lines["lines"] = lines["lines"] if not lines["where"] else [rhs]  # a cell names nothing
    return {"kind": identity.kind, "lhs": lhs, "rhs": rhs, "rhs_lines": lines, "verdict": _verdict_view(identity)}


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
    "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
}


def escape_latex(text: object) -> str:
    """Plain text made safe for LaTeX: each special character stands for itself."""
    # control characters (a tab, a newline, a NUL) would end a line or a
    # comment early, or stop the engine: each becomes a space
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else _LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def prose_latex(text: object) -> str:
    """One of symderive's own messages (a check's method, a verdict) as LaTeX text:
    escaped, with a size such as 4x5 written 4 \\times 5 and a spaced minus as a
    minus sign, as chktex asks."""
    out = escape_latex(text)
    out = re.sub(r"\b\d+(?:x\d+)+\b", lambda found: "$%s$" % found.group().replace("x", r" \times "), out)
    return out.replace(" - ", " $-$ ")


# Markdown: characters that would start emphasis, code, a heading, a link, an
# HTML tag, a table cell or maths in a Markdown page, each escaped with a
# backslash to stand for itself (text from the templates never starts a line
# with data, so the list markers - + 1. need no escape).
_MARKDOWN_SPECIALS = frozenset("\\`*_[]<>#|$~")


def escape_markdown(text: object) -> str:
    """Plain text made safe for Markdown (CommonMark, MyST, Pandoc, Python-Markdown):
    each special character escaped, control characters as spaces."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ("\\" + ch if ch in _MARKDOWN_SPECIALS else ch)
                   for ch in str(text))


def prose_markdown(text: object) -> str:
    """One of symderive's own messages as Markdown text, as :func:`prose_latex`
    does for LaTeX: escaped, with a size such as 4x5 written $4 \\times 5$."""
    out = escape_markdown(text)
    return re.sub(r"\b\d+(?:x\d+)+\b", lambda found: "$%s$" % found.group().replace("x", r" \times "), out)


def template_dir() -> Path:
    """Where the templates are: the source checkout's templates/, else the installed package's.

    A source checkout (the package imported from a folder that also holds
    pyproject.toml and templates/) uses its own templates/ first.  Asking
    importlib for ``symderive.templates`` there can answer with another
    checkout's folder: an editable install maps that name to the templates of
    whichever checkout was installed, not of the one imported.  An installed
    wheel has no such sibling folder and carries the templates as the package
    data ``symderive/templates`` (pyproject.toml's package-dir mapping).
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "templates" / "document.tex.j2").is_file():
        return checkout / "templates"
    try:
        packaged = resources.files("symderive.templates")
        if packaged.joinpath("document.tex.j2").is_file():
            return Path(str(packaged))
    except ModuleNotFoundError:
        pass
    return checkout / "templates"


def environment() -> jinja2.Environment:
    """A jinja2 environment whose delimiters cannot clash with LaTeX.

    ``{% %}`` and ``{{ }}`` occur in ordinary LaTeX (``{{x}}``), so, as nbconvert
    does, blocks are ``((* *))``, variables ``((( )))`` and comments ``((= =))``.
    StrictUndefined turns a missing variable into an error, not a blank.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # maths from the printer goes in raw; text goes through |e
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["e"] = escape_latex
    env.filters["prose"] = prose_latex
    env.filters["md"] = escape_markdown
    env.filters["mdprose"] = prose_markdown
    return env


def render_document(derivation, fragment: bool = False, notation: Notation | None = None) -> str:
    """The LaTeX of ``derivation``: a standalone document, or with ``fragment`` the
    same body without preamble, to be input into other notes."""
    template = environment().get_template("document.tex.j2")
    layout = "fragment.tex.j2" if fragment else "standalone.tex.j2"
    return template.render(layout=layout, **document_data(derivation, notation))


def render_forms(derivation, notation: Notation | None = None) -> tuple[str, str]:
    """The standalone document and the fragment, from one pass over the data."""
    data = document_data(derivation, notation)
    template = environment().get_template("document.tex.j2")
    return (template.render(layout="standalone.tex.j2", **data),
            template.render(layout="fragment.tex.j2", **data))


# The forms of a document (--format): LaTeX (the standalone document and its
# fragment), a beamer presentation, or a Markdown page with KaTeX/MathJax maths.
FORMATS = ("latex", "beamer", "markdown")
SLIDES_SUFFIX = "_slides"  # NAME_slides.tex: the beamer presentation beside NAME.tex
_FORM_TEMPLATES = {"beamer": ("beamer_%s.tex.j2", SLIDES_SUFFIX + ".tex"), "markdown": ("markdown_%s.md.j2", ".md")}


def _files(stem: str, kind: str, data: dict[str, Any], form: str) -> dict[str, str]:
    """File name -> text for one document in ``form``; the first file is the one to compile."""
    template_name = "document.tex.j2" if kind == "document" else kind + ".tex.j2"
    if form == "latex":
        template = environment().get_template(template_name)
        return {stem + ".tex": template.render(layout="standalone.tex.j2", **data),
                stem + "_fragment.tex": template.render(layout="fragment.tex.j2", **data)}
    if form not in _FORM_TEMPLATES:
        raise ValueError(f"unknown format {form!r}; expected one of {', '.join(FORMATS)}")
    pattern, suffix = _FORM_TEMPLATES[form]
    return {stem + suffix: environment().get_template(pattern % kind).render(**data)}


def document_files(derivation, notation: Notation | None = None, form: str = "latex") -> dict[str, str]:
    """An expression's document in ``form`` (one of FORMATS), file name -> text:
    for latex NAME.tex and NAME_fragment.tex (as render_forms), for beamer
    NAME_slides.tex, for markdown NAME.md; all from one document_data."""
    return _files(output_stem(derivation), "document", document_data(derivation, notation), form)


def render_check(result) -> str:
    """A CheckResult as maths only, for Jupyter's ``_repr_latex_``."""
    output = "Y"
    names = {result.upstream_name, result.wrt, *result.shapes}
    while output in names:  # the output's letter must not be one of the inputs'
        output += "'"
    display = ExprPrinter(result.upstream_name, output)
    found = result.verdict.counterexample
    # a 1x1 expression is differentiated directly: it is f itself
    output_tex = "f" if result.upstream_name is None else name_tex(output)
    return environment().get_template("check.tex.j2").render(
        output=output_tex, expression=display(result.expression), wrt=name_tex(result.wrt),
        claim=display(result.claim), holds=result.holds, status=result.status, for_all_sizes=result.for_all_sizes,
        counterexample=None if found is None else found.index,
        shapes=[{"tex": name_tex(n), "rows": r, "cols": c} for n, (r, c) in result.shapes.items()])


def render_notebook(derivation, notation: Notation | None = None) -> str:
    """A short summary in maths only (the closed forms and what was checked), for
    Jupyter's ``_repr_latex_``: notebooks render maths, not whole documents."""
    template = environment().get_template("notebook.tex.j2")
    return template.render(**document_data(derivation, notation))


# How operators appear in file names: "X @ W" is XW, "X * W" XoW, "X + b" Xpb.
_SLUG = (("**", "e"), ("@", ""), ("*", "o"), ("+", "p"), ("-", "m"), ("/", "d"), (".T", "T"))


def output_filename(derivation, fragment: bool = False) -> str:
    """A file name that shows the expression and the shapes, e.g. XW_X3x2_W2x4.tex,
    or XW_X3x2_W2x4_fragment.tex for the fragment (no second dot: LaTeX's \\input
    would take it for an extension)."""
    return output_stem(derivation) + ("_fragment" if fragment else "") + ".tex"


def output_stem(derivation) -> str:
    """The file name without ``.tex``: the expression and the shapes.

    Only letters, digits and underscores; a long expression is cut and given a
    short hash of its full text, so different expressions get different names.
    """
    import hashlib

    text = str(derivation.expression)
    slug = text
    for operator, letters in _SLUG:
        slug = slug.replace(operator, letters)
    slug = re.sub(r"[^A-Za-z0-9]+", "", slug)
    if len(slug) > 40:
        slug = slug[:32] + "_" + hashlib.sha256(text.encode()).hexdigest()[:8]
    shapes = "_".join(f"{name}{r}x{c}" for name, (r, c) in derivation.shapes.items())
    if len(shapes) > 80:
        shapes = shapes[:72] + "_" + hashlib.sha256(shapes.encode()).hexdigest()[:8]
    return f"{slug}_{shapes}"


class InterruptedAfterWriting(KeyboardInterrupt):
    """Ctrl-C that came while files were being renamed into place: all of them were."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` so that no reader ever sees half a file (see
    :func:`write_files`)."""
    write_files({Path(path): text})


def write_files(contents: dict[Path, str | bytes]) -> None:
    """Write each file so that no reader ever sees half of one, and all or none change.

    Every text first goes to a temporary file in its target's folder and is
    flushed to disk; only then are the temporaries renamed over the targets, one
    rename each, with Ctrl-C held back until the renames are done (an interrupt
    before that point changes no file).  A time limit running out during the
    renames (:mod:`symderive.budget`) is held back too, until they are done.  On
    any failure the temporaries are removed.
    """
    import signal
    import threading

    from . import budget

    temporaries: dict[Path, str] = {}
    try:
        for path, text in contents.items():
            path = Path(path)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temporaries[path] = temporary
            data = text.encode("utf-8") if isinstance(text, str) else text
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        interrupted = []
        hold = threading.current_thread() is threading.main_thread()
        if hold:
            previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        try:
            with budget.held():
                for path, temporary in list(temporaries.items()):
                    os.replace(temporary, path)
                    del temporaries[path]
        finally:
            if hold:
                signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise InterruptedAfterWriting(list(contents))
    finally:
        for temporary in temporaries.values():
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass


# ---------------------------------------------------------------------------
# Programs: the staged backward pass, as a lecturer writes it
# ---------------------------------------------------------------------------

_LAYERED = re.compile(r"([A-Za-z]+)(\d+)")  # W1, b2: letters, then a layer number


def size_tex(size) -> str:
    """A size in maths: 4, n, n_{1}, or a longer name in italics."""
    text = str(size)
    if text.isdigit() or len(text) == 1:
        return text
    layered = _LAYERED.fullmatch(text)
    if layered and len(layered.group(1)) == 1:
        return "%s_{%s}" % layered.groups()
    return r"\mathit{%s}" % text.replace("_", r"\_")


class ProgramPrinter(ExprPrinter):
    r"""A program's expressions in a lecturer's notation.

    A name with a layer number prints it as a superscript, \mathbf{W}^{(1)}
    (\mathbf{W}^{(1)\top} transposed); a 1 x 1 name, such as the loss, in
    italics; a gradient name of the backward pass (dZ) as
    \frac{\partial L}{\partial \mathbf{Z}}, or with ``inline`` as
    \partial L / \partial \mathbf{Z}, or, without ``fraction``, as
    \overline{\mathbf{Z}}.  Sizes of ones and eye may be names
    (\mathbf{1}_{1 \times n}).
    """

    def __init__(self, upstream: str | None = None, output: str = "Y", fraction: bool = True, bold: bool = True,
                 *, scalars=(), gradients: dict[str, str] | None = None, numerator: str = "f",
                 shown: dict[str, str] | None = None, inline: bool = False) -> None:
        super().__init__(upstream, output, fraction, bold)
        self.scalars = frozenset(scalars)
        self.gradients = dict(gradients or {})  # gradient name -> the name it is the gradient of
        self.numerator = numerator
        self.shown = dict(shown or {})  # a name printed as another (the nameless output of one expression)
        self.inline = inline

    def name(self, name: str, superscript: str | None = None) -> str:
        """A matrix name, with ``superscript`` (such as \\top) joined to its own."""
        bold = self.bold and name not in self.scalars
        name = self.shown.get(name, name)
        layered = _LAYERED.fullmatch(name)
        if layered:
            letters, digits = layered.groups()
            body = r"\mathbf{%s}" % letters if bold else letters
            return "%s^{(%s)%s}" % (body, digits, superscript or "")
        text = name_tex(name, bold)
        return text if superscript is None else "%s^{%s}" % (text, superscript)

    def partial(self, of: str) -> str:
        """The gradient of the loss (or of f) with respect to the matrix ``of``."""
        if not self.fraction:
            return r"\overline{%s}" % self.name(of)
        if self.inline:
            return r"\partial %s / \partial %s" % (self.numerator, self.name(of))
        return r"\frac{\partial %s}{\partial %s}" % (self.numerator, self.name(of))

    def _stands_for_gradient(self, name: str) -> bool:
        return name in self.gradients or (name == self.upstream and self.fraction)

    def _base(self, operand) -> str:
        """A name as the base of a superscript: a gradient in parentheses, a name
        that has a superscript already in braces."""
        text = self(operand)
        if text.startswith((r"\frac", r"\partial")):
            return r"{\left(%s\right)}" % text
        return "{%s}" % text if "^" in text else text

    def __call__(self, node) -> str:
        from . import expr as E

        if self.named and node is not self.exempt and node in self.named:
            return self.named[node]
        if isinstance(node, E.Name):
            if node.name in self.gradients:
                return self.partial(self.gradients[node.name])
            if node.name == self.upstream and self.fraction:
                return self.partial(self.output)
            return self.name(node.name)
        if isinstance(node, E.Transpose) and isinstance(node.operand, E.Name):
            operand = node.operand.name
            if not self._stands_for_gradient(operand) and _LAYERED.fullmatch(self.shown.get(operand, operand)):
                return self.name(operand, r"\top")
            return r"%s^{\top}" % self._base(node.operand)
        if isinstance(node, E.Power) and isinstance(node.base, E.Name):
            return r"%s^{\circ %s}" % (self._base(node.base), self(E.Number(node.exponent)))
        if isinstance(node, E.Call) and node.function == "inv" and isinstance(node.argument, E.Name):
            return r"%s^{-1}" % self._base(node.argument)
        if isinstance(node, E.Ones):
            return r"\mathbf{1}_{%s \times %s}" % (size_tex(node.rows), size_tex(node.cols))
        if isinstance(node, E.Identity):
            return r"I_{%s}" % size_tex(node.size)
        return super().__call__(node)


class ProgramIndexPrinter(IndexPrinter):
    """Index notation with a program's names (W^{(1)}_{ij}) and sizes that are names."""

    def __init__(self, matrices: ProgramPrinter) -> None:
        self.matrices = matrices

    def _entry_base(self, name: str) -> str:
        name = self.matrices.shown.get(name, name)
        layered = _LAYERED.fullmatch(name)
        return "%s^{(%s)}" % layered.groups() if layered else entry_base_tex(name)

    def entry(self, node) -> str:
        from . import expr as E

        index = self.indices(node.row, node.col)
        matrix = node.matrix
        if isinstance(matrix, E.Name):
            return "%s_{%s}" % (self._entry_base(matrix.name), index)
        if isinstance(matrix, E.Transpose) and isinstance(matrix.operand, E.Name):
            name = self.matrices.shown.get(matrix.operand.name, matrix.operand.name)
            layered = _LAYERED.fullmatch(name)
            text = ("%s^{(%s)\\top}" % layered.groups() if layered
                    else r"%s^{\top}" % name_tex(name, bold=False))
            return r"{(%s)}_{%s}" % (text, index)
        return r"{\left(%s\right)}_{%s}" % (self.matrices(matrix), index)

    def __call__(self, node, level: int = 0) -> str:
        from . import index as I

        if isinstance(node, I.Sum):
            text = r"\sum_{%s=%s}^{%s} %s" % (node.var, size_tex(node.lower), size_tex(node.upper),
                                               self(node.body, 1))
            return r"\left(%s\right)" % text if level >= 2 else text
        return super().__call__(node, level)


def _program_proof(report, printer: ProgramIndexPrinter, identity: str | None = None) -> dict[str, Any]:
    """proof_data with the sizes of ranges and side conditions printed as maths; a
    step whose rule is the table's ``identity`` (stated above it in maths) is marked."""
    data = proof_data(report, printer)
    data["ranges"] = [dict(r, lower=size_tex(r["lower"]), upper=size_tex(r["upper"])) for r in data["ranges"]]
    for step in data["steps"]:
        step["side_conditions"] = [tuple(size_tex(atom) for atom in c) for c in step["side_conditions"]]
        step["table_rule"] = bool(identity) and identity in step["rule"]
    return data


def _check_view(check) -> dict[str, Any] | None:
    if check is None:
        return None
    verdict = check.verdict
    found = verdict.counterexample
    return {"status": check.status, "checked": verdict.checked, "method": verdict.method,
            "reason": verdict.reason,
            "entry": None if found is None else ",".join(str(k) for k in found.index)}


def _number_text(value) -> str:
    return "" if value is None else f"{value:.15g}"


def program_data(derivation, notation: Notation | None = None) -> dict[str, Any]:
    """Everything program.tex.j2 needs, printed: the program, its backward pass
    step by step, the gradients, what was checked, the lemmas and the proofs."""
    from collections import Counter

    from . import expr as E
    from .errors import BadInput
    from .shapes import node_shapes

    notation = notation or Notation()
    bold, fraction = notation.bold, notation.upstream == "fraction"
    bp = derivation.backward
    program = bp.program  # with the arguments symderive named (U1 = X * 2), whose steps are shown
    output = program.output
    scalar = derivation.upstream_name is None
    names = list(program.inputs) + [name for name in program.step_names if name not in program.inputs]
    shown = {}
    if "" in names:  # a program of one expression: its output has no name of its own
        shown[""] = next(c for c in ("Y", "F", "Out", "Output", "Result") if c not in names)
    scalars = {name for name, shape in derivation.shapes.items() if tuple(shape) == (1, 1)}
    gradients = {gradient: name for name, gradient in bp.gradient_names.items()}
    plain = ProgramPrinter(derivation.upstream_name, output, fraction, bold, scalars=scalars, shown=shown)
    numerator = plain.name(output) if scalar else "f"
    options = dict(scalars=scalars, gradients=gradients, numerator=numerator, shown=shown)
    display = ProgramPrinter(derivation.upstream_name, output, fraction, bold, **options)
    inline = ProgramPrinter(derivation.upstream_name, output, fraction, bold, inline=True, **options)
    slash = ProgramPrinter(derivation.upstream_name, output, True, bold, inline=True, **options)

    def shape(name: str) -> tuple:
        return tuple(derivation.symbolic_shapes.get(name) or derivation.shapes[name])

    def shape_view(name: str) -> dict[str, Any]:
        rows, cols = shape(name)
        here = derivation.shapes[name]
        return {"rows": size_tex(rows), "cols": size_tex(cols), "rows_here": here[0], "cols_here": here[1],
                "scalar": tuple(here) == (1, 1)}

    # the sizes: those given, then those named here for matrices not declared
    values: dict[str, int] = {}
    for name in names:
        for dim, value in zip(derivation.symbolic_shapes.get(name, ()), derivation.shapes[name]):
            if isinstance(dim, str):
                values.setdefault(dim, value)
    given = [size for size in program.sizes if size in derivation.sizes]
    definitions = program.definitions()

    # NumPy broadcasting: a name of size 1 along an axis, stretched in + - * /
    stretched: dict[str, dict[str, Any]] = {}
    for step in program.steps:
        try:
            found = node_shapes(step.expression, {n: derivation.shapes[n] for n in E.names_in(step.expression)})
        except BadInput:
            continue
        for node in E.walk(step.expression):
            if isinstance(node, (E.Add, E.Sub, E.Hadamard, E.Div)):
                for child in (node.left, node.right):
                    if isinstance(child, E.Name) and found[child] != found[node] and child.name not in stretched:
                        rows = found[child][0] == 1 and found[node][0] > 1
                        cols = found[child][1] == 1 and found[node][1] > 1
                        stretched[child.name] = {"tex": display.name(child.name), **shape_view(child.name),
                                                 "along": "both" if rows and cols else "rows" if rows else "columns"}

    # the backward pass, grouped by the forward step it walks back through
    from .backward import symbolic_gradients

    symbolic_sums, symbolic_closed = symbolic_gradients(bp)
    checks = {(check.step, check.argument): check for check in derivation.local_checks}
    lemma_numbers = {id(lemma): k for k, lemma in enumerate(bp.lemmas, start=1)}
    parts = Counter(step.argument for step in bp.steps)
    seen: Counter = Counter()
    so_far: dict[str, list] = {}
    groups: list[dict[str, Any]] = []
    steps_flat = []
    for number, step in enumerate(bp.steps, start=1):
        if not groups or groups[-1]["step"] != step.step:
            upstream_is_name = isinstance(step.upstream, E.Name)
            groups.append({
                "step": step.step,
                "name": display.name(step.step),
                "definition": display(definitions[step.step]),
                "is_output": step.step == output,
                "upstream": display(step.upstream) if upstream_is_name else None,
                "upstream_inline": inline(step.upstream) if upstream_is_name else None,
                "steps": [],
            })
        seen[step.argument] += 1
        form = step.symbolic_contribution if step.symbolic_contribution is not None else step.contribution
        so_far.setdefault(step.argument, []).append(form)
        last_of_several = parts[step.argument] > 1 and seen[step.argument] == parts[step.argument]
        lemmas, listed = [], set()
        for lemma in step.lemmas:
            if id(lemma) not in listed:
                listed.add(id(lemma))
                lemmas.append({"number": lemma_numbers[id(lemma)], "name": lemma.name, "proven": lemma.proven})
        proof = None
        if step.proof is not None:
            up = step.proof.derivation.declarations.upstream
            matrices = ProgramPrinter(up[0] if up else None, step.step, False, bold, scalars=scalars, shown=shown)
            proof = _program_proof(step.proof, ProgramIndexPrinter(matrices))
            proof["upstream"] = matrices.name(up[0]) if up else None
        view = {
            "number": number,
            "step": step.step,
            "name": display.name(step.step),
            "argument": display.name(step.argument),
            "gradient": display.partial(step.argument),
            "gradient_inline": inline.partial(step.argument),
            "result": display(form),
            "result_here": display(step.contribution) if form != step.contribution else None,
            "part": seen[step.argument],
            "parts": parts[step.argument],
            "total": display(so_far[step.argument][0] if len(so_far[step.argument]) == 1 else
                             _sum_of(so_far[step.argument])) if last_of_several else None,
            "total_lines": broken_lines(display, so_far[step.argument][0] if len(so_far[step.argument]) == 1 else
                                        _sum_of(so_far[step.argument])) if last_of_several else None,
            "lemmas": lemmas,
            "check": _check_view(checks.get((step.step, step.argument))),
            "proven": step.proven,
            "proof": proof,
            "proof_error": step.proof_error,
            "unproven_lemmas": [entry["number"] for entry in lemmas if not entry["proven"]],
        }
        groups[-1]["steps"].append(view)
        steps_flat.append(view)

    closed, independent = [], []
    for name in program.inputs:
        if name not in bp.closed_forms:
            independent.append(display.name(name))
            continue
        concrete = bp.closed_forms[name]
        form = symbolic_closed.get(name, concrete)
        closed.append({"gradient": display.partial(name), "form": display(form),
                       "form_here": display(concrete) if form != concrete else None,
                       "form_tree": form, "form_here_tree": concrete if form != concrete else None})
    # the same, in lines that fit the page (long terms named), each display numbering on its names
    for key in ("form", "form_here"):
        for g, lines in zip(closed, _broken_all(display, [g.pop(key + "_tree") for g in closed])):
            g[key + "_lines"] = lines

    trees = ([step.expression for step in program.steps] + [step.contribution for step in bp.steps]
             + list(bp.closed_forms.values()))
    nodes = [node for tree in trees for node in E.walk(tree)]
    calls = {node.function for node in nodes if isinstance(node, E.Call)}
    example = next((n for n in program.step_names if n != output), None) or (program.inputs or [output])[0]
    # a 4th-rank tensor the staged pass never forms: d(step)/d(argument), both matrices
    tensor = next(((step.name, argument) for step in program.steps if tuple(derivation.shapes[step.name]) != (1, 1)
                   for argument in E.names_in(step.expression) if tuple(derivation.shapes[argument]) != (1, 1)),
                  None)
    lemma_printer = ProgramPrinter("G", "Y", False, bold)
    lemma_index = ProgramIndexPrinter(lemma_printer)
    witnesses = []
    for name, witness in derivation.witnesses.items():
        witnesses.append({"gradient": inline.partial(name), "agrees": witness.agrees, "method": witness.method,
                          "entry": None if witness.entry is None else ",".join(str(k) for k in witness.entry),
                          "numeric": _number_text(witness.numeric_value),
                          "claimed": _number_text(witness.claimed_value)})
    end_to_end = []
    for name, verdict in derivation.end_to_end.items():
        found = verdict.counterexample
        end_to_end.append({"gradient": inline.partial(name), "holds": verdict.holds, "method": verdict.method,
                           "status": "verified" if verdict.holds else "refuted" if found is not None and found.decided
                           else "undecided",
                           "entry": None if found is None else ",".join(str(k) for k in found.index),
                           "reason": verdict.reason})
    textbook = []
    for key, found in derivation.textbook.items():
        of = gradients.get(key, key)  # dZ -> Z; an input's closed form is under its own name
        textbook.append({"gradient": display.partial(of), "tidied": display(found.tidied),
                         "form": display(found.form), "status": found.status, "method": found.verdict.method,
                         "under": [display(a.left) + " = " + display(a.right) for a in found.used],
                         "proven": found.proven_for_all_sizes,
                         "changed": found.tidied != found.derived})
    from .domains import conditions

    domain = [{"subject": prose_latex(c.subject), "requirement": c.requirement, "reason": prose_latex(c.reason)}
              for c in conditions(*(step.expression for step in program.steps), *bp.closed_forms.values())]
    return {
        "title": notation.title,
        "program_scalars": [display(E.Constant(_scalar_value(name))) for name in derivation.program.scalars],
        "assumptions": [{"left": display(a.left), "right": display(a.right)}
                        for a in derivation.program.assumptions],
        "textbook": textbook,
        "domain": domain,
        "output": display.name(output),
        "output_shape": shape_view(output),
        "scalar": scalar,
        "numerator": numerator,
        "fraction": fraction,
        "upstream": None if scalar else display(E.Name(derivation.upstream_name)),
        "upstream_short": None if scalar or fraction else display.name(derivation.upstream_name),
        "upstream_slash": None if scalar else slash(E.Name(derivation.upstream_name)),
        "sizes": [{"tex": size_tex(size), "value": derivation.sizes[size]} for size in given],
        "named_sizes": [{"tex": size_tex(size), "value": value} for size, value in values.items()
                        if size not in derivation.sizes],
        "inputs": [{"tex": display.name(name), "declared": name in program.declared, **shape_view(name)}
                   for name in program.inputs],
        "defaulted": [display.name(name) for name in derivation.defaulted],
        "forward": [{"name": display.name(step.name), "expression": display(step.expression),
                     **shape_view(step.name)} for step in program.steps],
        "unused": [display.name(name) for name in program.step_names
                   if name != output and name not in bp.gradients],
        "stretched": list(stretched.values()),
        "uses": {
            "hadamard": any(isinstance(node, E.Hadamard) for node in nodes),
            "power": any(isinstance(node, E.Power) for node in nodes),
            "ones": any(isinstance(node, E.Ones) for node in nodes),
            "identity": any(isinstance(node, E.Identity) for node in nodes),
            "functions": [_ELEMENTWISE_TEX[f] for f in sorted(calls) if f in _ELEMENTWISE_TEX]
                         + ([r"\sqrt{\cdot}"] if "sqrt" in calls else []),
            "sum": "sum" in calls,
            "trace": "trace" in calls,
            "operations": _operation_notes(nodes),
        },
        "tensor": None if tensor is None else {"of": display.name(tensor[0]), "by": display.name(tensor[1])},
        "example": display.name(example),
        "example_entry": ProgramIndexPrinter(plain)._entry_base(example) + "_{ij}",
        "example_gradient": slash.partial(example),
        "example_short": None if fraction else display.partial(example),
        "groups": groups,
        "steps": steps_flat,
        "staged": [{"gradient": display.partial(name), "value": display(symbolic_sums.get(name, value)),
                    "value_lines": lines}
                   for (name, value), lines in zip(bp.gradients.items(), _broken_all(
                       display, [symbolic_sums.get(name, value) for name, value in bp.gradients.items()]))],
        "closed": closed,
        "independent": independent,
        "lemmas": [{
            "number": k,
            "name": lemma.name,
            "node": lemma_printer(lemma.node),
            "argument": lemma_printer(E.Name(lemma.argument)),
            "claim": lemma_printer(lemma.claim),
            "shapes": [{"tex": lemma_printer(E.Name(a)), "rows": size_tex(r), "cols": size_tex(c)}
                       for a, (r, c) in zip(("A", "B"), lemma.shapes)],
            "proven": lemma.proven,
            "verdict": lemma.verdict,
            "proof": _program_proof(lemma.report, lemma_index, lemma.rule.identity),
        } for k, lemma in enumerate(bp.lemmas, start=1)],
        "lemmas_proven": all(lemma.proven for lemma in bp.lemmas),
        "generic": {name: lemma_printer.name(name) for name in "ABGY"},  # the lemmas' own names
        "witnesses": witnesses,
        "end_to_end": end_to_end,
        "end_to_end_note": derivation.end_to_end_note,
        "proof_statement": derivation.proof_statement(),
        "proof_note": derivation.proof_note,
        "proven": derivation.proven_for_all_sizes,
        "status": derivation.status,
        "verified": derivation.verified,
    }


# what a lecturer says the first time each operation of issue #13 appears
_OPERATION_NOTES = {
    "relu": r"$\operatorname{relu}(x) = \max(x, 0)$",
    "leaky_relu": r"$\operatorname{leaky}_{c}(x)$ is $x$ for $x > 0$ and $c x$ for $x < 0$",
    "abs": r"$\operatorname{abs}(x) = \lvert x \rvert$",
    "step": r"$\operatorname{step}(x)$ is 1 where $x > 0$ and 0 where $x < 0$",
    "sign": r"$\operatorname{sign}(x)$ is 1 where $x > 0$ and $-1$ where $x < 0$",
    "norm": r"$\lVert \cdot \rVert_{F}$ is the Frobenius norm",
    "mean": r"$\operatorname{mean}$ averages all the entries",
    "logsumexp": r"$\operatorname{logsumexp}(z) = \log \sum_{k} e^{z_k}$",
    "softmax": r"$\operatorname{softmax}(z)_j = e^{z_j} / \sum_{k} e^{z_k}$",
    "log_softmax": r"$\operatorname{log\_softmax}(z) = \log \operatorname{softmax}(z)$",
}


def _operation_notes(nodes) -> list[str]:
    """One sentence for each new operation the program uses, and one for the
    subscripts row and col of the operations along an axis."""
    from . import expr as E

    used = {node.function for node in nodes if isinstance(node, (E.Call, E.Along))}
    notes = [_OPERATION_NOTES[f] for f in _OPERATION_NOTES if f in used]
    axes = {node.axis for node in nodes if isinstance(node, E.Along)}
    if 1 in axes:
        notes.append(r"a subscript $\text{row}$ applies the operation to each row (\texttt{axis=1}; a sum or "
                     r"mean of an $r \times c$ matrix is then $r \times 1$)")
    if 0 in axes:
        notes.append(r"a subscript $\text{col}$ applies it to each column (\texttt{axis=0}; a sum or mean "
                     r"is then $1 \times c$)")
    return notes


def _scalar_value(name: str):
    from .expr import scalar_symbol

    return scalar_symbol(name)


def _sum_of(forms: list):
    from .expr import Add

    total = forms[0]
    for form in forms[1:]:
        total = Add(total, form)
    return total


def render_program_forms(derivation, notation: Notation | None = None) -> tuple[str, str]:
    """A program's staged backward pass (network.ProgramDerivation) as LaTeX: the
    standalone document and the fragment, from one pass over the data."""
    data = program_data(derivation, notation)
    template = environment().get_template("program.tex.j2")
    return (template.render(layout="standalone.tex.j2", **data),
            template.render(layout="fragment.tex.j2", **data))


def program_files(derivation, notation: Notation | None = None, form: str = "latex") -> dict[str, str]:
    """A program's document in ``form`` (one of FORMATS), file name -> text, as
    :func:`document_files`; all from one program_data."""
    return _files(program_stem(derivation), "program", program_data(derivation, notation), form)


def program_filename(derivation, fragment: bool = False) -> str:
    """A file name from the output's name and the sizes, e.g. L_n4_m3_h5_k2.tex,
    or L_n4_m3_h5_k2_fragment.tex for the fragment."""
    return program_stem(derivation) + ("_fragment" if fragment else "") + ".tex"


def program_stem(derivation) -> str:
    """The file name without ``.tex``: the output's name, each size given (in the
    order the program declares them), then the shape of each input the program
    does not declare.  Only letters, digits and underscores; a long stem is cut
    and given a short hash of its full text."""
    import hashlib

    program = derivation.program
    parts = [program.output or "out"]
    for size in program.sizes:
        if size in derivation.sizes:  # n4; n1_4 when the name ends in a digit
            parts.append(f"{size}{'_' if size[-1].isdigit() else ''}{derivation.sizes[size]}")
    for name in program.inputs:
        if name not in program.declared:
            rows, cols = derivation.shapes[name]
            parts.append(f"{name}{rows}x{cols}")
    text = "_".join(parts)
    stem = re.sub(r"[^A-Za-z0-9_]+", "", text)
    if len(stem) > 80:
        stem = stem[:71] + "_" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return stem
