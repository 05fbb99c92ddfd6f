"""The pytest plugin and the course example, run as a course would run them: pytest
in a fresh process, on files outside this repository's configuration."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "examples" / "course_tests"


def run_pytest(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *arguments],
                          cwd=folder, capture_output=True, text=True, timeout=300)


def test_the_plugin_is_registered_for_pytest():
    plugins = [entry for entry in importlib.metadata.entry_points(group="pytest11") if entry.name == "symderive"]
    assert [entry.value for entry in plugins] == ["symderive.pytest_plugin"]


def test_the_plugin_imports_no_sympy():
    # pytest loads it in every run on a machine where symderive is installed
    done = subprocess.run([sys.executable, "-c", "import sys, symderive.pytest_plugin; print('sympy' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_course_example_passes_its_right_versions_and_catches_its_wrong_ones(tmp_path):
    shutil.copytree(COURSE, tmp_path / "course", ignore=shutil.ignore_patterns("__pycache__"))
    done = run_pytest(tmp_path / "course")
    assert done.returncode == 0, done.stdout + done.stderr
    tests = len(re.findall(r"^def test_", (COURSE / "test_backprop.py").read_text(), re.M))
    assert f"{tests} passed" in done.stdout
    # the wrong versions are each expected to fail: every one of them is named in a test
    source = (COURSE / "test_backprop.py").read_text()
    wrong = re.findall(r"^def (\w+_(?:swapped|no_square|not_summed|first_row|not_averaged))\(", (
        COURSE / "backprop.py").read_text(), re.M)
    assert len(wrong) == 5 and all(f"backprop.{name}" in source for name in wrong)


def test_a_failure_reads_as_the_verdict_in_pytests_report(tmp_path):
    shutil.copy(COURSE / "backprop.py", tmp_path)
    (tmp_path / "test_student.py").write_text(
        "import backprop\n"
        "from symderive.testing import assert_backward\n\n"
        "def test_tanh_layer():\n"
        "    assert_backward(backprop.tanh_layer_backward_no_square, 'tanh(X @ W + b)',\n"
        "                    {'X': (4, 3), 'W': (3, 5), 'b': (1, 5)})\n")
    done = run_pytest(tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "symderive: REFUTED, dX is wrong at entry (1, 1) (dX[0, 0] in NumPy)" in out
    assert re.search(r"^  test      .*test_student\.py:5: assert_backward\(backprop\.tanh_layer_backward_no_square",
                     out, re.M)
    for row in ("yours", "derived", "compared", "where"):
        assert re.search(rf"^  {row} +\S", out, re.M), row
    assert "FAILED test_student.py::test_tanh_layer - symderive: REFUTED" in out
    # without the plugin, pytest's own report: the same message, no table
    plain = run_pytest(tmp_path, "-p", "no:symderive").stdout
    assert "symderive: REFUTED" not in plain and "dX is wrong at entry (1, 1)" in plain


def readme_course_file() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## In a course's own tests"):]
    return re.search(r"```python\n(# test_backprop\.py.*?)```", section, re.S).group(1)


def test_the_readme_example_passes_and_its_failure_reads_as_shown(tmp_path):
    (tmp_path / "test_backprop.py").write_text(readme_course_file())
    done = run_pytest(tmp_path)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    # README shows the report for 1 - H in place of 1 - H ** 2; its lines without "..." must be printed
    (tmp_path / "test_backprop.py").write_text(readme_course_file().replace("1 - H ** 2", "1 - H"))
    out = run_pytest(tmp_path).stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n(symderive: REFUTED.*?)```", readme, re.S).group(1).splitlines()
    for line in shown:
        if line.startswith("  test "):
            continue  # pytest prints the file's full path
        # a line README cuts with "..." must agree up to the cut
        assert line.split(" ...")[0] in out, line
    assert "test_backprop.py:13: assert_backward(tanh_layer_backward" in out
