"""Command line.

    python -m symderive --n 3 --m 2 --d 4                 the seed note's Y = X W
    python -m symderive derive EXPR [--shape X=3x2 ...]   any expression
    python -m symderive check EXPR --wrt X --claim CLAIM  is CLAIM the gradient?

:func:`main` takes an argument list and returns an exit status, so tests call
it in-process; :func:`run` is the console-script entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence, TextIO

from . import __version__, budget
from .budget import DEFAULT_TIME_LIMIT, TimeLimitReached, format_seconds, time_limit_argument
from .domains import domain_text
from .errors import BadInput, ExitStatus, SymderiveError
from .pipeline import (DEFAULT_MAX_WORK, DEFAULT_SIZES, INCONSISTENT, REFUTED, UNDECIDED, VERIFIED, CheckResult,
                       Derivation, check, derive, outcome_note, region_text)
from .latex import compile_pdf, find_engine
from .progress import Progress
from .program import looks_like_program, read_program
from .render import FORMATS, UPSTREAM_NOTATIONS, InterruptedAfterWriting, document_files, write_files
from .shapes import shape_argument, size_argument

__all__ = ["main", "run"]

DEFAULT_OUT = "output"
COMMANDS = ("derive", "check", "prove")
EPILOG = ("Exit status: 0 verified, every identity checked exactly; 1 refuted, with an entry where the "
          "two sides differ and both values, or shapes that differ; 3 undecided, none refuted but an entry "
          "the exact check could not decide (or an exact check the numeric witness contradicts, an internal "
          "inconsistency), or the time limit ran out first (nothing written); 2 bad input (or, with --pdf, "
          "no LaTeX engine or a failed compilation); 4 an internal error of symderive's (please report it).")
EXIT = {VERIFIED: ExitStatus.VERIFIED, REFUTED: ExitStatus.REFUTED, UNDECIDED: ExitStatus.UNDECIDED}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error becomes BadInput: one line, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise BadInput(message)


def _size_flags(parser: argparse.ArgumentParser, defaults: bool) -> None:
    for flag, meaning in (("n", "rows of X"), ("m", "columns of X, rows of W"),
                          ("d", "columns of W")):
        default = f" (default {DEFAULT_SIZES[flag]})" if defaults else ""
        parser.add_argument(f"--{flag}", metavar="N", default=str(DEFAULT_SIZES[flag]) if defaults else None,
                            help=f"{meaning}, a positive integer{default}")


def _common_flags(parser: argparse.ArgumentParser, document: bool) -> None:
    if document:
        parser.add_argument("--out", metavar="DIR", default=None,
                            help=f"folder to write the .tex files into (default ./{DEFAULT_OUT}, "
                                 "created if missing; a folder given here must exist): the "
                                 "standalone document NAME.tex and the fragment NAME_fragment.tex")
        parser.add_argument("--pdf", action="store_true",
                            help="also compile the standalone document (with --format beamer, the "
                                 "slides) into a PDF beside it (latexmk or pdflatex, shell escape off)")
        _format_flag(parser, "NAME.tex and NAME_fragment.tex")
        parser.add_argument("--upstream-notation", choices=UPSTREAM_NOTATIONS, default="fraction",
                            help="write the upstream gradient in closed forms as the note does, "
                                 "df/dY as a fraction (default), or by its short name, G")
        parser.add_argument("--plain-names", action="store_true",
                            help="matrix names in plain italics, not bold (the note's)")
        parser.add_argument("--title", metavar="TEXT", default=None,
                            help="a title of your own for the document (plain text)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON on stdout instead of the summary")
    parser.add_argument("--max-work", metavar="UNITS", default=str(DEFAULT_MAX_WORK),
                        help="refuse sizes estimated to need more work than this "
                             f"(default {DEFAULT_MAX_WORK:,}, about 20 s; for expressions the estimate "
                             "does not model, a lower bound of the work is held against it)")
    _time_limit_flag(parser)


def _format_flag(parser: argparse.ArgumentParser, latex: str) -> None:
    parser.add_argument("--format", choices=FORMATS, default="latex",
                        help=f"latex (default): {latex}; beamer: a beamer presentation NAME_slides.tex, "
                             "one step a frame; markdown: a page NAME.md for Jupyter Book, Quarto or "
                             "MkDocs, its maths in $$...$$ for KaTeX and MathJax")


def _check_format(args) -> None:
    """Refused before any work: a PDF of a Markdown page."""
    if getattr(args, "pdf", False) and args.format == "markdown":
        raise BadInput("--pdf compiles LaTeX; a Markdown page (--format markdown) is not compiled: "
                       "leave out --pdf, or use --format latex or beamer")


def _time_limit_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-limit", metavar="SECONDS", default=None,
                        help="stop the run after this many seconds of wall-clock time, saying what "
                             "was decided by then, with exit status 3 and nothing written "
                             f"(default {format_seconds(DEFAULT_TIME_LIMIT)})")


def _expression_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", metavar="EXPR", nargs="?", default=None,
                        help="e.g. 'tanh(X @ W + b)'; @ product, * entrywise product, .T transpose, "
                             "+ - / **, trace sum det inv adj exp log tanh sigmoid sin cos sqrt")
    parser.add_argument("--file", metavar="PATH", default=None,
                        help="read EXPR from a file instead: a program of named steps, e.g. "
                             "'X : n x m; W : m x d; Z = X @ W; L = sum(tanh(Z))' (see README)")
    parser.add_argument("--size", metavar="NAME=VALUE", action="append", default=[],
                        help="the value of a size of a program, e.g. --size n=4 (repeatable)")
    parser.add_argument("--shape", metavar="NAME=RxC", action="append", default=[],
                        help="the shape of a matrix, e.g. --shape X=3x2 (repeatable); "
                             "shapes not given are inferred")
    parser.add_argument("--upstream", metavar="NAME", default=None,
                        help="name of the upstream gradient df/dY of a matrix-valued expression "
                             "(default G; derive picks G1, G2, ... when G names a matrix)")
    _size_flags(parser, defaults=False)


def _parsers() -> dict[str, argparse.ArgumentParser]:
    note = _Parser(
        prog="symderive",
        description=(
            "Derive df/dX and df/dW for Y = X W (X: n x m, W: m x d) by the index-summation "
            "chain rule, check the closed forms df/dX = G W^T and df/dW = X^T G exactly, "
            "and write a LaTeX document of the derivation.  Other expressions: "
            "'symderive derive EXPR'; checking a claimed gradient: 'symderive check EXPR "
            "--wrt NAME --claim CLAIM'."),
        epilog=EPILOG)
    _size_flags(note, defaults=True)
    _common_flags(note, document=True)
    note.add_argument("--version", action="version", version=f"symderive {__version__}")

    derive_parser = _Parser(
        prog="symderive derive",
        description="Derive the gradient of EXPR with respect to each of its matrices by the "
                    "index-summation chain rule, find and verify the closed forms, and write "
                    "a LaTeX document.",
        epilog=EPILOG)
    _expression_flags(derive_parser)
    derive_parser.add_argument("--wrt", metavar="NAME", action="append", default=None,
                               help="differentiate by this matrix only (repeatable; default all)")
    _common_flags(derive_parser, document=True)

    check_parser = _Parser(
        prog="symderive check",
        description="Check exactly whether CLAIM is the gradient of EXPR with respect to NAME "
                    "(for a matrix-valued EXPR, against the upstream gradient G = df/dY).",
        epilog=EPILOG)
    _expression_flags(check_parser)
    check_parser.add_argument("--wrt", metavar="NAME", required=True,
                              help="the matrix the gradient is taken with respect to")
    check_parser.add_argument("--claim", metavar="CLAIM", required=True,
                              help="the claimed gradient, e.g. 'G @ W.T'")
    _common_flags(check_parser, document=False)
    prove_parser = _Parser(
        prog="symderive prove",
        description="Check derivations written in index notation, step by step: each step is "
                    "proven for all sizes, or checked at every size up to K, or shown false with a "
                    "counterexample.  FILE is lecture notes in LaTeX (.tex) or Markdown with $$...$$ "
                    "maths (.md), whose chains of equalities are the derivations, or symderive's own "
                    "derivation format (.sd, any other name); see README.md.",
        epilog="Exit status: 0 every step of every derivation proven for all sizes (and nothing refused); "
               "1 a step false, with a counterexample; 3 none false but a step not proven (checked at "
               "concrete sizes only), or the time limit ran out first; 2 the file cannot be read, holds "
               "no derivation, or does not make sense as stated (a product that does not conform, a "
               "derivative of the upstream gradient) -- this comes before 1 and 3.")
    prove_parser.add_argument("file", metavar="FILE",
                              help="the notes or derivation, e.g. examples/note_sections.tex or "
                                   "examples/note_section3.sd")
    prove_parser.add_argument("--k", metavar="K", default="3",
                              help="check unproven steps at every size from 1 to K (default 3, at most 6)")
    prove_parser.add_argument("--json", action="store_true",
                              help="print the report as JSON on stdout instead of the summary")
    prove_parser.add_argument("--out", metavar="DIR", default=None,
                              help="also write the annotated LaTeX report NAME_report.tex into this "
                                   "existing folder: every step with a mark and its reason")
    _format_flag(prove_parser, "the report NAME_report.tex (with --out)")
    _time_limit_flag(prove_parser)
    return {"note": note, "derive": derive_parser, "check": check_parser, "prove": prove_parser}


def _output_folder(given: str | None) -> Path:
    """The folder to write into, checked before any work is done."""
    folder = Path(given if given is not None else DEFAULT_OUT)
    if given is None and not folder.exists():
        folder.mkdir(parents=True)
    if not folder.exists():
        raise BadInput(f"--out: the folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise BadInput(f"--out: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"--out: the folder {str(folder)!r} is not writable")
    return folder


def _shapes(args) -> dict[str, tuple[int, int]]:
    shapes: dict[str, tuple[int, int]] = {}
    for text in args.shape:
        name, shape = shape_argument(text)
        if name in shapes and shapes[name] != shape:
            raise BadInput(f"--shape: {name} is given two shapes")
        shapes[name] = shape
    return shapes


def _sizes(args) -> dict[str, int | None]:
    return {k: None if getattr(args, k) is None else size_argument(f"--{k}", getattr(args, k))
            for k in ("n", "m", "d")}


def _shape_line(shapes: dict, defaulted: dict) -> str:
    parts = []
    for name, (r, c) in shapes.items():
        note = " (default)" if name in defaulted else ""
        parts.append(f"{name}: {r}x{c}{note}")
    return ", ".join(parts)


def _summary(derivation: Derivation, paths: list[Path], stream: TextIO) -> None:
    sizes = ", ".join(f"{k}={v}" for k, v in derivation.sizes.items())
    print(f"{derivation.output_name} = {derivation.expression}   with "
          f"{_shape_line(derivation.shapes, derivation.defaulted)}" + (f" ({sizes})" if sizes else ""),
          file=stream)
    if derivation.defaulted:
        print("  sizes marked (default) were not given: lower-case names are column vectors, "
              "other free dimensions get small distinct sizes; fix them with --shape", file=stream)
    if derivation.upstream_name is None:
        print(f"  {derivation.output_name} is 1x1: differentiated directly (f = {derivation.output_name})",
              file=stream)
    for name, jac in derivation.jacobians.items():
        shape = "x".join(map(str, jac.shape))
        print(f"  d{derivation.output_name}/d{name}: {shape} tensor, "
              f"{jac.nnz:,} of {jac.size:,} entries nonzero", file=stream)
    indent = "           "
    for identity in derivation.identities:
        status, witness = identity.status, identity.witness
        mark = {VERIFIED: "verified", REFUTED: "FAILED  ", UNDECIDED: "UNDECIDED"}[status]
        print(f"  {mark} {identity.statement}", file=stream)
        if status == VERIFIED:
            print(indent + identity.verdict.method + ("" if witness is None else f"; {witness.method}"),
                  file=stream)
            continue
        note = outcome_note(identity.verdict, witness)
        print(indent + identity.verdict.method, file=stream)
        _counterexample_lines(identity.verdict, stream, indent)
        if note:
            print(indent + note, file=stream)
        if witness is not None and note in ("", INCONSISTENT):
            print(f"{indent}numeric witness: {witness.method}", file=stream)
    for wrt, report in derivation.general_proofs.items():
        state = "proven for all sizes" if report.proven else "NOT proven for all sizes"
        print(f"  general proof of df/d{wrt}: {len(report.steps)} steps, {state}", file=stream)
    count = len(derivation.identities)
    if derivation.domain_text:  # where every verdict above holds: kinks, logs, divisions
        print(f"  every verdict here is about the points {derivation.domain_text}", file=stream)
    every = {1: "the only identity", 2: "both identities"}.get(count, f"all {count:,} identities")
    if derivation.verified and derivation.proven_for_all_sizes:
        print(f"  {every} verified exactly at these sizes, and the closed forms "
              "proven for all sizes, every step checked", file=stream)
    elif derivation.verified:
        print(f"  {every} verified exactly at these sizes "
              "(a check at these sizes, not a proof for all sizes)", file=stream)
    else:
        statuses = [identity.status for identity in derivation.identities]
        failed = sum(status != VERIFIED for status in statuses)
        kinds = ", ".join(f"{statuses.count(status)} {status}" for status in (REFUTED, UNDECIDED)
                          if status in statuses)
        print(f"  {failed} of {count} identities NOT verified ({kinds})", file=stream)
    print(f"  wrote {', '.join(map(str, paths))}", file=stream)


def _counterexample_lines(verdict, stream: TextIO, indent: str = "           ") -> None:
    """The one line that names the failing entry and both values (or why the shapes differ)."""
    found = verdict.counterexample
    if found is not None and found.decided:
        print(f"{indent}entry {found.index} differs: derived {found.lhs}, claimed {found.rhs}, "
              f"difference {found.difference}", file=stream)
        if found.region:  # kinked functions: the sign region where the claim fails
            print(f"{indent}{region_text(found)}", file=stream)
    elif found is not None:
        print(f"{indent}entry {found.index} is undecided: derived {found.lhs}, claimed {found.rhs}; "
              f"their difference, {found.difference}, could be neither brought to 0 nor shown nonzero",
              file=stream)
    elif verdict.reason:
        print(f"{indent}{verdict.reason}", file=stream)


def _check_summary(result: CheckResult, stream: TextIO) -> None:
    print(f"d f/d{result.wrt} for {result.expression}   claim: {result.claim}", file=stream)
    print(f"  with {_shape_line(result.shapes, result.defaulted)}", file=stream)
    if result.upstream_name is None:
        print("  the expression is 1x1: differentiated directly", file=stream)
    else:
        print(f"  against the upstream gradient {result.upstream_name} = df/dY", file=stream)
    status, witness = result.status, result.witness
    note = outcome_note(result.verdict, witness)
    if status == VERIFIED:
        print(f"  VERIFIED exactly: {result.verdict.method}", file=stream)
        if result.domain_text:
            print(f"  holds {result.domain_text}", file=stream)
        if witness is not None:
            print(f"  numeric witness: {witness.method}", file=stream)
        if result.for_all_sizes:
            print(f"  PROVEN for all sizes: df/d{result.wrt} derived step by step in index notation, every "
                  "step proven, and the claim equal to the result", file=stream)
        else:
            print("  (a check at these sizes, not a proof for all sizes)", file=stream)
        return
    if note == INCONSISTENT:
        print(f"  UNDECIDED: {note}", file=stream)
        print(f"  exact check, 0 in every entry: {result.verdict.method}", file=stream)
        print(f"  numeric witness: {witness.method}", file=stream)
        return
    print(f"  {status.upper()}: {result.verdict.method}", file=stream)
    if result.domain_text and status == UNDECIDED:
        print(f"  (the claim was considered {result.domain_text})", file=stream)
    _counterexample_lines(result.verdict, stream, indent="  ")
    if note:  # says where the witness disagrees, and what that means
        print(f"  {note}", file=stream)
    elif witness is not None:
        print(f"  numeric witness: {witness.method}", file=stream)


def _prove_summary(report, path: str, stream: TextIO) -> None:
    from .prove import FALSE, PROVEN

    title = report.derivation.title or "derivation"
    print(f"{title} ({path})", file=stream)
    if report.error:
        print(f"  does not make sense as stated: {report.error}", file=stream)
        return
    for step in report.steps:
        rule = f", by {step.rule}" if step.rule else ""
        verdict = "FALSE" if step.verdict == FALSE else step.verdict_text
        print(f"  step {step.number} (line {step.after.line}{rule}): {verdict}", file=stream)
        print(f"      {step.method}", file=stream)
        found = step.counterexample
        if found is not None:
            at = ", ".join(f"{k}={v}" for k, v in {**found["sizes"], **found["indices"]}.items())
            print(f"      counterexample at {at}: {found['reason']}", file=stream)
            if found["lhs"] is not None:
                print(f"        line {step.before.line}: {found['lhs']}", file=stream)
                print(f"        line {step.after.line}: {found['rhs']}", file=stream)
    if report.proven:
        print(f"  all {len(report.steps)} steps proven for all sizes", file=stream)
    else:
        first = report.first_false
        unproven = [step.number for step in report.steps if step.verdict != PROVEN]
        print("  NOT proven: " + (f"step {first.number} is false" if first else
                                  f"step{'s' if len(unproven) > 1 else ''} "
                                  f"{', '.join(map(str, unproven))} not proven, only "
                                  f"{report.coverage.text() if report.coverage else 'not checked'}"),
              file=stream)


def _dash_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The arguments, with those that start with a single '-' made unmistakable as values.

    argparse takes any argument starting with '-' for a flag, so a claim ``-A``,
    an expression ``-X@W`` or a title ``-draft`` was refused.  symderive's only
    single-dash flag is -h, so any other argument that starts with one '-' is a
    value: right after a flag that takes a value it is joined to it
    (``--claim=-A``); anywhere else it is the positional argument (EXPR, FILE) and
    goes after a ``--``, which ends the flags.  Each text reaches its reader
    unchanged.  Arguments that start with '--' stay flags, known or not, so an
    unknown flag is still refused.
    """
    # argparse keeps a parser's actions in _actions; a flag that takes one value has nargs None
    options = [option for action in parser._actions for option in action.option_strings]
    takes_value = {option for action in parser._actions if action.nargs is None
                   for option in action.option_strings}

    def takes_a_value(arg: str) -> bool:
        if arg in takes_value:
            return True
        matches = [option for option in options if option.startswith(arg)]  # --cl for --claim, as argparse
        return arg.startswith("--") and len(matches) == 1 and matches[0] in takes_value

    def dash_value(arg: str) -> bool:
        return arg.startswith("-") and not arg.startswith("--") and arg != "-"

    kept: list[str] = []
    positional: list[str] = []
    k = 0
    while k < len(argv):
        arg = argv[k]
        if arg == "--":  # the user ended the flags: the rest is positional already
            positional += argv[k + 1:]
            break
        if takes_a_value(arg) and k + 1 < len(argv) and dash_value(argv[k + 1]):
            kept.append(f"{arg}={argv[k + 1]}")
            k += 2
            continue
        if dash_value(arg) and arg != "-h":
            positional.append(arg)
        else:
            kept.append(arg)
            if takes_a_value(arg) and k + 1 < len(argv):  # its value, whatever it looks like
                kept.append(argv[k + 1])
                k += 1
        k += 1
    return kept + (["--"] + positional if positional else [])


class _Stopped(Exception):
    """The time limit ran out: a message for stderr, and with --json a report for stdout."""

    def __init__(self, message: str, report: dict | None) -> None:
        super().__init__(message)
        self.report = report


def _stopped(reached: TimeLimitReached, args, written: Sequence[Path] = (), document: bool = True,
             after: str = "", **extra) -> _Stopped:
    """What to say when ``reached``: what was decided, what was written (only ever
    whole files), and how to allow more time."""
    parts = [reached.message]
    if written:
        parts.append(f"wrote {', '.join(map(str, written))} (whole){after}")
    elif document:
        parts.append("nothing was written")
    parts.append(f"raise the limit with --time-limit (it was {format_seconds(reached.seconds)} s)")
    report = None
    if args.json:
        report = {**extra, **reached.report()}
        if document or written:
            report["written"] = [str(path) for path in written]
    return _Stopped("; ".join(parts), report)


def _decided(derivation: Derivation) -> list[str]:
    """What a finished derivation decided, as the time limit's message lists it."""
    found = [f"{identity.statement} {'verified' if identity.holds else 'NOT verified'}"
             for identity in derivation.identities]
    found += [f"df/d{wrt} {'proven' if report.proven else 'NOT proven'} for all sizes"
              for wrt, report in derivation.general_proofs.items()]
    return found


def _main_and_fragment(texts: dict[Path, str]) -> tuple[Path, Path | None]:
    """The file to compile (the first) and the LaTeX fragment, if the format has one (the second)."""
    paths = list(texts)
    return paths[0], (paths[1] if len(paths) > 1 else None)


def _file_state(path: Path):
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _run(argv: list[str], stdout: TextIO) -> int:
    command = argv[0] if argv and argv[0] in COMMANDS else "note"
    parser = _parsers()[command]
    args = parser.parse_args(_dash_values(argv[1:] if command != "note" else argv, parser))
    seconds = time_limit_argument("--time-limit", DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit)
    started = time.monotonic()
    if command == "prove":
        return _run_prove(args, seconds, stdout)
    max_work = size_argument("--max-work", args.max_work)
    if command in ("derive", "check"):
        text = _program_text(args)
        if args.file is not None or looks_like_program(text):
            return _run_program(command, args, text, seconds, stdout)
        args.expression = text
        if args.size:
            raise BadInput("--size gives the sizes of a program's declarations (X : n x m); "
                           "for a single expression use --shape NAME=RxC")
    if command == "check":
        try:
            with budget.within(seconds):
                result = check(args.expression, args.wrt, args.claim, shapes=_shapes(args),
                               upstream=args.upstream, max_work=max_work, **_sizes(args))
        except TimeLimitReached as reached:
            raise _stopped(reached, args, document=False) from None
        if args.json:
            print(json.dumps(result.report(), indent=2, sort_keys=True), file=stdout)
        else:
            _check_summary(result, stdout)
        return int(EXIT[result.status])
    _check_format(args)
    folder = _output_folder(args.out)
    # checked before any work: a bad title or no LaTeX engine, and nothing is written
    notation = Derivation._notation(args.upstream_notation, not args.plain_names, args.title)
    engine = find_engine() if args.pdf else None
    progress = Progress()  # draws on stderr only when it is a terminal
    try:
        # Everything that can take long runs within the time limit; when it runs
        # out, nothing has been written.  The files are written after it, whole.
        with budget.within(seconds):
            if command == "note":
                derivation = derive(max_work=max_work, progress=progress, **_sizes(args))
            else:
                derivation = derive(args.expression, shapes=_shapes(args), wrt=args.wrt,
                                    upstream=args.upstream, max_work=max_work, progress=progress,
                                    **_sizes(args))
            budget.stage("writing the document")
            texts = {folder / name: text for name, text in document_files(derivation, notation, args.format).items()}
    except TimeLimitReached as reached:
        progress.close()
        raise _stopped(reached, args) from None
    path, fragment_path = _main_and_fragment(texts)
    try:
        write_files(texts)  # all or none
    except OSError as problem:
        raise BadInput(f"--out: cannot write into {folder}: {problem.strerror or problem}") from None
    pdf_path = None
    if args.pdf:
        pdf_target = path.with_suffix(".pdf")
        before = _file_state(pdf_target)
        try:
            with budget.within(max(seconds - (time.monotonic() - started), 1e-3)):
                budget.stage("compiling the PDF")
                pdf_path = compile_pdf(path, engine)
        except TimeLimitReached as reached:
            if _file_state(pdf_target) == before:  # else the PDF was in place just before the deadline
                reached = TimeLimitReached(seconds, reached.stage, _decided(derivation), [], [])
                raise _stopped(reached, args, written=list(texts),
                               after="; no PDF" + (" (an older one is kept)" if before else "")) from None
            pdf_path = pdf_target
    if args.json:
        report = derivation.report()
        report["output"] = str(path)
        report["fragment"] = None if fragment_path is None else str(fragment_path)
        report["format"] = args.format
        report["pdf"] = None if pdf_path is None else str(pdf_path)
        print(json.dumps(report, indent=2, sort_keys=True), file=stdout)
    else:
        _summary(derivation, list(texts) + ([pdf_path] if pdf_path else []), stdout)
    return int(EXIT[derivation.status])


NOTES_KINDS = {".tex": "tex", ".md": "md", ".markdown": "md"}  # any other name is a .sd derivation file
MAX_NOTES_BYTES = 1_000_000


def _notes_kind(path: str) -> str:
    return NOTES_KINDS.get(Path(path).suffix.lower(), "sd")


def _notes_text(path: str) -> str:
    """The text of a .tex or .md file, refused with one clear line when it cannot be read."""
    file = Path(path)
    if not file.exists():
        raise BadInput(f"{path!r} does not exist")
    if file.is_dir():
        raise BadInput(f"{path!r} is a directory, not a file")
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_NOTES_BYTES + 1)
    except OSError as problem:
        raise BadInput(f"cannot read {path!r}: {problem.strerror or problem}") from None
    return _utf8_text(data, repr(path), MAX_NOTES_BYTES)


def _utf8_text(data: bytes, label: str, limit: int) -> str:
    """A file's bytes as text: at most ``limit`` bytes of UTF-8 (a BOM dropped), or BadInput naming it."""
    if len(data) > limit:
        raise BadInput(f"{label} is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{label} is not UTF-8 text") from None


def _read_notes(path: str, kind: str):
    """The derivations of FILE as a NotesDocument: a .sd file is one derivation;
    .tex and .md notes are read by symderive.latex_notes (imported only here, so
    that .sd files need neither pylatexenc nor lark)."""
    from .notes import NoteDerivation, NotesDocument

    if kind == "sd":
        from .derivation_file import read_derivation_file

        return NotesDocument(path, "sd", [NoteDerivation(read_derivation_file(path))])
    text = _notes_text(path)
    try:
        from .latex_notes import read_notes
    except ImportError as missing:
        raise BadInput(f"cannot read .{kind} notes: {missing} (symderive.latex_notes needs the packages "
                       "pylatexenc and lark: pip install pylatexenc lark)") from None
    document = read_notes(text, path, kind)
    if not document.derivations and not any(r.kind == "refusal" for r in document.remarks):
        skipped = ", ".join(f"{count} {what}" for what, count in sorted(document.skipped.items()))
        raise BadInput(f"{path}: read {text.count(chr(10)) + 1} lines and found no derivation to check "
                       "(a chain of equalities in a display: align, equation, \\[ \\] or $$ $$)"
                       + (f"; skipped {skipped}" if skipped else ""))
    return document


def _check_notes(document, k: int):
    """notes.check_notes, one derivation at a time within the time limit, each
    stage named by its lines so that a run stopped by the limit says where."""
    from . import prove
    from .notes import CheckedDerivation, NotesReport

    checked = []
    for number, note in enumerate(document.derivations, start=1):
        steps = note.derivation.steps
        count = max(len(steps) - 1, 0)
        lines = sorted({step.line for step in steps if step.line})
        where = document.name if document.kind == "sd" else (
            f"derivation {number} of {document.name}" + (f" (lines {lines[0]}-{lines[-1]})" if lines else ""))
        budget.stage(f"checking the {count} steps of {where}")
        budget.pending("step 1" if count == 1 else f"steps 1 to {count}")
        checked.append(CheckedDerivation(note, prove.check_derivation(note.derivation, k=k)))
    return NotesReport(document, checked)


def _run_prove(args, seconds: float, stdout: TextIO) -> int:
    """prove FILE: read the derivations, check every step, print (and with --out write) the report."""
    from .notes_report import exit_status, print_notes_report, report_files

    k = size_argument("--k", args.k)
    if k > 6:
        raise BadInput(f"--k: at most 6, got {k}")
    if args.format != "latex" and args.out is None:
        raise BadInput(f"--format {args.format} chooses the form of the report written with --out DIR; give --out")
    folder = _output_folder(args.out) if args.out is not None else None  # checked before any work
    kind = _notes_kind(args.file)
    try:
        with budget.within(seconds):
            budget.stage(f"reading {args.file}")
            document = _read_notes(args.file, kind)
            report = _check_notes(document, k)
            if folder is not None:
                budget.stage("writing the report")
                texts = {folder / name: text for name, text in report_files(report, args.file, args.format).items()}
    except TimeLimitReached as reached:
        raise _stopped(reached, args, document=False, file=args.file) from None
    written: list[Path] = []
    if folder is not None:
        try:
            write_files(texts)
        except OSError as problem:
            raise BadInput(f"--out: cannot write into {folder}: {problem.strerror or problem}") from None
        written = list(texts)
    if args.json:
        data = {**report.data(), "k": k, "report": str(written[0]) if written else None}
        if kind == "sd":  # the fields a .sd file's report always had, at the top level
            data.update(report.derivations[0].report.data(), file=args.file)
        print(json.dumps(data, indent=2, sort_keys=True), file=stdout)
    elif kind == "sd":
        _prove_summary(report.derivations[0].report, args.file, stdout)
        if written:
            print(f"  wrote {', '.join(map(str, written))}", file=stdout)
    else:
        print_notes_report(report, stdout, written)
    return int(exit_status(report))


MAX_FILE_BYTES = 100_000


def _program_text(args) -> str:
    """EXPR, or the text of --file (never both)."""
    if args.file is None:
        if args.expression is None:
            raise BadInput("give an expression (EXPR) or a program file (--file PATH)")
        return args.expression
    if args.expression is not None:
        raise BadInput("give either EXPR or --file, not both")
    path = Path(args.file)
    if not path.exists():
        raise BadInput(f"--file: {args.file!r} does not exist")
    if path.is_dir():
        raise BadInput(f"--file: {args.file!r} is a directory, not a file")
    return _utf8_text(path.read_bytes(), f"--file: {args.file!r}", MAX_FILE_BYTES)


def _program_sizes(args) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for text in args.size:
        name, _, value = text.partition("=")
        name = name.strip()
        if not name or not value or not name.isidentifier():
            raise BadInput(f"--size: expected NAME=VALUE, e.g. --size n=4, got {text!r}")
        number = size_argument(f"--size {name}", value.strip())
        if name in sizes and sizes[name] != number:
            raise BadInput(f"--size: {name} is given two values")
        sizes[name] = number
    return sizes


def _run_program(command: str, args, text: str, seconds: float, stdout: TextIO) -> int:
    """derive and check of a program of named steps (symderive.network)."""
    from .network import check_program, derive_program

    program = read_program(text)
    if any(getattr(args, flag) is not None for flag in ("n", "m", "d")):
        raise BadInput("--n, --m and --d set the shapes of the note's X and W; a program's sizes are "
                       "given with --size NAME=VALUE")
    sizes, shapes = _program_sizes(args), _shapes(args)
    upstream = args.upstream if args.upstream is not None else "G"
    if command == "check":
        try:
            with budget.within(seconds):
                budget.stage(f"deriving and checking the claim d{program.output or 'f'}/d{args.wrt}")
                result = check_program(program, args.wrt, args.claim, sizes=sizes, shapes=shapes,
                                       upstream=upstream)
        except TimeLimitReached as reached:
            raise _stopped(reached, args, document=False) from None
        if args.json:
            print(json.dumps(result.report(), indent=2, sort_keys=True, default=str), file=stdout)
        else:
            _program_check_summary(result, stdout)
        return int(EXIT[result.status])
    _check_format(args)
    folder = _output_folder(args.out)
    notation = Derivation._notation(args.upstream_notation, not args.plain_names, args.title)
    engine = find_engine() if args.pdf else None
    from .render import program_files

    try:
        with budget.within(seconds):
            budget.stage("deriving the backward pass")
            derivation = derive_program(program, sizes=sizes, shapes=shapes, upstream=upstream)
            budget.stage("writing the document")
            texts = {folder / name: text for name, text in program_files(derivation, notation, args.format).items()}
    except TimeLimitReached as reached:
        raise _stopped(reached, args) from None
    path, fragment_path = _main_and_fragment(texts)
    try:
        write_files(texts)
    except OSError as problem:
        raise BadInput(f"--out: cannot write into {folder}: {problem.strerror or problem}") from None
    pdf_path = compile_pdf(path, engine) if args.pdf else None
    if args.json:
        report = derivation.report()
        report.update(output=str(path), fragment=None if fragment_path is None else str(fragment_path),
                      format=args.format, pdf=None if pdf_path is None else str(pdf_path))
        print(json.dumps(report, indent=2, sort_keys=True, default=str), file=stdout)
    else:
        _program_summary(derivation, list(texts) + ([pdf_path] if pdf_path else []), stdout)
    return int(EXIT[derivation.status])


def _program_summary(derivation, paths: list[Path], stream: TextIO) -> None:
    program, bp = derivation.program, derivation.backward
    sizes = ", ".join(f"{k}={v}" for k, v in derivation.sizes.items())
    print(f"program with output {program.output}" + (f" at {sizes}" if sizes else ""), file=stream)
    for step in bp.program.steps:
        print(f"  {step.name} = {step.expression}", file=stream)
    print("backward pass:", file=stream)
    checks = {(c.step, c.argument): c for c in derivation.local_checks}
    for step in bp.steps:
        local = checks[(step.step, step.argument)]
        proof = "proven for all sizes" if step.proven else f"NOT proven for all sizes ({step.proof_error})"
        print(f"  d{step.argument} += {step.contribution}   from {step.step}: {local.status} at these sizes, "
              f"{proof}", file=stream)
    print("gradients:", file=stream)
    for name, form in derivation.closed_forms.items():
        witness = derivation.witnesses.get(name)
        agrees = "" if witness is None else ("; numeric witness agrees" if witness.agrees else
                                              f"; numeric witness: {witness.method}")
        print(f"  dL/d{name} = {form}{agrees}", file=stream)
    if derivation.end_to_end:
        ok = all(v.holds for v in derivation.end_to_end.values())
        print(f"  end to end: every closed form {'verified' if ok else 'NOT verified'} exactly against the "
              f"chain rule of the whole program", file=stream)
    elif derivation.end_to_end_note:
        print(f"  end to end: {derivation.end_to_end_note}", file=stream)
    for name, form in derivation.textbook.items():
        proof = "proven for all sizes" if form.proven_for_all_sizes else "not proven for all sizes"
        print(f"  {form.assumption_text}: {name if name.startswith('d') else 'dL/d' + name}"
              f" = {form.form}; {form.status} at these sizes, {proof}", file=stream)
    lemmas = bp.lemmas
    proven = sum(lemma.proven for lemma in lemmas)
    print(f"  {proven} of {len(lemmas)} lemmas proven for all sizes", file=stream)
    status = derivation.status
    print(f"  {status.upper()} at these sizes; {derivation.proof_statement()}", file=stream)
    domain = derivation.domain()
    if domain:  # where every verdict above holds (kinks, logs, roots, division)
        print(f"  every verdict here holds {domain_text(domain)}", file=stream)
    print(f"  wrote {', '.join(map(str, paths))}", file=stream)


def _program_check_summary(result, stream: TextIO) -> None:
    program = result.derivation.program
    print(f"d{program.output}/d{result.wrt}   claim: {result.claim}", file=stream)
    print(f"  derived: {result.derivation.closed_forms.get(result.wrt)}", file=stream)
    if result.status == "verified":
        print(f"  VERIFIED exactly: {result.method}", file=stream)
        if result.for_all_sizes:
            under = f" {result.under}" if getattr(result, "under", "") else ""
            print(f"  PROVEN for all sizes{under}: d{program.output}/d{result.wrt} derived step by step in index "
                  "notation, every step proven, and the claim equal to the result", file=stream)
        else:
            print("  (a check at these sizes, not a proof for all sizes)", file=stream)
    elif result.status == "refuted":
        print(f"  REFUTED: {result.method}", file=stream)
        found = result.counterexample or {}
        if "index" in found:
            print(f"  entry {tuple(found['index'])} differs: derived {found.get('derived')}, "
                  f"claimed {found.get('claimed')}", file=stream)
        if "point" in found:
            point = "; ".join(f"{name} = {rows}" for name, rows in found["point"].items())
            print(f"  at {point}", file=stream)
        if "reason" in found:
            print(f"  {found['reason']}", file=stream)
    else:
        print(f"  UNDECIDED: {result.method}", file=stream)
        found = result.verdict.counterexample
        if found is not None:
            print(f"  entry {found.index} is undecided: derived {found.lhs}, claimed {found.rhs}; their "
                  f"difference could be neither brought to 0 nor shown nonzero", file=stream)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the command line on ``argv``; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        return _run(list(sys.argv[1:] if argv is None else argv), stdout)
    except _Stopped as stopped:
        if stopped.report is not None:
            print(json.dumps(stopped.report, indent=2, sort_keys=True), file=stdout)
        print(f"symderive: stopped: {stopped}", file=stderr)
        return int(ExitStatus.UNDECIDED)
    except SymderiveError as error:
        print(f"symderive: error: {error}", file=stderr)
        return int(error.exit_status)
    except SystemExit as leaving:  # --help and --version
        return int(leaving.code or 0)
    except InterruptedAfterWriting as interrupted:
        print(f"symderive: interrupted, after writing {', '.join(map(str, interrupted.paths))}", file=stderr)
        return 130
    except KeyboardInterrupt:
        print("symderive: interrupted; no file was written or changed", file=stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a bug of symderive's, never a verdict
        if os.environ.get("SYMDERIVE_DEBUG"):
            raise
        print(f"symderive: internal error ({type(error).__name__}: {error}); nothing was decided and no "
              "file was written; please report it (SYMDERIVE_DEBUG=1 shows the traceback)", file=stderr)
        return int(ExitStatus.INTERNAL_ERROR)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
