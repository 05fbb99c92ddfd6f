"""Fuzzing `prove` of notes: random and mutated .tex and .md input.

Reading notes either gives a NotesDocument or raises BadInput (ParseError is
one), within a time bound, with the evaluators of tests/test_fuzz.py (eval,
exec, compile, sympify) replaced by tripwires; through the command line, the
exit status is a documented one and never a traceback.  The annotated report
never lets a step's text break the document: texts the guard accepts compile,
texts it refuses never appear raw.
"""

from __future__ import annotations

import random
import time
from fractions import Fraction
from io import StringIO
from pathlib import Path

import pytest

from symderive import BadInput
from symderive.cli import main
from symderive.index import Declarations, Derivation, Num, Step
from symderive.notes import CheckedDerivation, NoteDerivation, NotesDocument, NotesReport
from symderive.notes_report import render_notes_report, safe_maths
from symderive.prove import CHECKED, FALSE, PROVEN, ProofReport, StepVerdict

from conftest import compile_latex
from test_fuzz import ALPHABET, Tripwires
from test_prove_notes import TYPESET, need_reader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEEDS = ["note_sections.tex", "note_as_written.tex", "mistake_sign.tex", "note_sections.md"]
SNIPPETS = [
    r"\input{/etc/passwd}", r"\include{chapter}", r"\def\x{\x}\x", r"\catcode`\{=12 ", r"\write18{touch pwned}",
    r"\newcommand{\T}{\top}", r"\begin{align}", r"\end{align}", r"\begin{equation*}", r"\end{document}", "$$", "$",
    r"\[", r"\]", r"\frac{", r"\sum_{p=1}^{", r"\left(", r"\right)", "\\\\", "&=", "&", "%", "{", "}", "^^5c",
    "\x00", "\u2202", "\ufeff", "\n\n", r"\mathbf{", r"\delta_{pi}", r"W^\top_{qj}", r"X_{12}", "= =", r"\verb|x|",
    r"\begin{verbatim}", "{" * 300, "}" * 300, r"\frac{\partial f}{\partial X_{ij}} = ",
]
ALL_EXITS = {0, 1, 2, 3}
READ_SECONDS = 3.0  # a bound per file, far above the typical few milliseconds


def mutate_notes(text: str, rng: random.Random) -> str:
    """A few edits: characters deleted, inserted or replaced, snippets of LaTeX
    dropped in, lines duplicated or removed."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 5)):
        action = rng.random()
        k = rng.randrange(len(lines))
        line = lines[k]
        at = rng.randrange(len(line) + 1)
        if action < 0.25 and line:
            lines[k] = line[:at] + line[at + rng.randint(1, 8):]
        elif action < 0.5:
            lines[k] = line[:at] + rng.choice(ALPHABET) + line[at:]
        elif action < 0.8:
            lines[k] = line[:at] + rng.choice(SNIPPETS) + line[at:]
        elif action < 0.9:
            lines.insert(k, line)
        elif len(lines) > 1:
            del lines[k]
    return "\n".join(lines)


def read_guarded(read_notes, text: str, kind: str):
    """read_notes with the tripwires set: the document, or the BadInput (returned)."""
    with Tripwires():
        try:
            return read_notes(text, f"fuzz.{kind}", kind)
        except BadInput as error:
            return error


def kind_of(name: str) -> str:
    return "md" if name.endswith(".md") else "tex"


def test_mutated_notes_read_or_fail_cleanly():
    read_notes = need_reader()
    rng = random.Random(1414)
    outcomes = {"read": 0, "refused": 0}
    slowest = 0.0
    for case in range(120):
        name = SEEDS[case % len(SEEDS)]
        text = mutate_notes((EXAMPLES / name).read_text(encoding="utf-8"), rng)
        start = time.perf_counter()
        result = read_guarded(read_notes, text, kind_of(name))
        slowest = max(slowest, time.perf_counter() - start)
        if isinstance(result, BadInput):
            outcomes["refused"] += 1
            assert str(result)
        else:
            assert isinstance(result, NotesDocument)
            outcomes["read"] += 1
    assert outcomes["read"] > 10, outcomes  # mutations that keep the notes readable are common
    assert slowest < READ_SECONDS


def test_random_text_reads_or_fails_cleanly():
    read_notes = need_reader()
    rng = random.Random(2026)
    pieces = SNIPPETS + list("{}[]()_^=+-\\$&% \nabcXYW12")
    for case in range(300):
        if case % 2:
            text = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))).decode("latin-1")
        else:
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 80)))
        for kind in ("tex", "md"):
            result = read_guarded(read_notes, text, kind)
            assert isinstance(result, (NotesDocument, BadInput))


@pytest.mark.parametrize("text", [
    "{" * 100_000,
    "$$" + "(" * 50_000 + "$$",
    "\\[" + "\\frac{" * 5_000 + "\\]",
    "\\begin{align}" * 3_000,
    "$$" + "X_{" * 20_000 + "$$",
    "\\begin{align*}\n" + "&= X_{ij} \\\\\n" * 20_000 + "\\end{align*}",
    "a" * 1_000_000,
    "\\[" + " = ".join(["\\sum_{p=1}^{n} X_{pj}"] * 3_000) + "\\]",
], ids=["braces", "parentheses", "fractions", "environments", "subscripts", "long chain", "one long line", "wide"])
def test_huge_or_deeply_nested_input_is_refused_or_read_fast(text):
    read_notes = need_reader()
    for kind in ("tex", "md"):
        start = time.perf_counter()
        result = read_guarded(read_notes, text, kind)
        assert isinstance(result, (NotesDocument, BadInput))
        assert time.perf_counter() - start < 2 * READ_SECONDS


def test_mutated_notes_through_the_command_line(tmp_path):
    need_reader()
    rng = random.Random(77)
    written = 0
    for case in range(10):
        name = SEEDS[case % len(SEEDS)]
        path = tmp_path / f"case{case}{Path(name).suffix}"
        path.write_text(mutate_notes((EXAMPLES / name).read_text(encoding="utf-8"), rng), encoding="utf-8")
        out_dir = tmp_path / f"out{case}"
        out_dir.mkdir()
        stdout, stderr = StringIO(), StringIO()
        start = time.perf_counter()
        code = main(["prove", str(path), "--k", "1", "--out", str(out_dir), "--time-limit", "20"],
                    stdout=stdout, stderr=stderr)
        assert time.perf_counter() - start < 25
        assert code in ALL_EXITS, stderr.getvalue()
        assert "Traceback" not in stderr.getvalue() and "internal error" not in stderr.getvalue()
        if stdout.getvalue() == "":  # refused before any report: one clear error
            assert code == 2 and stderr.getvalue().startswith("symderive: error: ")
        for report in out_dir.iterdir():
            written += 1
            source = report.read_text(encoding="utf-8")
            for dangerous in (r"\input{/etc", r"\write18{", r"\def\x", r"\catcode`"):
                assert dangerous not in source
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------------------
# The guard on its own: what it accepts compiles, whatever it is given
# ---------------------------------------------------------------------------


def mutate_maths(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        action = rng.random()
        if action < 0.35 and chars:
            del chars[min(at, len(chars) - 1)]
        elif action < 0.7:
            chars.insert(at, rng.choice("{}^_\\()[]|&$%#~'.,=+-0123456789abcijpqXWY "))
        else:
            chars[at:at] = list(rng.choice(SNIPPETS[:30] + ["\\frac", "\\left", "\\right", "\\text{", "\\sum"]))
    return "".join(chars)


def _report_of(texts: list[str]) -> NotesReport:
    """A report whose steps carry ``texts`` as written (the verdicts are made up:
    only the rendering is under test)."""
    steps = [Step(Num(Fraction(0)), "", k + 1, text) for k, text in enumerate(texts)]
    derivation = Derivation(Declarations(), steps, "fuzzed steps")
    verdicts = [StepVerdict(k, steps[k - 1], steps[k], (PROVEN, CHECKED, FALSE)[k % 3], "made up")
                for k in range(1, len(steps))]
    note = NoteDerivation(derivation, {len(steps) - 1})
    checked = CheckedDerivation(note, ProofReport(derivation, verdicts))
    return NotesReport(NotesDocument("fuzz.tex", "tex", [note]), [checked])


def test_what_the_guard_accepts_compiles_and_what_it_refuses_never_appears(tmp_path):
    rng = random.Random(5)
    accepted, refused = [], []
    for case in range(3000):
        text = mutate_maths(rng.choice(TYPESET), rng)
        (accepted if safe_maths(text) is not None else refused).append(text)
    assert len(accepted) > 100 and len(refused) > 100
    source = render_notes_report(_report_of(["x"] + accepted[:400] + refused[:400]))
    for text in refused[:400]:
        if "\\" in text or "{" in text:
            assert f"\\symderivefit{{{{}}= {text}}}\n" not in source
    status, log = compile_latex(source, tmp_path, "fuzzed")
    assert status == 0, log[-3000:]
