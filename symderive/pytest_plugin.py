"""symderive's pytest plugin: its verdicts, readably, in pytest's failure report.

Registered through the ``pytest11`` entry point, so every pytest run on a
machine where symderive is installed loads it (``-p no:symderive`` turns it
off).  It imports nothing heavy: a failure is recognised by the ``report``
that :class:`symderive.testing.GradientMismatch` carries, and nothing else
changes.

A failed :func:`symderive.testing.assert_backward` or ``assert_gradient`` is
reported as the test's own line, then the verdict as a small table: which
gradient, which entry (1-based, and the NumPy index), your value and the
derived one, how they were compared (exactly, or at random points in high or
double precision), the shapes, and the values at a random point::

    tests/test_course.py:31: in test_tanh_layer
        assert_backward(backward_without_square, TANH, SHAPES)
    symderive: REFUTED, dX is wrong at entry (1, 1) (dX[0, 0] in NumPy)
      yours     G_11*W_11*(1 - tanh(W_11*X_11 + ...)) + ...
      derived   G_11*W_11*(1 - tanh(W_11*X_11 + ...)**2) + ...
      compared  exactly, on matrices of symbols
      ...

With ``--tb=native``, ``long``, ``line`` or ``no``, pytest's own report is kept.
"""

from __future__ import annotations

import pytest

_ROWS = (("yours", "yours"), ("derived", "derived"), ("compared", "how"), ("where", "where"),
         ("", "detail"), ("values", "numerically"), ("note", "notes"))


def _symderive_report(excinfo) -> dict | None:
    """The facts of a symderive verdict, or of input symderive refused (a BadInput or
    ParseError raised by an assertion: its message, without the parser's frames)."""
    if excinfo is None:
        return None
    error = excinfo.value
    report = getattr(error, "report", None)
    if type(error).__name__ == "GradientMismatch" and isinstance(report, dict):
        return report
    if any(kind.__name__ == "SymderiveError" and kind.__module__ == "symderive.errors"
           for kind in type(error).__mro__):
        return {"verdict": "BAD INPUT", "message": str(error)}
    return None


def verdict_text(report: dict, location: str = "") -> str:
    """The verdict as lines: a headline, where in the test, then one row per fact
    the report has.  The headline comes first: pytest's short summary shows it."""
    if report.get("verdict") == "REFUTED" and report.get("entry") and report.get("yours") is not None \
            and report.get("problem") != "shape":
        i, j = report["entry"]
        gradient = report.get("gradient", "the gradient")
        index = f" ({report['numpy_index']} in NumPy)" if report.get("numpy_index") else ""
        lines = [f"symderive: REFUTED, {gradient} is wrong at entry ({i}, {j}){index}"]
        if location:
            lines.append(f"  test      {location}")
        lines.append(f"  checking  {report.get('subject', '')}")
        for label, key in _ROWS:
            label = report.get("yours_label", label) if key == "yours" else label
            value = report.get(key)
            if value:
                value = value[len("compared "):] if key == "how" and value.startswith("compared ") else value
                lines.append(f"  {label:<9} {value}" if label else f"  {value}")
        return "\n".join(lines)
    message = str(report.get("message", ""))
    lines = [f"symderive: {report.get('verdict', 'FAILED')}, {message.splitlines()[0] if message else ''}"]
    if location:
        lines.append(f"  test      {location}")
    lines += ["  " + line.strip() for line in message.splitlines()[1:]]
    return "\n".join(lines)


class _Verdict:
    """A failure report pytest can print (toterminal) and summarise (reprcrash)."""

    def __init__(self, text: str, path: str, lineno: int) -> None:
        self.text = text
        self.reprcrash = _Crash(text.splitlines()[0], path, lineno)

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


class _Crash:
    def __init__(self, message: str, path: str, lineno: int) -> None:
        self.message, self.path, self.lineno = message, path, lineno

    def __str__(self) -> str:  # what --tb=line prints
        return f"{self.path}:{self.lineno}: {self.message}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    found = _symderive_report(call.excinfo)
    if found is None or not report.failed or item.config.getoption("tbstyle", "auto") in ("native", "long", "line", "no"):
        return
    try:
        path, lineno, statement = _test_line(call.excinfo, str(item.path))
        location = f"{path}:{lineno}: {statement}" if path else ""
        report.longrepr = _Verdict(verdict_text(found, location), path, lineno)
    except Exception:  # noqa: BLE001 -- pytest's own report is the fallback, never a crash of the run
        return


def _test_line(excinfo, test_path: str) -> tuple[str, int, str]:
    """The test's own line that failed: the last frame in the test's file (else the
    last frame pytest would show), as path, 1-based line and statement."""
    entries = list(excinfo.traceback)
    mine = [entry for entry in entries if str(entry.path) == test_path]
    shown = list(excinfo.traceback.filter(excinfo))
    chosen = (mine or shown or entries)[-1] if (mine or shown or entries) else None
    if chosen is None:
        return "", 0, ""
    statement = " ".join(line.strip() for line in str(chosen.statement).splitlines())
    return str(chosen.path), chosen.lineno + 1, statement
