"""Reporting on checked notes: the text the command line prints, and the annotated LaTeX report.

:func:`print_notes_report` says, for each derivation found in the notes, what
the prover decided of each step, at the line (and column) of the file the step
was written on; the first false step with its counterexample (sizes, indices,
both sides); the remarks the reader made (readings taken, refusals, slips); and
what was skipped.  :func:`render_notes_report` gives the same as a LaTeX
document (template ``notes_report.tex.j2``; all LaTeX lives there): each step
as written, with a check mark, a question mark or a cross and its reason.

Steps copied from a user's file into the report must neither break it nor run
anything.  A step's LaTeX is included only when it passed the reader's grammar,
and then only when :func:`safe_maths` accepts it: every command from a fixed
table the report's preamble defines, braces balanced, ``\\left``/``\\right``
paired within a group, every command given its arguments, no double scripts,
ASCII only.  Anything else (``\\input``, ``\\write``, ``\\def``, ``\\catcode``,
a ``%`` that would swallow the end of the display, ...) is shown as plain,
escaped text instead.  Nothing is ever expanded or executed here: the check
only reads characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .errors import ExitStatus
from .notes import READING, REFUSAL, SKIPPED, SLIP, NotesReport
from .prove import CHECKED, FALSE, PROVEN

__all__ = ["print_notes_report", "render_notes_report", "report_data", "report_filename", "exit_status",
           "safe_maths", "plain_text", "text_tex", "report_files", "REPORT_SUFFIX"]

REPORT_SUFFIX = "_report.tex"
MAX_SHOWN = 2000  # characters of a step's LaTeX put into the report at most; longer ones are shown as text
MAX_PLAIN = 400  # characters of a step shown as escaped text at most
MAX_TERMINAL = 160  # characters of a step's text printed on the terminal at most
MAX_GROUPS = 40  # braces inside one another in a step

# The commands a step may use, each with the number of arguments it takes.  The
# report's preamble (amsmath, amssymb, bm) defines every one of them.
ARGUMENTS = {
    "frac": 2, "tfrac": 2, "dfrac": 2,
    "mathbf": 1, "bm": 1, "boldsymbol": 1, "mathbb": 1, "mathsf": 1, "mathrm": 1, "mathit": 1,
    "mathcal": 1, "operatorname": 1, "text": 1, "sqrt": 1,
}
SYMBOLS = frozenset("""
    top intercal cdot times le leq ge geq neq ne lt gt partial sum prod delta Delta ldots dots cdots
    in notin quad qquad to rightarrow mid infty ell nabla exp log tanh sin cos det tr
    alpha beta gamma epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
    langle rangle lvert rvert lVert rVert prime displaystyle
    left right bigl bigr Bigl Bigr biggl biggr
""".split())
# symbols that may stand unbraced as a script or an argument: letters, no operators or spacing
SCRIPT_SYMBOLS = frozenset("""
    top intercal prime partial infty ell
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
""".split())
UNBASED = frozenset({"\\,", "\\;", "\\:", "\\!", "\\>", "\\ ", "\\quad", "\\qquad", "\\displaystyle", " "})
DELIMITER_COMMANDS = frozenset({"{", "}", "|", "langle", "rangle", "lvert", "rvert", "lVert", "rVert"})
DELIMITER_CHARACTERS = frozenset("()[]|./")
SPACING_SYMBOLS = frozenset(",;:!> {}|")  # \, \; \: \! \> \  \{ \} \|
DROPPED = frozenset({"&", "\\\\", "\\nonumber", "\\notag"})  # alignment and line ends: no meaning in one step
TEXT_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.;:'()-")


class _Unsafe(Exception):
    """A step's LaTeX that the report will not typeset."""


def _tokens(text: str) -> list[str]:
    """The TeX tokens of ``text``: a control word (``\\frac``), a control symbol
    (``\\,``), or one character; whitespace runs become one space."""
    tokens: list[str] = []
    k = 0
    while k < len(text):
        ch = text[k]
        if ch == "\\":
            end = k + 1
            while end < len(text) and text[end].isascii() and text[end].isalpha():
                end += 1
            if end == k + 1:
                end = min(k + 2, len(text))
            tokens.append(text[k:end])
            k = end
        elif ch in " \t\n\r":
            while k < len(text) and text[k] in " \t\n\r":
                k += 1
            tokens.append(" ")
        else:
            tokens.append(ch)
            k += 1
    return tokens


class _Checker:
    """Reads a token list as maths the way TeX would group it, refusing anything
    outside the fixed table, and gives back the tokens to typeset."""

    def __init__(self, tokens: list[str]) -> None:
        # a dropped token leaves a space, so that \\frac\\\\left cannot become \\fracleft
        self.tokens = [" " if t in DROPPED else t for t in tokens]
        self.at = 0
        self.bold = 0  # inside the argument of \\bm or \\boldsymbol

    def peek(self) -> str | None:
        while self.at < len(self.tokens) and self.tokens[self.at] == " ":
            self.at += 1
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _Unsafe("ends early")
        self.at += 1
        return token

    def sequence(self, depth: int, closing: str | None) -> None:
        """Items up to ``closing`` (a ``}``) or the end; \\left and \\right pair up
        inside it; at most one ^ and one _ after each item."""
        if depth > MAX_GROUPS:
            raise _Unsafe("too deeply nested")
        open_lefts = 0
        scripts: set[str] = set()
        based = False  # an item stands before, for a script to attach to
        while True:
            token = self.peek()
            if token is None or token == "}":
                if token != closing:
                    raise _Unsafe("unbalanced braces")
                if open_lefts:
                    raise _Unsafe("a \\left without its \\right")
                if closing:
                    self.at += 1
                return
            if token in ("^", "_"):
                self.at += 1
                if not based:
                    raise _Unsafe("a script with nothing before it")
                if token in scripts:
                    raise _Unsafe("a double script")
                scripts.add(token)
                self.argument(depth)
                continue
            if token == "'":  # a prime is a superscript: X^a' is a double superscript
                self.at += 1
                if "^" in scripts or not based:
                    raise _Unsafe("a prime after a superscript, or after nothing")
                scripts.add("^")  # X'_a^b is a double superscript
                continue
            scripts = set()
            based = token not in UNBASED  # no script attaches to spacing
            if token in ("\\left", "\\right"):
                self.at += 1
                self.delimiter()
                open_lefts += 1 if token == "\\left" else -1
                if open_lefts < 0:
                    raise _Unsafe("a \\right without its \\left")
                continue
            based = self.item(depth) and based

    def item(self, depth: int) -> bool:
        """One item; True when a script may follow it (not after \\bm of more than
        letters: \\bm{\\sum_a^b}^c puts two superscripts on the sum)."""
        token = self.take()
        if token == "{":
            self.sequence(depth + 1, "}")
        elif token == "\\text":
            self.text()
        elif token.startswith("\\"):
            name = token[1:]
            if name in ARGUMENTS:
                bold = name in ("bm", "boldsymbol")
                self.bold += bold
                start = self.at
                for _ in range(ARGUMENTS[name]):
                    self.argument(depth)
                self.bold -= bold
                if bold and not all(t in "{} " or t.isascii() and t.isalnum() for t in self.tokens[start:self.at]):
                    return False
            elif name not in SYMBOLS and not (len(name) == 1 and name in SPACING_SYMBOLS):
                raise _Unsafe(f"the command {token}")
        elif token in ("%", "#", "$"):
            raise _Unsafe(f"the character {token!r}")
        elif not token.isascii() or not token.isprintable():
            raise _Unsafe("a character outside ASCII")
        return True

    def argument(self, depth: int) -> None:
        """The argument of a script or a command: a braced group, one letter or
        digit, or a plain symbol (``W^\\top``, ``\\delta_{pi}``).  Anything else
        unbraced (``X_\\frac{a}{b}``, ``X_\\sum``, ``W^\\,``, ``X_'``) is an error in
        TeX, or close to one, and is refused."""
        token = self.peek()
        if token == "{":
            self.item(depth)
            return
        if token is not None and (token.isascii() and token.isalnum() or not self.bold
                                  and token.startswith("\\") and token[1:] in SCRIPT_SYMBOLS):
            self.at += 1
            return
        raise _Unsafe("an argument that is neither braced nor one plain symbol")

    def delimiter(self) -> None:
        token = self.take()
        if token in DELIMITER_CHARACTERS or (token.startswith("\\") and token[1:] in DELIMITER_COMMANDS):
            return
        raise _Unsafe("a \\left or \\right without a delimiter")

    def text(self) -> None:
        if self.take() != "{":
            raise _Unsafe("\\text without braces")
        while True:
            token = self.take()
            if token == "}":
                return
            if token != " " and token not in TEXT_CHARACTERS:
                raise _Unsafe("\\text with more than words")


def safe_maths(text: str) -> str | None:
    """``text`` (one step's LaTeX) ready to typeset in a display, or None when it
    is not safe to: see the module's docstring.  Alignment marks and line ends
    (``&``, ``\\\\``, ``\\nonumber``) are dropped; they mean nothing in one step."""
    if not text or len(text) > MAX_SHOWN or not text.isascii():
        return None
    if any(ch in "%#$" or (ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in text):
        return None
    tokens = _tokens(text)
    checker = _Checker(tokens)
    try:
        checker.sequence(0, None)
    except _Unsafe:
        return None
    kept = "".join(checker.tokens).strip()
    return kept or None


def plain_text(text: object, limit: int = MAX_PLAIN) -> str:
    """Text from the user's file as plain ASCII for a template's |e filter: a
    character outside ASCII as <U+XXXX> (pdflatex would stop at one it has no
    glyph for), control characters as spaces, and at most ``limit`` characters."""
    out = "".join(ch if ch.isascii() and (ch.isprintable()) else
                  (" " if not ch.isprintable() and ord(ch) < 128 else f"<U+{ord(ch):04X}>") for ch in str(text))
    return out if len(out) <= limit else out[:limit] + " [...]"


def report_filename(name: str) -> str:
    """The annotated report's file name for notes named ``name``: ``notes.tex`` ->
    ``notes_report.tex``; characters other than letters, digits, ``-`` and ``_``
    become ``_`` (the name is read by LaTeX and shells)."""
    stem = Path(name).stem or "notes"
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in stem)[:80]
    return stem + REPORT_SUFFIX


def exit_status(report: NotesReport) -> ExitStatus:
    """0 every derivation proven and nothing refused; 2 something unreadable or
    refused (as for a .sd file, this comes first); 1 a step false, with a
    counterexample; 3 otherwise (a step only checked at concrete sizes)."""
    if report.unreadable or not report.derivations:
        return ExitStatus.BAD_INPUT
    if report.first_false is not None:
        return ExitStatus.REFUTED
    if report.proven:
        return ExitStatus.VERIFIED
    return ExitStatus.UNDECIDED


# ---------------------------------------------------------------------------
# The text report
# ---------------------------------------------------------------------------

REFUSED_CAVEAT = ("the notes state something that cannot be checked as stated (a refusal, among the remarks); "
                  "the steps were checked without it, so their verdicts do not stand for the notes as written")
REMARK_WORDS = {READING: "reading", REFUSAL: "REFUSED", SLIP: "slip", SKIPPED: "skipped"}


def _at(line: int, column: int) -> str:
    return f"line {line}" + (f", column {column}" if column else "")


def _column(checked, number: int) -> int:
    columns = checked.note.columns
    return columns[number] if number < len(columns) else 0


def _terminal(text: str) -> str:
    one_line = " ".join(plain_text(text, MAX_TERMINAL * 2).split())
    return one_line if len(one_line) <= MAX_TERMINAL else one_line[:MAX_TERMINAL] + " [...]"


def _lines(checked) -> str:
    steps = checked.note.derivation.steps
    lines = sorted({s.line for s in steps if s.line})
    if not lines:
        return ""
    return f"line {lines[0]}" if lines[0] == lines[-1] else f"lines {lines[0]}-{lines[-1]}"


def _counterexample(step, stream: TextIO, indent: str, upstream: tuple[str, str] | None) -> None:
    found = step.counterexample
    if found is None:
        return
    at = ", ".join(f"{k}={v}" for k, v in {**found["sizes"], **found["indices"]}.items())
    print(f"{indent}counterexample at {at}: {found['reason']}", file=stream)
    if found["lhs"] is not None:
        print(f"{indent}  line {step.before.line}: {found['lhs']}", file=stream)
        print(f"{indent}  line {step.after.line}: {found['rhs']}", file=stream)
        if upstream and any(f"{upstream[0]}_" in str(side) for side in (found["lhs"], found["rhs"])):
            print(f"{indent}  ({upstream[0]}_pq stands for df/d{upstream[1]}_pq)", file=stream)


def _print_derivation(number: int, checked, kind: str, stream: TextIO) -> None:
    derivation, report = checked.note.derivation, checked.report
    title = derivation.title or f"derivation {number}"
    where = _lines(checked)
    print(f"{title} ({where})" if where else title, file=stream)
    if derivation.steps:
        first = derivation.steps[0]
        print(f"  {_at(first.line, _column(checked, 0))}: {_terminal(first.text)}", file=stream)
    if report.error:
        print(f"  NOT CHECKED, does not make sense as stated: {report.error}", file=stream)
    for step in report.steps:
        what = "conclusion" if step.number in checked.note.conclusions else f"step {step.number}"
        verdict = "FALSE" if step.verdict == FALSE else step.verdict_text
        against = f", entry by entry against line {step.before.line}" if what == "conclusion" else ""
        rule = f", by {step.rule}" if step.rule else ""
        print(f"  {what} ({_at(step.after.line, _column(checked, step.number))}{rule}): {verdict}{against}",
              file=stream)
        if kind != "sd":
            print(f"      {_terminal(step.after.text)}", file=stream)
        print(f"      {step.method}", file=stream)
        _counterexample(step, stream, "      ", derivation.declarations.upstream)
    if report.proven:
        conclusions = len(checked.note.conclusions)
        print(f"  all {len(report.steps)} steps proven for all sizes"
              + (f" ({conclusions} of them {'a conclusion' if conclusions == 1 else 'conclusions'})"
                 if conclusions else ""), file=stream)
    elif report.first_false is not None:
        step = report.first_false
        print(f"  NOT proven: step {step.number} (line {step.after.line}) is false", file=stream)
    elif not report.error:
        unproven = [f"{s.number} (line {s.after.line})" for s in report.steps if s.verdict != PROVEN]
        coverage = report.coverage.text() if report.coverage else "not checked"
        print(f"  NOT proven: step{'s' if len(unproven) > 1 else ''} {', '.join(unproven)} only {coverage}"
              if unproven else "  NOT proven: no step to check", file=stream)


def _overall(report: NotesReport) -> str:
    count = len(report.derivations)
    steps = sum(len(d.report.steps) for d in report.derivations)
    found = f"{count} derivation{'s' if count != 1 else ''}, {steps} step{'s' if steps != 1 else ''}"
    if report.unreadable:
        refused = len(report.refusals) + sum(bool(d.report.error) for d in report.derivations)
        return f"NOT CHECKED as stated: {refused} refusal{'s' if refused != 1 else ''} ({found})"
    if report.first_false is not None:
        checked, step = report.first_false
        return (f"FALSE: the first false step is at line {step.after.line} (step {step.number} of derivation "
                f"{report.derivations.index(checked) + 1}), with a counterexample ({found})")
    if report.proven:
        return f"PROVEN for all sizes: every step of every derivation ({found})"
    if report.unread and all(d.proven for d in report.derivations):
        return (f"NOT proven as a whole: every step read is proven for all sizes, but {report.unread} "
                f"display{'s' if report.unread != 1 else ''} or conclusion{'s' if report.unread != 1 else ''} "
                f"could not be read or checked (see the remarks) ({found})")
    return f"NOT proven: no step false, but not every step proven, only checked ({found})"


def print_notes_report(report: NotesReport, stream: TextIO, written: list[Path] | None = None) -> None:
    """The report on the terminal: every verdict at its line, then remarks, skips and the outcome."""
    document = report.document
    print(f"{document.name}: {len(report.derivations)} derivation{'s' if len(report.derivations) != 1 else ''} "
          f"found", file=stream)
    if report.refusals:
        print(f"  {REFUSED_CAVEAT}", file=stream)
    for number, checked in enumerate(report.derivations, start=1):
        _print_derivation(number, checked, document.kind, stream)
    if document.remarks:
        print("remarks:", file=stream)
        for remark in sorted(document.remarks, key=lambda r: (r.line, r.column)):
            word = REMARK_WORDS.get(remark.kind, remark.kind)
            print(f"  {_at(remark.line, remark.column)}: {word}: {_terminal(remark.text)}", file=stream)
    if document.skipped:
        skipped = ", ".join(f"{count} {what}" for what, count in sorted(document.skipped.items()))
        print(f"skipped (not derivations): {skipped}", file=stream)
    print(_overall(report), file=stream)
    if written:
        print(f"wrote {', '.join(map(str, written))}", file=stream)


# ---------------------------------------------------------------------------
# The annotated LaTeX report
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shown:
    """A step as the report shows it: maths to typeset, or else plain text."""

    tex: str | None
    plain: str | None

    def data(self) -> dict[str, Any]:
        return {"tex": self.tex, "plain": self.plain}


def _shown(step, kind: str, printer) -> _Shown:
    if kind == "sd":  # typeset from the tree: symderive's own printer, never the user's text
        return _Shown(printer(step.expression), None)
    tex = safe_maths(step.text)
    return _Shown(tex, None) if tex is not None else _Shown(None, plain_text(step.text))


def _mark(verdict: str) -> str:
    return {PROVEN: "proven", CHECKED: "checked", FALSE: "false"}.get(verdict, "checked")


def _counterexample_data(step) -> dict[str, Any] | None:
    found = step.counterexample
    if found is None:
        return None
    return {"at": ", ".join(f"{k} = {v}" for k, v in {**found["sizes"], **found["indices"]}.items()),
            "reason": found["reason"],
            "lhs": None if found["lhs"] is None else plain_text(found["lhs"]),
            "rhs": None if found["rhs"] is None else plain_text(found["rhs"]),
            "before_line": step.before.line, "after_line": step.after.line}


def _derivation_data(number: int, checked, kind: str) -> dict[str, Any]:
    from .render import IndexPrinter

    derivation, report = checked.note.derivation, checked.report
    upstream, output = derivation.declarations.upstream or (None, None)
    printer = IndexPrinter(upstream, output, True)
    steps = derivation.steps
    first = steps[0] if steps else None
    return {
        "number": number,
        "title": plain_text(derivation.title or f"Derivation {number}"),
        "heading": plain_text((derivation.title or f"Derivation {number}")
                              + (f" ({_lines(checked)})" if _lines(checked) else "")),
        "first": None if first is None else {"line": first.line, **_shown(first, kind, printer).data()},
        "error": plain_text(report.error) if report.error else "",
        "proven": report.proven,
        "false_step": None if report.first_false is None else report.first_false.number,
        "steps": [{
            "number": step.number,
            "line": step.after.line,
            "column": _column(checked, step.number),
            "conclusion": step.number in checked.note.conclusions,
            "before_line": step.before.line,
            "mark": _mark(step.verdict),
            "verdict": step.verdict_text,
            "rule": plain_text(step.rule) if step.rule else "",
            "method": plain_text(step.method),
            "counterexample": _counterexample_data(step),
            **_shown(step.after, kind, printer).data(),
        } for step in report.steps],
    }


def report_data(report: NotesReport) -> dict[str, Any]:
    """Everything the template shows, as plain data: text already made ASCII
    (and escaped by the template), maths already checked by :func:`safe_maths`."""
    document = report.document
    return {
        "file": plain_text(document.name),
        "kind": document.kind,
        "derivations": [_derivation_data(n, d, document.kind) for n, d in enumerate(report.derivations, 1)],
        "remarks": [{"line": r.line, "column": r.column, "kind": REMARK_WORDS.get(r.kind, plain_text(r.kind)),
                     "text": plain_text(r.text)}
                    for r in sorted(document.remarks, key=lambda r: (r.line, r.column))],
        "skipped": [{"what": plain_text(what), "count": count} for what, count in sorted(document.skipped.items())],
        "overall": plain_text(_overall(report)),
        "proven": report.proven,
        "caveat": REFUSED_CAVEAT if report.refusals else "",
    }


def text_tex(text: object) -> str:
    """Plain text as LaTeX (the template's |t filter): escaped, and < > | written as
    text symbols (in the default font encoding they would print as other glyphs)."""
    from .render import escape_latex

    out = escape_latex(plain_text(text, limit=10 * MAX_PLAIN))
    return out.replace("<", r"\textless{}").replace(">", r"\textgreater{}").replace("|", r"\textbar{}")


def report_files(report: NotesReport, name: str, form: str = "latex") -> dict[str, str]:
    """The annotated report in ``form`` (render.FORMATS), file name -> text, from one
    report_data: NAME_report.tex (latex), NAME_report_slides.tex (a beamer
    presentation), NAME_report.md (a Markdown page)."""
    from .render import FORMATS, SLIDES_SUFFIX, environment

    stem = report_filename(name)[:-len(".tex")]
    if form == "latex":
        return {stem + ".tex": render_notes_report(report)}
    if form not in FORMATS:
        raise ValueError(f"unknown format {form!r}; expected one of {', '.join(FORMATS)}")
    env = environment()
    env.filters["t"] = text_tex
    data = report_data(report)
    if form == "beamer":
        return {stem + SLIDES_SUFFIX + ".tex": env.get_template("beamer_notes.tex.j2").render(**data)}
    return {stem + ".md": env.get_template("markdown_notes.md.j2").render(**data)}


def render_notes_report(report: NotesReport) -> str:
    """The annotated report as a standalone LaTeX document (same report, same bytes)."""
    from .render import environment

    env = environment()
    env.filters["t"] = text_tex
    return env.get_template("notes_report.tex.j2").render(**report_data(report))
