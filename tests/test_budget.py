"""The wall-clock budget: every run stops at its time limit, cleanly.

A run whose time runs out exits with status 3 (UNDECIDED), says which stage
was running and what had been decided by then, and writes nothing.  These
tests use deliberately slow expressions (or a stage made slow on purpose) with
a 1 s limit and assert only that the run stops well within 15 s: speed is
measured by benchmarks/bench.py, not here.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from symderive import check, derive
from symderive.cli import main
from symderive.errors import ExitStatus, SymderiveError

ROOT = Path(__file__).resolve().parent.parent

# A two-layer network's squared loss: minutes of exact checking at its default
# shapes, far beyond any 1 s limit (it ran for over 20 minutes once).
SLOW = "sum((tanh(X @ A) @ B - T) ** 2)"
# check's slow case: the kernel refutes the claim X at the default sizes in about a second
# (a point settles a nonzero entry), so it runs at 8 x 8, where it takes about 9 s
SLOW_CHECK_SHAPES = ("--shape", "X=8x8", "--shape", "A=8x8", "--shape", "B=8x8")
STOPS_WITHIN = 15.0  # seconds; a 1 s limit must stop the run well within this


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def timed_run(*argv):
    start = time.monotonic()
    result = run(*argv)
    return (*result, time.monotonic() - start)


def busy(seconds: float = 60.0) -> None:
    """Pure-Python work that takes ``seconds`` unless interrupted (a loop, not a sleep)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.fixture(autouse=True)
def no_timer_left_behind():
    """Every test leaves SIGALRM's handler and the interval timer as it found them."""
    handler = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getsignal(signal.SIGALRM) is handler
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_undecided_is_exit_status_3():
    from symderive.budget import TimeLimitReached

    assert ExitStatus.UNDECIDED == 3
    assert TimeLimitReached.exit_status == ExitStatus.UNDECIDED
    assert issubclass(TimeLimitReached, SymderiveError)


def test_a_slow_derivation_stops_at_its_time_limit_and_writes_nothing(tmp_path):
    code, out, err, seconds = timed_run("derive", SLOW, "--time-limit", "1", "--out", str(tmp_path))
    assert code == ExitStatus.UNDECIDED == 3
    assert seconds < STOPS_WITHIN
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "time limit of 1 s reached while" in err
    assert "nothing was written" in err and "--time-limit" in err
    assert list(tmp_path.iterdir()) == []


def test_the_json_report_of_a_run_out_of_time(tmp_path):
    code, out, err, seconds = timed_run("derive", SLOW, "--time-limit", "1", "--json", "--out", str(tmp_path))
    assert code == 3 and seconds < STOPS_WITHIN
    report = json.loads(out)
    assert report["status"] == "undecided"
    assert report["reason"].startswith("time limit of 1 s reached while ")
    assert isinstance(report["decided"], list) and isinstance(report["undecided"], list)
    assert report["written"] == []
    assert list(tmp_path.iterdir()) == []


def test_check_stops_at_its_time_limit():
    code, out, err, seconds = timed_run("check", SLOW, "--wrt", "X", "--claim", "X", *SLOW_CHECK_SHAPES,
                                        "--time-limit", "1")
    assert code == 3 and seconds < STOPS_WITHIN
    assert "time limit of 1 s reached while" in err and out == ""


def test_a_fractional_limit_is_accepted_and_printed_as_given():
    code, _, err, seconds = timed_run("check", SLOW, "--wrt", "X", "--claim", "X", *SLOW_CHECK_SHAPES,
                                      "--time-limit", "0.5")
    assert code == 3 and seconds < STOPS_WITHIN and "time limit of 0.5 s reached" in err


def test_prove_stops_at_its_time_limit(monkeypatch):
    import symderive.prove

    monkeypatch.setattr(symderive.prove, "check_derivation", lambda *args, **kwargs: busy())
    code, out, err, seconds = timed_run("prove", str(ROOT / "examples" / "note_section3.sd"), "--time-limit", "1")
    assert code == 3 and seconds < STOPS_WITHIN
    assert "time limit of 1 s reached while checking the 6 steps" in err and out == ""


def test_prove_json_when_out_of_time(monkeypatch):
    import symderive.prove

    monkeypatch.setattr(symderive.prove, "check_derivation", lambda *args, **kwargs: busy())
    code, out, _, _ = timed_run("prove", str(ROOT / "examples" / "note_section3.sd"), "--time-limit", "1", "--json")
    report = json.loads(out)
    assert code == 3 and report["status"] == "undecided" and "checking the 6 steps" in report["reason"]


def test_the_message_says_what_was_decided_before_the_time_ran_out(tmp_path, monkeypatch):
    # The note's Y = X W, with the numeric witness of df/dW made slow: by then the
    # Jacobian formulas and df/dX are decided, df/dW is not.
    import symderive.pipeline

    real = symderive.pipeline.numeric.witness

    def slow_for_w(tree, name, *args, **kwargs):
        if name == "W":
            busy()
        return real(tree, name, *args, **kwargs)

    monkeypatch.setattr(symderive.pipeline.numeric, "witness", slow_for_w)
    code, out, err, seconds = timed_run("--time-limit", "1", "--out", str(tmp_path))
    assert code == 3 and seconds < STOPS_WITHIN
    assert "while verifying df/dW = X.T @ G" in err
    assert "dY_pq/dX_ij = delta_pi*W_jq verified" in err and "dY_pq/dW_ij = delta_qj*X_pi verified" in err
    assert "df/dX = G @ W.T verified" in err
    assert "not decided: df/dW" in err
    assert list(tmp_path.iterdir()) == []
    code, out, _, _ = timed_run("--time-limit", "1", "--json", "--out", str(tmp_path))
    report = json.loads(out)
    assert report["undecided"] == ["df/dW"] and "df/dX = G @ W.T verified" in report["decided"]


def test_time_running_out_while_typesetting_writes_nothing(tmp_path, monkeypatch):
    import symderive.cli

    monkeypatch.setattr(symderive.cli, "document_files", lambda *args, **kwargs: busy())
    code, out, err, seconds = timed_run("--time-limit", "1", "--out", str(tmp_path))
    assert code == 3 and seconds < STOPS_WITHIN
    assert "while writing the document" in err and "df/dW = X.T @ G verified" in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


def test_time_running_out_while_compiling_the_pdf_keeps_the_whole_tex_files(tmp_path, monkeypatch):
    import symderive.cli

    monkeypatch.setattr(symderive.cli, "find_engine", lambda: "pdflatex")
    monkeypatch.setattr(symderive.cli, "compile_pdf", lambda *args, **kwargs: busy())
    code, out, err, seconds = timed_run("--time-limit", "1", "--pdf", "--out", str(tmp_path))
    assert code == 3 and seconds < STOPS_WITHIN
    assert "while compiling the PDF" in err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["XW_X3x2_W2x4.tex", "XW_X3x2_W2x4_fragment.tex"]  # both whole, no PDF, no temporary
    assert "wrote" in err and "XW_X3x2_W2x4.tex" in err and "no PDF" in err
    assert (tmp_path / "XW_X3x2_W2x4.tex").read_text().rstrip().endswith(r"\end{document}")


@pytest.mark.parametrize("command", [
    [],
    ["derive", "X @ W"],
    ["check", "X @ W", "--wrt", "X", "--claim", "G @ W.T"],
    ["prove", str(ROOT / "examples" / "note_section3.sd")],
])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "nan", "inf", "-inf", "1e400", "0x10", "1_0", "٣"])
def test_bad_time_limits_exit_2_with_one_line(tmp_path, command, value):
    out_flag = ["--out", str(tmp_path)] if command[:1] in ([], ["derive"]) else []
    code, out, err = run(*command, *out_flag, f"--time-limit={value}")
    assert code == ExitStatus.BAD_INPUT == 2
    assert out == "" and "--time-limit" in err and len(err.strip().splitlines()) == 1
    assert "positive number of seconds" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    [],
    ["derive", "X @ W"],
    ["check", "X @ W", "--wrt", "X", "--claim", "G @ W.T"],
    ["prove", str(ROOT / "examples" / "note_section3.sd")],
])
def test_every_command_runs_within_the_default_limit_of_60_s(tmp_path, monkeypatch, command):
    from symderive import budget

    seen = []
    real = budget.within

    def spy(seconds):
        seen.append(seconds)
        return real(seconds)

    monkeypatch.setattr(budget, "within", spy)
    out_flag = ["--out", str(tmp_path)] if command[:1] in ([], ["derive"]) else []
    code, _, err = run(*command, *out_flag)
    assert code == 0, err
    assert seen and seen[0] == budget.DEFAULT_TIME_LIMIT == 60
    seen.clear()
    code, _, _ = run(*command, *out_flag, "--time-limit", "7.5")
    assert code == 0 and seen[0] == 7.5


@pytest.mark.parametrize("command", ["note", "derive", "check", "prove"])
def test_help_names_the_time_limit_and_its_default(capsys, command):
    argv = ([] if command == "note" else [command]) + ["--help"]
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--time-limit SECONDS" in text and "(default 60)" in text.split("--time-limit SECONDS", 1)[1]
    assert "3" in text.split("Exit status", 1)[1]


def test_the_python_functions_take_a_time_limit():
    from symderive.budget import TimeLimitReached

    start = time.monotonic()
    with pytest.raises(TimeLimitReached) as caught:
        derive(SLOW, time_limit=1)
    assert time.monotonic() - start < STOPS_WITHIN
    reached = caught.value
    assert reached.exit_status == 3 and reached.seconds == 1
    assert str(reached).startswith("time limit of 1 s reached while ")
    assert reached.report()["status"] == "undecided"
    start = time.monotonic()
    with pytest.raises(TimeLimitReached):
        check(SLOW, "X", "X", shapes={"X": (8, 8), "A": (8, 8), "B": (8, 8)}, time_limit=0.5)
    assert time.monotonic() - start < STOPS_WITHIN
    # and a run within its limit is untouched
    assert derive("X @ W", time_limit=30).verified
    assert check("X @ W", "X", "G @ W.T", time_limit=30).holds


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "abc", True])
def test_the_python_functions_refuse_bad_limits(value):
    from symderive.errors import BadInput

    with pytest.raises(BadInput, match="time_limit"):
        derive("X @ W", time_limit=value)
    with pytest.raises(BadInput, match="time_limit"):
        check("X @ W", "X", "G @ W.T", time_limit=value)


def test_the_previous_alarm_handler_and_timer_are_restored():
    from symderive.budget import TimeLimitReached

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        derive("X @ W", time_limit=5)
        with pytest.raises(TimeLimitReached):
            derive(SLOW, time_limit=0.5)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left <= 100  # still armed, less the time spent
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_inner_limit_inside_an_outer_one():
    from symderive import budget
    from symderive.budget import TimeLimitReached

    with budget.within(30):
        with pytest.raises(TimeLimitReached) as caught:
            derive(SLOW, time_limit=0.5)
        assert caught.value.seconds == 0.5
        assert derive("X @ W").verified  # the outer budget still stands, with time to spare
    with pytest.raises(TimeLimitReached) as caught:
        with budget.within(0.5):
            derive(SLOW, time_limit=30)
    assert caught.value.seconds == 0.5


def test_outside_the_main_thread_there_is_no_timer_but_no_error_either():
    results, errors = [], []

    def work():
        try:
            results.append(derive("X @ W", time_limit=30).verified)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert errors == [] and results == [True]


def test_a_deadline_during_the_renames_is_held_until_both_files_are_in_place(tmp_path, monkeypatch):
    from symderive import budget
    from symderive.budget import TimeLimitReached
    from symderive.render import write_files

    first, second = tmp_path / "a.tex", tmp_path / "b.tex"
    first.write_text("old a")
    second.write_text("old b")
    real_replace = os.replace

    def slow_replace(source, target):
        busy(0.6)  # the deadline passes here, between the two renames
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", slow_replace)
    with pytest.raises(TimeLimitReached):
        with budget.within(0.3):
            write_files({first: "new a", second: "new b"})
            busy(10)  # the held deadline takes effect once the files are in place
    assert first.read_text() == "new a" and second.read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tex", "b.tex"]  # no temporary left


def test_the_command_line_in_a_fresh_process_stops_at_its_limit(tmp_path):
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "symderive", "derive", SLOW, "--time-limit", "1",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < STOPS_WITHIN + 5  # the interpreter's start-up included
    assert done.returncode == 3
    assert "time limit of 1 s reached while" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# The work estimate: claimed only where it was measured to hold
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("expression, counted", [
    ("X @ W", True), ("X.T @ X", True), ("X @ W + V", True), ("X @ W * V", True),
    ("(X @ W) ** 2", True), ("X ** 3", True), ("2 * X @ W - V", True),
    ("A @ B @ C", False),          # products of sums are built unexpanded: differentiated symbol by symbol
    ("(X + V) @ W", False),
    ("trace(X @ A)", False), ("sum(X @ W)", False), ("tanh(X @ W)", False), ("sigmoid(X @ W)", False),
    ("exp(X @ W)", False), ("inv(X)", False), ("det(X)", False),
    ("trace(A @ inv(X) @ B)", False), (SLOW, False),
])
def test_the_estimate_is_claimed_only_for_the_expressions_it_models(expression, counted):
    from symderive.pipeline import estimate_for

    estimate = estimate_for(expression, {})
    assert estimate.counted is counted
    assert estimate.describe().startswith("about " if counted else "at least ")


def test_an_expression_the_estimate_does_not_model_is_never_given_a_time(tmp_path):
    # the two-layer loss was once estimated at 0.26 s, and ran for over 20 minutes
    code, out, err = run("derive", SLOW, "--max-work", "1", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert "needs at least" in err and "lower bound" in err and "time limit" in err and "about" not in err
    assert list(tmp_path.iterdir()) == []


def test_absurd_sizes_are_refused_before_any_work_whatever_the_expression(tmp_path):
    start = time.monotonic()
    code, _, err = run("derive", "tanh(X @ W)", "--shape", "X=5000x5000", "--shape", "W=5000x5000",
                       "--out", str(tmp_path))
    assert time.monotonic() - start < 5  # refused from the shapes alone, nothing built
    assert code == 2 and "needs at least" in err and "--max-work" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = run("--n", "5000", "--m", "5000", "--d", "5000", "--out", str(tmp_path))
    assert code == 2 and "needs about" in err and "units of work" in err


def test_the_estimate_table_covers_every_kind_of_expression():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    expressions = {expression for expression, _, _ in bench.ESTIMATE_TABLE}
    assert len(expressions) >= 12
    for needed in ("X @ W", "A @ B @ C", "tanh(", "sigmoid(", "exp(", "trace(", "sum(", "inv(", "det(",
                   "** 2", SLOW):
        assert any(needed in expression for expression in expressions), needed
    assert all(len(sizes) >= 2 for _, sizes, _ in bench.ESTIMATE_TABLE)
