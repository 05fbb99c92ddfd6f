"""Lecture notes in LaTeX or Markdown, read into derivations for the prover (issue #14).

A lecturer writes a derivation as displays of equalities between prose:

    By applying the multivariable chain rule on $f$, we get:
    $$\\frac{\\partial f}{\\partial X_{ij}} = \\sum_{p=1}^n \\sum_{q=1}^d ...$$

:func:`read_notes` finds the structure of the file with pylatexenc (or, for
Markdown, its ``$$ ... $$`` and ``$ ... $``), reads every piece of maths with
the grammar of :mod:`symderive.latex_math`, and turns it into a
:class:`~symderive.notes.NotesDocument`:

* declarations, wherever they stand: ``\\mathbf{X} \\in \\mathbb{R}^{n \\times m}``
  (a matrix and its sizes), ``\\mathbf{Y} = \\mathbf{X}\\mathbf{W}`` (a definition,
  refused with both shapes named if it does not conform), ``f = f(\\mathbf{Y})``
  or "f ... function of $\\mathbf{Y}$" (f is a scalar function of Y, whose
  gradient is the upstream G), ``1 \\le i \\le n`` (an index range);
* chains of equalities: each top-level ``=`` of a display is a step; a later
  display whose first side is the quantity an earlier chain is about continues
  that chain (notes spread one derivation over several displays);
* matrix-form conclusions ``\\frac{\\partial f}{\\partial \\mathbf{X}} = ...``,
  checked entry by entry against the chain about d f/d X_{ij};
* everything else (prose, sections, pictures of matrices) is counted as
  skipped, with a remark for each display that is not read.

Nothing in the file is executed: ``\\input`` and ``\\include`` are not followed,
no macro is expanded beyond the grammar's fixed table, and every limit (length,
nesting) gives a :class:`~symderive.parse.ParseError` with the line and column.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pylatexenc import latexwalker as lw

from .expr import Expr as MatrixExpr
from .expr import MatMul, Name, Transpose, names_in
from .index import Declarations, Delta, Derivative, Entry, IndexExpr, Neg as IndexNeg, Plus, Scalar, Step, Derivation, Sum, Times
from .latex_math import (_entries, MathProblem, MathReader, MatrixDerivative, Side, free_indices, index_range,
                         parse_math)
from .notes import READING, REFUSAL, SKIPPED, NoteDerivation, NotesDocument, Remark
from .parse import ParseError
from .prove import Unreadable, matrix_shape

__all__ = ["read_notes", "MAX_TEXT_LENGTH", "MAX_DOCUMENT_NESTING"]

MAX_TEXT_LENGTH = 200_000  # characters of a notes file
MAX_DOCUMENT_NESTING = 60  # groups and environments inside one another (pylatexenc recurses on them)

# Environments whose body is a display of maths; the inner ones only group rows inside a display.
DISPLAY_ENVIRONMENTS = {"equation", "equation*", "align", "align*", "gather", "gather*", "multline",
                        "multline*", "eqnarray", "eqnarray*", "flalign", "flalign*", "displaymath", "math"}
INNER_ENVIRONMENTS = {"aligned", "gathered", "split", "alignedat"}
IGNORED_MACROS = {"label", "nonumber", "notag", "tag"}  # typesetting only
NOT_FOLLOWED = {"input", "include", "subfile", "import", "usepackage", "newcommand", "renewcommand", "def"}


# ---------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------


class _Positions:
    """Offsets of the file as (line, column), both from 1."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def error(self, offset: int, message: str) -> ParseError:
        line, column = self.at(offset)
        return ParseError(message, line, column, self.line_text(line))


# ---------------------------------------------------------------------------
# The structure of the file: prose, inline maths, displays
# ---------------------------------------------------------------------------


@dataclass
class _Piece:
    """A piece of the file in reading order: prose, or maths (its content, with the
    typesetting marks of alignment blanked so that offsets stay those of the file)."""

    kind: str  # "text", "inline", "display", "section", "not followed"
    start: int
    text: str


def _check_limits(text: str, positions: _Positions) -> None:
    if len(text) > MAX_TEXT_LENGTH:
        raise positions.error(MAX_TEXT_LENGTH, f"notes longer than {MAX_TEXT_LENGTH} characters are not read")
    for offset, c in enumerate(text):
        if (ord(c) < 32 and c not in "\n\r\t\f") or c == "\x7f":
            raise positions.error(offset, f"control character U+{ord(c):04X} in the notes")
    depth = 0
    for offset, c in enumerate(text):
        escaped = offset > 0 and text[offset - 1] == "\\"
        if c == "{" and not escaped:
            depth += 1
            if depth > MAX_DOCUMENT_NESTING:
                raise positions.error(offset, f"braces nested more than {MAX_DOCUMENT_NESTING} deep")
        elif c == "}" and not escaped:
            depth = max(depth - 1, 0)


def _blanked(text: str, start: int, nodes) -> str:
    """The maths text[start:...] with ``&``, ``\\label{..}``, ``\\nonumber`` and the
    ``\\begin``/``\\end`` of aligned/gathered blanked (outside ``cases``), offsets kept."""
    end = max((n.pos + n.len for n in nodes), default=start)
    chars = list(text[start:end])

    def blank(a: int, b: int) -> None:
        for i in range(max(a, start), min(b, end)):
            if chars[i - start] not in "\n":
                chars[i - start] = " "

    def visit(nodelist) -> None:
        for node in nodelist or ():
            if node is None:
                continue
            if node.isNodeType(lw.LatexSpecialsNode) and node.specials_chars == "&":
                blank(node.pos, node.pos + node.len)
            elif node.isNodeType(lw.LatexMacroNode) and node.macroname in IGNORED_MACROS:
                blank(node.pos, node.pos + node.len)
            elif node.isNodeType(lw.LatexEnvironmentNode):
                if node.environmentname in INNER_ENVIRONMENTS:
                    inner = [n for n in node.nodelist if n is not None]
                    if inner:
                        blank(node.pos, inner[0].pos)
                        blank(inner[-1].pos + inner[-1].len, node.pos + node.len)
                    visit(node.nodelist)
                # cases, matrices: their & and \\ belong to them
            elif node.isNodeType(lw.LatexGroupNode):
                visit(node.nodelist)

    visit(nodes)
    return "".join(chars)


def _content(node) -> tuple[int, list]:
    nodes = [n for n in node.nodelist if n is not None]
    return (nodes[0].pos if nodes else node.pos + node.len), nodes


def _walk_latex(text: str, nodes, pieces: list[_Piece]) -> None:
    for node in nodes or ():
        if node is None:
            continue
        if node.isNodeType(lw.LatexCharsNode):
            pieces.append(_Piece("text", node.pos, node.chars))
        elif node.isNodeType(lw.LatexMathNode):
            start, inner = _content(node)
            kind = "inline" if node.displaytype == "inline" else "display"
            pieces.append(_Piece(kind, start, _blanked(text, start, inner)))
        elif node.isNodeType(lw.LatexEnvironmentNode):
            if node.environmentname in DISPLAY_ENVIRONMENTS:
                start, inner = _content(node)
                pieces.append(_Piece("display", start, _blanked(text, start, inner)))
            else:
                _walk_latex(text, node.nodelist, pieces)
        elif node.isNodeType(lw.LatexGroupNode):
            _walk_latex(text, node.nodelist, pieces)
        elif node.isNodeType(lw.LatexMacroNode):
            arguments = [a for a in (node.nodeargd.argnlist if node.nodeargd else []) if a is not None]
            if node.macroname in NOT_FOLLOWED:
                pieces.append(_Piece("not followed", node.pos, node.latex_verbatim()))
                continue
            _walk_latex(text, arguments, pieces)  # maths in a title is read before the section starts
            if node.macroname in ("section", "subsection", "subsubsection", "chapter", "paragraph"):
                title = arguments[-1].latex_verbatim().strip("{}") if arguments else ""
                pieces.append(_Piece("section", node.pos, title))


def _latex_pieces(text: str, positions: _Positions) -> list[_Piece]:
    try:
        nodes, _, _ = lw.LatexWalker(text, tolerant_parsing=False).get_latex_nodes()
    except lw.LatexWalkerError as error:
        raise positions.error(getattr(error, "pos", None) or 0, f"the LaTeX structure is not readable: "
                              f"{getattr(error, 'msg', error)}") from None
    except RecursionError:
        raise positions.error(0, "the LaTeX is nested too deeply to read") from None
    pieces: list[_Piece] = []
    _walk_latex(text, nodes, pieces)
    return pieces


def _maths_in_markdown(text: str, positions: _Positions) -> list[_Piece]:
    """Markdown: ``$$ ... $$`` displays and ``$ ... $`` inline maths; fenced and inline
    code, and ``\\$``, are text."""
    pieces: list[_Piece] = []
    i, text_start, n = 0, 0, len(text)

    def flush(upto: int) -> None:
        if upto > text_start:
            pieces.append(_Piece("text", text_start, text[text_start:upto]))

    while i < n:
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and text.startswith(("```", "~~~"), i):
            fence = text[i:i + 3]
            close = text.find("\n" + fence, i + 3)
            i = n if close < 0 else close + 4
            continue
        c = text[i]
        if c == "\\" and i + 1 < n:
            i += 2
            continue
        if c == "`":
            close = text.find("`", i + 1)
            i = n if close < 0 else close + 1
            continue
        if text.startswith("$$", i):
            close = text.find("$$", i + 2)
            if close < 0:
                raise positions.error(i, "$$ opened here is never closed")
            flush(i)
            pieces.append(_math_piece("display", text, i + 2, close, positions))
            i = text_start = close + 2
            continue
        if c == "$":
            close = _closing_dollar(text, i + 1)
            if close is not None:
                flush(i)
                pieces.append(_math_piece("inline", text, i + 1, close, positions))
                i = text_start = close + 1
                continue
        i += 1
    flush(n)
    return pieces


def _closing_dollar(text: str, i: int) -> int | None:
    """The $ closing inline maths opened before i, on the same paragraph; None if none."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "$":
            return i
        if text.startswith("\n\n", i):
            return None
        i += 1
    return None


def _math_piece(kind: str, text: str, start: int, end: int, positions: _Positions) -> _Piece:
    """The maths of a Markdown block, its alignment marks blanked by pylatexenc's reading of it."""
    content = text[start:end]
    try:
        nodes, _, _ = lw.LatexWalker(content, tolerant_parsing=False).get_latex_nodes()
    except lw.LatexWalkerError as error:
        raise positions.error(start + (getattr(error, "pos", None) or 0),
                              f"the maths is not readable LaTeX: {getattr(error, 'msg', error)}") from None
    except RecursionError:
        raise positions.error(start, "the maths is nested too deeply to read") from None
    blanked = _blanked(content, 0, nodes)
    return _Piece(kind, start, blanked + content[len(blanked):])


# ---------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------


@dataclass
class _Parsed:
    piece: _Piece
    tree: object = None  # Lark tree of the display, or None
    statements: object = None  # Lark tree of declarations, or None
    problem: MathProblem | None = None


def _parse(piece: _Piece) -> _Parsed:
    """Maths is first tried as declarations, then as a display (or the other way for displays)."""
    order = ("display", "statements") if piece.kind == "display" else ("statements", "display")
    first_problem = None
    for start in order:
        try:
            tree = parse_math(piece.text, start)
        except MathProblem as problem:
            first_problem = first_problem or problem
            continue
        return _Parsed(piece, tree=tree) if start == "display" else _Parsed(piece, statements=tree)
    return _Parsed(piece, problem=first_problem)


def _upstream_of(tree) -> tuple[str, str] | None:
    """(f, Y) when a display reads ``f = f(\\mathbf{Y})``: a lowercase letter, then the same
    letter applied to one matrix.  Read on the Lark tree, since f(...) is not a product."""
    rows = tree.children
    if len(rows) != 1 or len(rows[0].children) != 2:
        return None
    left, right = (side.children[0] for side in rows[0].children)
    name = _lone_letter(left)
    if name is None or not name.islower() or right.data != "product" or len(right.children) != 2:
        return None
    if _lone_letter(right.children[0]) != name or right.children[1].data != "group":
        return None
    inside = right.children[1].children[0]
    if len(right.children[1].children) != 1 or inside.data != "product" or len(inside.children) != 1:
        return None
    matrix = _matrix_name(inside.children[0])
    return (name, matrix) if matrix else None


def _lone_letter(tree) -> str | None:
    if getattr(tree, "data", None) == "product" and len(tree.children) == 1:
        tree = tree.children[0]
    if getattr(tree, "data", None) == "subject" and len(tree.children) == 1 and tree.children[0].data == "letter":
        return str(tree.children[0].children[0])
    return None


def _matrix_name(tree) -> str | None:
    if getattr(tree, "data", None) != "subject" or len(tree.children) != 1:
        return None
    base = tree.children[0]
    letters = [str(t) for t in base.children if getattr(t, "type", None) == "INDEX"]
    return letters[0] if len(letters) == 1 and letters[0].isupper() else None


@dataclass
class _Notes:
    """The reading in progress."""

    name: str
    kind: str
    positions: _Positions
    decl: Declarations = field(default_factory=Declarations)
    scalar: str | None = None
    remarks: list[Remark] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # matrices whose definition was refused
    stated_ranges: dict[str, list] = field(default_factory=dict)  # index -> [(offset, (low, high)), ...]

    def range_at(self, index: str, offset: int):
        """The range stated for ``index`` that governs a chain starting at ``offset``:
        the last one stated before it, else the first stated after it ("where
        1 <= i <= n" under a display).  Notes reuse i and j with other ranges in
        other sections (the seed note's sections 3 and 4), so a statement holds
        from where it is made, not for the whole file."""
        stated = sorted(self.stated_ranges.get(index, ()), key=lambda found: found[0])
        before = [found for at, found in stated if at <= offset]
        if before:
            return before[-1]
        return stated[0][1] if stated else None

    def remark(self, offset: int, kind: str, text: str) -> None:
        line, column = self.positions.at(offset)
        item = Remark(line, column, kind, text)
        if item not in self.remarks:
            self.remarks.append(item)

    def skip(self, what: str) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + 1

    def reader(self, piece: _Piece) -> MathReader:
        return MathReader(self.decl, self.scalar, lambda at, kind, text: self.remark(piece.start + at, kind, text),
                          piece.text)


def _size(notes: _Notes, atom) -> None:
    if isinstance(atom, str) and atom not in notes.decl.sizes:
        notes.decl.sizes.append(atom)


def _declare(notes: _Notes, parsed: list[_Parsed]) -> None:
    """First pass: shapes, ranges, the scalar function and the definitions, wherever they stand."""
    signature = None
    upstream_matrix = None
    for i, item in enumerate(parsed):
        piece = item.piece
        if item.statements is not None:
            try:
                statements = notes.reader(piece).statements(item.statements)
            except MathProblem as problem:
                notes.remark(piece.start + problem.offset, SKIPPED, f"declaration not read: {problem.message}")
                continue
            for kind, name, low, high, at in statements:
                large = [x for x in (low, high) if isinstance(x, int) and x > MAX_NUMERIC_SIZE]
                if large:
                    # the exact check builds matrices of that size: a symbolic size is what a proof wants
                    notes.remark(piece.start + at, REFUSAL,
                                 f"a size written as a number must be at most {MAX_NUMERIC_SIZE}, not "
                                 f"{str(large[0])[:20]}: write it as a name (n, m) to prove for all sizes")
                    if kind == "shape":
                        notes.refused.add(name)
                    continue
                if kind == "shape":
                    if name in notes.decl.shapes and notes.decl.shapes[name] != (low, high):
                        notes.remark(piece.start + at, REFUSAL,
                                     f"{name} is declared twice, as {notes.decl.shapes[name][0]} x "
                                     f"{notes.decl.shapes[name][1]} and as {low} x {high}")
                        notes.refused.add(name)
                    _size(notes, low), _size(notes, high)
                    notes.decl.shapes[name] = (low, high)
                elif kind == "range":
                    notes.decl.ranges[name] = (low, high)
                    notes.stated_ranges.setdefault(name, []).append((piece.start + at, (low, high)))
                    _size(notes, high)
                else:
                    signature = (name, (low, high), piece.start + at)
        elif item.tree is not None:
            found = _upstream_of(item.tree)
            if found:
                notes.scalar, upstream_matrix = found
        elif piece.kind == "text" and "function of" in " ".join(piece.text.split()).lower() and i + 1 < len(parsed):
            after = parsed[i + 1]
            if after.piece.kind == "inline" and after.tree is not None:
                rows = after.tree.children
                if len(rows) == 1 and len(rows[0].children) == 1:
                    product = rows[0].children[0].children[0]
                    if product.data == "product" and len(product.children) == 1:
                        upstream_matrix = _matrix_name(product.children[0]) or upstream_matrix
    if signature and notes.scalar is None:
        notes.scalar = signature[0]
    if upstream_matrix and notes.scalar is None:
        notes.scalar = "f"
    _definitions(notes, parsed)
    if upstream_matrix is None and signature is not None:
        upstream_matrix = _matrix_of_shape(notes, signature)
    if upstream_matrix is not None:
        taken = set(notes.decl.shapes) | set(notes.decl.defined) | {upstream_matrix}
        upstream = "G"
        while upstream in taken:
            upstream += "'"
        notes.decl.upstream = (upstream, upstream_matrix)


def _matrix_of_shape(notes: _Notes, signature) -> str | None:
    """The one matrix whose shape is the domain of f : R^{n x d} -> R (said as a reading)."""
    name, shape, at = signature
    candidates = []
    for matrix in list(notes.decl.shapes) + list(notes.decl.defined):
        try:
            if matrix_shape(Name(matrix), notes.decl) == shape:
                candidates.append(matrix)
        except Unreadable:
            continue
    if len(candidates) != 1:
        return None
    notes.remark(at, READING, f"{name} is read as a function of {candidates[0]}, the only matrix of shape "
                 f"{shape[0]} x {shape[1]}")
    return candidates[0]


MAX_NUMERIC_SIZE = 12  # a size written as a number, at most (the exact check builds such matrices)
MAX_PRODUCT_DEGREE = 6  # matrices multiplied in one definition, its defined matrices expanded


def _degree(node: MatrixExpr, defined: dict) -> int:
    """How many matrices a defined matrix multiplies, definitions expanded: each
    entry is a polynomial of this degree, which the exact check expands."""
    if isinstance(node, Name):
        return _degree(defined[node.name], defined) if node.name in defined else 1
    if isinstance(node, MatMul):
        return _degree(node.left, defined) + _degree(node.right, defined)
    children = node.children()
    return max((_degree(child, defined) for child in children), default=0)


def _definitions(notes: _Notes, parsed: list[_Parsed]) -> None:
    """``\\mathbf{Y} = \\mathbf{X}\\mathbf{W}``: defined if it conforms, else refused with both shapes."""
    declared = dict(notes.decl.shapes)
    for item in parsed:
        if item.tree is None:
            continue
        try:
            rows = notes.reader(item.piece).chains(item.tree)
        except MathProblem:
            continue
        for _, sides in rows:
            if len(sides) != 2 or not isinstance(sides[0].value, Name):
                continue
            name, definition = sides[0].value.name, sides[1].value
            if not isinstance(definition, MatrixExpr) or name in names_in(definition):
                continue
            at = item.piece.start + sides[1].start
            problem = _nonconforming(definition, notes.decl)
            if problem is None and name in declared:
                shape = matrix_shape(definition, notes.decl)
                if shape != declared[name]:
                    problem = (f"{name} is declared {declared[name][0]} x {declared[name][1]} but "
                               f"{_latex_like(definition)} is {shape[0]} x {shape[1]}")
            if problem is None and _degree(definition, notes.decl.defined) > MAX_PRODUCT_DEGREE:
                problem = (f"{name} = {_latex_like(definition)} multiplies more than {MAX_PRODUCT_DEGREE} "
                           f"matrices once its definitions are expanded: too large to check exactly")
            if problem is None and name in notes.decl.defined and notes.decl.defined[name] != definition:
                # one set of declarations holds for the whole file: two definitions of one
                # matrix would make every chain about it read with the wrong one somewhere
                problem = (f"{name} is defined twice, as {_latex_like(notes.decl.defined[name])} and as "
                           f"{_latex_like(definition)}: symderive reads one definition of a matrix per file "
                           f"(split the notes, or name the second matrix differently)")
            if problem:
                notes.remark(at, REFUSAL, problem)
                notes.refused.add(name)
                continue
            if name in notes.refused and name in notes.decl.defined:
                continue  # refused as defined twice: stays refused
            notes.refused.discard(name)
            notes.decl.shapes.pop(name, None)
            notes.decl.defined[name] = definition


def _nonconforming(node: MatrixExpr, decl: Declarations) -> str | None:
    """Why a product does not conform, naming both shapes; None if it does."""
    for child in node.children():
        problem = _nonconforming(child, decl)
        if problem:
            return problem
    if isinstance(node, MatMul):
        try:
            (rows, a), (b, cols) = matrix_shape(node.left, decl), matrix_shape(node.right, decl)
        except Unreadable as error:
            return str(error)
        if a != b:
            left, right = _latex_like(node.left), _latex_like(node.right)
            return (f"{left} {right} does not conform: {left} is {rows} x {a} and {right} is {b} x {cols} "
                    f"(the {a} columns of {left} differ from the {b} rows of {right})")
        return None
    try:
        matrix_shape(node, decl)
    except Unreadable as error:
        return str(error)
    return None


def _latex_like(node: MatrixExpr) -> str:
    """A matrix expression as the notes write it: juxtaposition, ^T."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Transpose):
        inner = _latex_like(node.operand)
        return f"{inner}^T" if isinstance(node.operand, Name) else f"({inner})^T"
    if isinstance(node, MatMul):
        return f"{_latex_like(node.left)} {_latex_like(node.right)}"
    return str(node)


# ---------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------


@dataclass
class _Chain:
    """A derivation being gathered: its sides (value, offset in the file, text as written)."""

    subject: IndexExpr
    title: str
    sides: list[tuple[IndexExpr, int, str]] = field(default_factory=list)
    conclusions: set[int] = field(default_factory=set)
    rules: dict[int, str] = field(default_factory=dict)  # side number -> the prose that announced it

    def announce(self, first_new: int, rule: str) -> None:
        """The prose before a display ("By applying the chain rule, we get:") as the rule
        of the first step the display adds."""
        number = max(first_new, 1)
        if rule and number < len(self.sides) and number not in self.rules:
            self.rules[number] = rule


def _sum_vars(expr) -> list[Sum]:
    """The sums a side begins with (nested at its top), outermost first."""
    found = []
    while isinstance(expr, Sum):
        found.append(expr)
        expr = expr.body
    return found


def _bind_from_before(notes: _Notes, chain_subject: IndexExpr, before: IndexExpr, value: IndexExpr,
                      at: int) -> IndexExpr:
    """A side whose conditions name the index of a sum on the side before it (the note's
    ``\\sum_r ... = \\begin{cases} W_{jq}, & p = i, r = j ...``) is read as that sum of it."""
    subject_free = set(free_indices(chain_subject, notes.decl.sizes))
    for outer in reversed(_sum_vars(before)):
        # only an index that a condition names (a delta, as cases give): an index merely
        # left free, as when a sum is dropped by mistake, is not bound on the writer's behalf
        if outer.var in free_indices(value, notes.decl.sizes) and outer.var not in subject_free \
                and _in_a_delta(value, outer.var):
            value = Sum(outer.var, outer.lower, outer.upper, value)
            notes.remark(at, READING,
                         f"{outer.var} is the index of the sum over {outer.var} = {outer.lower}..{outer.upper} "
                         f"on the side before: this side is read as that sum of it (every term "
                         f"but the one its conditions pick is 0)")
    return value


def _in_a_delta(expr: IndexExpr, index: str) -> bool:
    """Whether ``index`` appears in a Kronecker delta of ``expr`` (a condition of cases)."""
    if isinstance(expr, Delta):
        return index in (expr.a, expr.b)
    if isinstance(expr, (Plus, Times)):
        return any(_in_a_delta(part, index) for part in (expr.terms if isinstance(expr, Plus) else expr.factors))
    if isinstance(expr, (IndexNeg, Sum)):
        return _in_a_delta(expr.operand if isinstance(expr, IndexNeg) else expr.body, index)
    if isinstance(expr, Derivative):
        return _in_a_delta(expr.of, index)
    return False


def _side_text(notes: _Notes, piece: _Piece, side: Side) -> str:
    return " ".join(piece.text[side.start:side.end].split())


def _matrix_subject(subject) -> tuple[str, str, object, object] | None:
    """(f, X, row, col) when a chain is about d f / d X_{row col}."""
    if isinstance(subject, Derivative) and isinstance(subject.of, Scalar) and isinstance(subject.wrt.matrix, Name):
        return subject.of.name, subject.wrt.matrix.name, subject.wrt.row, subject.wrt.col
    return None


def _gather(notes: _Notes, parsed: list[_Parsed]) -> list[_Chain]:
    chains: list[_Chain] = []
    title = ""
    prose: list[str] = []
    for item in parsed:
        piece = item.piece
        if piece.kind == "section":
            title = " ".join(piece.text.split())
            notes.skip("sections")
            prose = []
            continue
        if piece.kind == "text":
            if piece.text.strip():
                notes.skip("text")
            prose.append(piece.text)
            continue
        if piece.kind == "inline":
            prose.append(f"${piece.text.strip()}$")
        else:
            rule, prose = _last_sentence(prose), []
        if piece.kind == "not followed":
            notes.skip("commands not followed")
            notes.remark(piece.start, SKIPPED, f"{' '.join(piece.text.split())} is not followed: symderive reads "
                         f"only this file and expands no macros")
            continue
        if item.statements is not None:
            notes.skip("declarations")
            continue
        if item.tree is None:
            _skip_maths(notes, piece, item.problem.message, item.problem.offset)
            continue
        if _upstream_of(item.tree):
            notes.skip("declarations")
            continue
        try:
            rows = notes.reader(piece).chains(item.tree)
        except MathProblem as problem:
            _skip_maths(notes, piece, problem.message, problem.offset)
            continue
        for sides in _joined(rows):
            _take_chain(notes, piece, sides, chains, title, rule if piece.kind == "display" else "")
    return chains


def _last_sentence(prose: list[str]) -> str:
    """The last sentence of the prose before a display, without its colon: what the
    lecturer says the display follows from."""
    text = " ".join("".join(prose).split())
    for stop in (". ", "? ", "! "):
        text = text.rsplit(stop, 1)[-1]
    text = text.strip().rstrip(":,").strip()
    # a sentence that names a reason ("By applying the chain rule ...", "using the
    # definition of the product"); "For $1 \le i \le n$" or "Then" names none
    words = set(text.lower().replace(",", " ").split())
    if not words & _REASON_WORDS:
        return ""
    return text if len(text) <= 160 else "..." + text[-157:]


# words by which a sentence before a display gives the reason for it
_REASON_WORDS = {"by", "using", "use", "applying", "apply", "from", "rule", "definition", "since", "because",
                 "substituting", "substitute", "noting", "noticing", "note", "hence", "thus", "therefore",
                 "survive", "surviving", "gives", "give", "yields", "way"}


def _joined(rows) -> list[list[Side]]:
    """Rows of a display, a row starting with "=" joined to the one before."""
    joined: list[list[Side]] = []
    for continued, sides in rows:
        if continued and joined:
            joined[-1].extend(sides)
        else:
            joined.append(list(sides))
    return joined


UNREAD_DERIVATIONS = "displays with derivatives not read"  # keep the notes from being called proven


def _skip_maths(notes: _Notes, piece: _Piece, why: str, offset: int) -> None:
    if piece.kind == "display":
        # a display with a derivative or a sum that cannot be read may hold a false step;
        # one without (f = f(Y_11(X_ij), ...), a matrix of entries) holds none
        derivative = "\\partial" in piece.text or "\\sum" in piece.text
        notes.skip(UNREAD_DERIVATIONS if derivative and "=" in piece.text else "displays")
        notes.remark(piece.start + offset, SKIPPED, f"display not read as a derivation: {why}")
    else:
        notes.skip("inline maths")


def _take_chain(notes: _Notes, piece: _Piece, sides: list[Side], chains: list[_Chain], title: str,
                rule: str = "") -> None:
    first = sides[0].value
    if len(sides) < 2:
        _skip_maths(notes, piece, "no equality in it", sides[0].start) if piece.kind == "display" \
            else notes.skip("inline maths")
        return
    if isinstance(first, Name) and len(sides) == 2 and isinstance(sides[1].value, MatrixExpr):
        notes.skip("definitions")
        return
    if isinstance(first, MatrixDerivative):
        _conclude(notes, piece, sides, chains, title, rule)
        return
    if piece.kind != "display" or not isinstance(first, IndexExpr):
        if piece.kind == "display":
            _skip_maths(notes, piece, "its first side is not a quantity in index notation", sides[0].start)
        else:
            notes.skip("inline maths")
        return
    chain = next((c for c in reversed(chains) if c.subject == first), None)
    start = 1
    if chain is None:
        chain = _Chain(first, title)
        chains.append(chain)
        start = 0
    first_new = len(chain.sides)
    for k in range(start, len(sides)):
        side = sides[k]
        value = side.value
        if not isinstance(value, IndexExpr):
            _skip_maths(notes, piece, f"a side is the matrix {_latex_like(value)}, not an entry", side.start)
            return
        if k > 0 and isinstance(sides[k - 1].value, IndexExpr):
            value = _bind_from_before(notes, first, sides[k - 1].value, value, piece.start + side.start)
        chain.sides.append((value, piece.start + side.start, _side_text(notes, piece, side)))
    chain.announce(first_new, rule)


def _conclude(notes: _Notes, piece: _Piece, sides: list[Side], chains: list[_Chain], title: str,
              rule: str = "") -> None:
    """``\\frac{\\partial f}{\\partial \\mathbf{X}} = M``: entry (i, j) of M against the last
    line of the chain about d f/d X_{ij}; with no such chain, a chain of its own."""
    lhs = sides[0].value
    for side in sides[1:]:
        if not isinstance(side.value, MatrixExpr):
            _skip_maths(notes, piece, "a matrix-form statement whose right side is not a matrix", side.start)
            return
        problem = _nonconforming(side.value, notes.decl)
        if problem:
            notes.remark(piece.start + side.start, REFUSAL, problem)
            return
    chain = next((c for c in reversed(chains)
                  if (_matrix_subject(c.subject) or ())[:2] == (lhs.scalar, lhs.matrix)), None)
    if chain is None:
        used = {a for a in notes.decl.sizes}
        row, col = next((a, b) for a, b in (("i", "j"), ("k", "l"), ("s", "t")) if a not in used and b not in used)
        subject = Derivative(Scalar(lhs.scalar), Entry(Name(lhs.matrix), row, col))
        chain = _Chain(subject, title)
        chain.sides.append((subject, piece.start + sides[0].start, _side_text(notes, piece, sides[0])))
        chains.append(chain)
        notes.remark(piece.start + sides[0].start, READING,
                     f"the matrix-form statement is checked entry by entry, at entry ({row}, {col})")
    _, _, row, col = _matrix_subject(chain.subject)
    if not (isinstance(row, str) and isinstance(col, str) and row != col):
        # a chain about X_{ii}, X_{1j} or X_{12} says nothing of the other entries
        notes.remark(piece.start + sides[0].start, SKIPPED,
                     f"conclusion not checked: the chain it follows is about the entry ({row}, {col}) only, "
                     f"not about every entry of {lhs.matrix}, so a matrix-form conclusion does not follow from it")
        notes.skip("conclusions not checked")
        return
    first_new = len(chain.sides)
    for side in sides[1:]:
        chain.sides.append((Entry(side.value, row, col), piece.start + side.start, _side_text(notes, piece, side)))
        chain.conclusions.add(len(chain.sides) - 1)
    chain.announce(first_new, rule)


# ---------------------------------------------------------------------------
# Derivations
# ---------------------------------------------------------------------------


def _derivation(notes: _Notes, chain: _Chain) -> NoteDerivation | None:
    """A chain as a derivation: its own declarations, with the range of every free index
    (stated, or read off the entries it addresses, said as a reading)."""
    decl = Declarations(sizes=list(notes.decl.sizes), shapes=dict(notes.decl.shapes),
                        defined=dict(notes.decl.defined), upstream=notes.decl.upstream)
    first_at = chain.sides[0][1]
    refused = sorted(notes.refused & {name for value, _, _ in chain.sides for name in _matrices_in(value)})
    if refused:
        notes.remark(first_at, SKIPPED, f"chain not checked: it is about {', '.join(refused)}, whose "
                     f"definition was refused")
        notes.skip("chains")
        return None
    for value, _, _ in chain.sides:
        for index in free_indices(value, decl.sizes):
            if index in decl.ranges:
                continue
            stated = notes.range_at(index, first_at)
            if stated is not None:
                decl.ranges[index] = stated
                continue
            found = next((r for r in (index_range(index, v, decl) for v, _, _ in chain.sides) if r), None)
            if found is None:
                notes.remark(first_at, SKIPPED, f"chain not checked: the range of the index {index} is neither "
                             f"stated nor read off an entry of known size")
                notes.skip("chains")
                return None
            (low, high), entry = found
            decl.ranges[index] = (low, high)
            notes.remark(first_at, READING, f"{index} ranges over {low}..{high}, the range of "
                         f"{'rows' if entry.row == index else 'columns'} of {_latex_like(entry.matrix)} "
                         f"(as in {_latex_like(entry.matrix)}_{{{entry.row}{entry.col}}})")
    steps, columns = [], []
    for number, (value, at, text) in enumerate(chain.sides):
        line, column = notes.positions.at(at)
        steps.append(Step(value, chain.rules.get(number, ""), line, text))
        columns.append(column)
    if chain.conclusions:
        subject = _matrix_subject(chain.subject)
        try:
            rows, cols = matrix_shape(Name(subject[1]), decl)
        except Unreadable:
            rows = cols = None
        if rows is None or decl.ranges.get(subject[2]) != (1, rows) or decl.ranges.get(subject[3]) != (1, cols):
            # the chain holds for some entries only: the matrix form would claim all of them
            notes.remark(first_at, SKIPPED,
                         f"conclusion not checked: the chain holds for {subject[2]} in "
                         f"{decl.ranges.get(subject[2])} and {subject[3]} in {decl.ranges.get(subject[3])}, "
                         f"not for every entry of the {rows} x {cols} matrix {subject[1]}")
            notes.skip("conclusions not checked")
            keep = [k for k in range(len(steps)) if k not in chain.conclusions]
            steps, columns = [steps[k] for k in keep], [columns[k] for k in keep]
            chain.conclusions.clear()
    return NoteDerivation(Derivation(decl, steps, chain.title), set(chain.conclusions), columns)


def _matrices_in(expr: IndexExpr) -> set[str]:
    """The matrices a side names, the one f is a function of included when it uses d f/d(...)."""
    names = set()
    for entry in _entries(expr):
        names.update(names_in(entry.matrix))
    return names


def read_notes(text: str, name: str = "notes.tex", kind: str = "tex") -> NotesDocument:
    """The derivations in LaTeX (``kind="tex"``) or Markdown (``kind="md"``) notes, with
    remarks on what was read how; a :class:`~symderive.parse.ParseError` (line, column)
    for a file that cannot be read at all."""
    if kind not in ("tex", "md"):
        raise ValueError(f"kind must be 'tex' or 'md', not {kind!r}")
    positions = _Positions(text)
    _check_limits(text, positions)
    try:
        return _read(text, name, kind, positions)
    except RecursionError:  # a last guard: every nesting has its own limit before this
        raise positions.error(0, "the notes are nested too deeply to read") from None


def _read(text: str, name: str, kind: str, positions: _Positions) -> NotesDocument:
    pieces = _latex_pieces(text, positions) if kind == "tex" else _maths_in_markdown(text, positions)
    notes = _Notes(name, kind, positions)
    parsed = [_parse(p) if p.kind in ("inline", "display") else _Parsed(p) for p in pieces]
    _declare(notes, parsed)
    chains = _gather(notes, parsed)
    derivations = [d for d in (_derivation(notes, c) for c in chains) if d is not None]
    remarks = sorted(notes.remarks, key=lambda r: (r.line, r.column))
    return NotesDocument(name, kind, derivations, remarks, dict(sorted(notes.skipped.items())))
