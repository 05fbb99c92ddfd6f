"""Compile a written document into a PDF with the LaTeX engine on this machine.

Used by ``--pdf``.  The engine is latexmk (driving pdflatex) when both are
installed, else pdflatex run twice (for the cross-references).  Shell escape is
always off, and latexmk reads no rc file (an rc file can switch it back on).
The compilation runs in a temporary folder; only the finished PDF is moved
beside the .tex, atomically, so a failed run leaves no half-written PDF and
keeps an older one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import SymderiveError
from .render import write_files

__all__ = ["LatexError", "find_engine", "compile_pdf", "INSTALL_HINT"]

INSTALL_HINT = ("install pdflatex, e.g. on Debian or Ubuntu: apt-get install texlive-latex-base "
                "texlive-latex-recommended (and latexmk, optional)")
TIMEOUT_SECONDS = 600
PDFLATEX_FLAGS = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]


class LatexError(SymderiveError):
    """No LaTeX engine, or the engine could not compile the document (exit status 2)."""


def find_engine() -> str:
    """"latexmk" or "pdflatex", whichever will drive the compilation; LatexError if
    pdflatex is missing (latexmk alone cannot compile anything)."""
    if shutil.which("pdflatex") is None:
        raise LatexError(f"--pdf: no LaTeX engine found (pdflatex is not on the PATH); {INSTALL_HINT}")
    return "latexmk" if shutil.which("latexmk") is not None else "pdflatex"


def _commands(engine: str, name: str) -> list[list[str]]:
    if engine == "latexmk":
        pdflatex = " ".join(["pdflatex", *PDFLATEX_FLAGS, "%O", "%S"])
        return [["latexmk", "-norc", "-pdf", f"-pdflatex={pdflatex}", "-quiet", name]]
    return [["pdflatex", *PDFLATEX_FLAGS, name]] * 2  # twice: the second pass resolves \ref


def _first_error(log: str) -> str:
    """The first error line of a LaTeX log (file-line-error style, or "! ...")."""
    for line in log.splitlines():
        parts = line.split(":", 2)
        if line.startswith("! ") or (len(parts) == 3 and parts[1].isdigit()):
            return line.strip()
    return "no error line in its log"


def compile_pdf(tex: Path, engine: str) -> Path:
    """Compile ``tex`` into the PDF beside it; return the PDF's path."""
    tex = Path(tex)
    target = tex.with_suffix(".pdf")
    environment = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}  # reproducible dates
    with tempfile.TemporaryDirectory(prefix="symderive-pdf-") as folder:
        work = Path(folder)
        shutil.copyfile(tex, work / tex.name)
        for command in _commands(engine, tex.name):
            try:
                done = subprocess.run(command, cwd=work, env=environment, stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                raise LatexError(f"--pdf: {engine} took more than {TIMEOUT_SECONDS} s on {tex.name}; "
                                 f"the .tex files are written, no PDF") from None
            except OSError as problem:
                raise LatexError(f"--pdf: cannot run {engine}: {problem.strerror or problem}; {INSTALL_HINT}") from None
            built = work / target.name
            if done.returncode != 0 or not built.is_file():
                log_file = work / tex.with_suffix(".log").name
                if not log_file.is_file():
                    raise LatexError(f"--pdf: {engine} failed on {tex.name} and wrote no log; "
                                     f"the .tex files are written, no PDF")
                log = log_file.read_bytes()
                kept = tex.with_suffix(".log")
                write_files({kept: log})  # the whole story, beside the .tex
                raise LatexError(f"--pdf: {engine} failed on {tex.name} "
                                 f"({_first_error(log.decode('utf-8', 'replace'))}; log in {kept}); "
                                 f"the .tex files are written, no PDF")
        write_files({target: built.read_bytes()})  # atomically: all of it, or the old file kept
    return target
