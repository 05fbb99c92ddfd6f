"""Shared helpers for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def tool_or_skip(name: str, package: str) -> str:
    """The executable ``name``; skip locally when it is missing, fail in CI (where
    .ci/run must have installed the Debian ``package``)."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (Debian: apt-get install {package})"
        if IN_CI:
            pytest.fail(message + "; CI must install it (see .ci/run)")
        pytest.skip(message)
    return found


def pdflatex_or_skip() -> str:
    """The pdflatex executable; skip locally when it is missing, fail in CI."""
    return tool_or_skip("pdflatex", "texlive-latex-base texlive-latex-recommended")


def compile_latex(source: str, folder: Path, name: str = "doc") -> tuple[int, str]:
    """Compile ``source`` with pdflatex, shell escape off; return (exit code, log text)."""
    engine = pdflatex_or_skip()
    tex = folder / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    done = subprocess.run(
        [engine, "-no-shell-escape", "-halt-on-error", "-interaction=nonstopmode", tex.name],
        cwd=folder, capture_output=True, timeout=120,
    )
    log = (folder / f"{name}.log").read_text(encoding="latin-1") if (folder / f"{name}.log").exists() else ""
    return done.returncode, log


# --------------------------------------------------------------------------- report lines

REPORT_PROPERTY = "symderive report"


@pytest.fixture
def report_lines(request):
    """``report_lines(text)``: show ``text`` in the terminal summary at the end of the run.

    The text travels with the test's result (a user property), so it is shown
    also when the test ran in a pytest-xdist worker, whose own output pytest
    does not show."""
    def add(text: str) -> None:
        request.node.user_properties.append((REPORT_PROPERTY, text))
    return add


def pytest_terminal_summary(terminalreporter):
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, text in getattr(report, "user_properties", ()):
                if key == REPORT_PROPERTY:
                    terminalreporter.write_line(text)
