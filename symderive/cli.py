"""Command line: ``python -m symderive --n 3 --m 2 --d 4`` (or the ``symderive`` script).

:func:`main` takes an argument list and returns an exit status, so tests call
it in-process; :func:`run` is the console-script entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

from . import __version__
from .errors import BadInput, ExitStatus, SymderiveError
from .pipeline import DEFAULT_MAX_WORK, DEFAULT_SIZES, Derivation, derive
from .render import output_filename, write_atomic
from .shapes import size_argument

__all__ = ["main", "run"]

DEFAULT_OUT = "output"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error becomes BadInput: one line, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise BadInput(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symderive",
        description=(
            "Derive df/dX and df/dW for Y = X W (X: n x m, W: m x d) by the index-summation "
            "chain rule, check the closed forms df/dX = G W^T and df/dW = X^T G exactly, "
            "and write a LaTeX document of the derivation."
        ),
        epilog="Exit status: 0 every identity verified, 1 an identity failed, 2 bad input.",
    )
    for flag, meaning in (("n", "rows of X and of Y"), ("m", "columns of X, rows of W"),
                          ("d", "columns of W and of Y")):
        parser.add_argument(f"--{flag}", metavar="N", default=str(DEFAULT_SIZES[flag]),
                            help=f"{meaning}, a positive integer (default {DEFAULT_SIZES[flag]})")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"folder to write the .tex file into (default ./{DEFAULT_OUT}, "
                             "created if missing; a folder given here must exist)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON on stdout instead of the summary")
    parser.add_argument("--max-work", metavar="UNITS", default=str(DEFAULT_MAX_WORK),
                        help="refuse sizes estimated to need more work than this "
                             f"(default {DEFAULT_MAX_WORK:,}, about a minute)")
    parser.add_argument("--version", action="version", version=f"symderive {__version__}")
    return parser


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


def _summary(derivation: Derivation, path: Path, stream: TextIO) -> None:
    shapes = ", ".join(f"{name}: {r}x{c}" for name, (r, c) in derivation.shapes.items())
    sizes = ", ".join(f"{k}={v}" for k, v in derivation.sizes.items())
    print(f"{derivation.output_name} = {derivation.expression}   with {shapes} ({sizes})", file=stream)
    for name, jac in derivation.jacobians.items():
        shape = "x".join(map(str, jac.shape))
        print(f"  d{derivation.output_name}/d{name}: {shape} tensor, "
              f"{jac.nnz} of {jac.size} entries nonzero", file=stream)
    for identity in derivation.identities:
        mark = "verified" if identity.holds else "FAILED  "
        detail = identity.verdict.method
        if identity.witness is not None:
            detail += f"; {identity.witness.method}"
        print(f"  {mark} {identity.statement}", file=stream)
        print(f"           {detail}", file=stream)
        found = identity.verdict.counterexample
        if found is not None:
            print(f"           at {found.index}: {found.lhs} against {found.rhs}", file=stream)
        elif identity.verdict.reason:
            print(f"           {identity.verdict.reason}", file=stream)
    count = len(derivation.identities)
    if derivation.verified:
        print(f"  all {count} identities verified exactly at these sizes "
              "(a check at these sizes, not a proof for all sizes)", file=stream)
    else:
        failed = sum(not identity.holds for identity in derivation.identities)
        print(f"  {failed} of {count} identities NOT verified", file=stream)
    print(f"  wrote {path}", file=stream)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the command line on ``argv``; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
        sizes = {k: size_argument(f"--{k}", getattr(args, k)) for k in ("n", "m", "d")}
        max_work = size_argument("--max-work", args.max_work)
        folder = _output_folder(args.out)
        derivation = derive(**sizes, max_work=max_work)
        path = folder / output_filename(derivation)
        write_atomic(path, derivation.latex())
    except SymderiveError as error:
        print(f"symderive: error: {error}", file=stderr)
        return int(error.exit_status)
    except SystemExit as leaving:  # --help and --version
        return int(leaving.code or 0)
    except KeyboardInterrupt:
        print("symderive: interrupted; no file was written or changed", file=stderr)
        return 130
    if args.json:
        report = derivation.report()
        report["output"] = str(path)
        print(json.dumps(report, indent=2, sort_keys=True), file=stdout)
    else:
        _summary(derivation, path, stdout)
    return int(ExitStatus.VERIFIED if derivation.verified else ExitStatus.REFUTED)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
