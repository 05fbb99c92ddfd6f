"""Fuzzing the parsers, and determinism across processes.

The parsers either return a tree or raise ParseError (a BadInput); nothing
else, within a time bound, and without ever calling an evaluator: eval, exec,
compile and sympify are replaced by tripwires while the fuzz runs.
"""

import builtins
import json
import os
import random
import subprocess
import sys
import time

import pytest
import sympy

from symderive import BadInput
from symderive.derivation_file import read_derivation
from symderive.expr import Expr
from symderive.parse import parse

from catalogue import CATALOGUE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SEEDS = [identity.expression for identity in CATALOGUE] + [identity.claim for identity in CATALOGUE] + [
    "tanh(X @ W + b)", "sigmoid(X) * (1 - sigmoid(X))", "X ** -1 / 2", "-A.T.T @ eye(3)", "ones(2, 3) * 0.5",
    # the operations of issue #13: axes, slopes, constants, division by a matrix
    "softmax(Q @ K.T / sqrt(2), axis=1) @ V", "-sum(T * log_softmax(Z, axis=1))", "mean((X @ w - y)**2)",
    "leaky_relu(X @ W + b, 0.01)", "relu(Z) * step(Z) + abs(Z) * sign(Z)", "logsumexp(A, axis=0) / pi",
    "norm(A) ** 2 + sum(A / B, axis=-1)", "X / (exp(1) * log(2))"]
ALPHABET = "XWAGab01 2.()@*+-/.T_[],'\"\\$%&#~^{}:;=!\n\t" + "".join(chr(c) for c in range(0x20, 0x7f))


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        action = rng.random()
        position = rng.randrange(len(chars) + 1)
        if action < 0.4 and chars:
            del chars[min(position, len(chars) - 1)]
        elif action < 0.8:
            chars.insert(position, rng.choice(ALPHABET))
        elif chars:
            chars[min(position, len(chars) - 1)] = rng.choice(ALPHABET)
    return "".join(chars)


class Tripwires:
    """While active, any call of an evaluator raises: eval, exec, compile, sympify.
    Active only around the parser's own calls, so pytest's machinery is untouched."""

    names = ("eval", "exec", "compile")

    def __enter__(self):
        def tripped(*args, **kwargs):
            raise AssertionError("an evaluator was called on user text")

        self.saved = {name: getattr(builtins, name) for name in self.names}
        self.saved_sympify = sympy.sympify
        for name in self.names:
            setattr(builtins, name, tripped)
        sympy.sympify = tripped
        return self

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            setattr(builtins, name, value)
        sympy.sympify = self.saved_sympify
        return False


def guarded(function, text):
    """``function(text)`` with the tripwires set: a tree, or BadInput (returned, not raised)."""
    with Tripwires():
        try:
            return function(text)
        except BadInput as error:
            return error


def test_mutated_expressions_parse_or_fail_cleanly():
    rng = random.Random(20261125)
    parsed = failed = 0
    slowest = 0.0
    for case in range(4000):
        text = mutate(rng.choice(SEEDS), rng)
        start = time.perf_counter()
        result = guarded(parse, text)
        slowest = max(slowest, time.perf_counter() - start)
        if isinstance(result, BadInput):
            failed += 1
        else:
            assert isinstance(result, Expr)
            parsed += 1
    assert parsed + failed == 4000 and parsed > 100 and failed > 100  # both outcomes exercised
    assert slowest < 0.5


def test_random_bytes_parse_or_fail_cleanly():
    rng = random.Random(7)
    for case in range(3000):
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))).decode("latin-1")
        assert isinstance(guarded(parse, text), (Expr, BadInput))


def test_mutated_derivation_files_read_or_fail_cleanly():
    with open(os.path.join(REPO, "examples", "note_section3.sd"), encoding="utf-8") as handle:
        seed = handle.read()
    rng = random.Random(11)
    for case in range(1000):
        result = guarded(read_derivation, mutate(seed, rng))
        assert not isinstance(result, Exception) or isinstance(result, BadInput)


def test_the_tripwires_trip():
    with pytest.raises(AssertionError, match="evaluator"):
        guarded(lambda text: eval(text), "1 + 1")  # looked up when called, as a parser would


def _run(args, seed):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "symderive", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("args, name", [
    (["derive", "tanh(X @ W + b)", "--shape", "X=3x2", "--shape", "W=2x4", "--shape", "b=1x4"],
     "tanhXWpb_X3x2_W2x4_b1x4.tex"),
    (["derive", "trace(X @ A) + sum(sigmoid(X))"], None),
])
def test_the_same_input_gives_the_same_bytes_across_processes_and_hash_seeds(tmp_path, args, name):
    results = []
    for seed in ("0", "4242"):
        out = tmp_path / seed
        out.mkdir()
        report = json.loads(_run(args + ["--json", "--out", str(out)], seed))
        written = os.path.basename(report.pop("output"))
        fragment = os.path.basename(report.pop("fragment"))
        if name:
            assert written == name
        results.append((written, (out / written).read_bytes(), (out / fragment).read_bytes(),
                        json.dumps(report, sort_keys=True)))
    assert results[0] == results[1]
