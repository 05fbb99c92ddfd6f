"""The suite's own rules hold when it runs in parallel.

pyproject.toml runs the tests in pytest-xdist workers (-n logical).  Its
strictness must reach the workers: a strict xfail that passes fails, a warning
fails, an unregistered marker fails.  This test runs pytest with the project's
configuration on three small tests of its own, in two workers.
"""

import os
import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "pyproject.toml"

PROBES = '''
import warnings

import pytest


@pytest.mark.xfail(reason="expected to fail, but passes")
def test_a_strict_xfail_that_passes():
    pass


def test_a_warning():
    warnings.warn("a warning", UserWarning)


def test_nothing_wrong():
    pass
'''


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    # the outer run's variables (PYTEST_XDIST_WORKER, PYTEST_CURRENT_TEST) are not the inner run's
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(CONFIG), "--rootdir", str(folder),
                           "-p", "no:cacheprovider", "-n", "2", *args, str(folder)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_strictness_holds_in_xdist_workers(tmp_path):
    (tmp_path / "test_probes.py").write_text(PROBES, encoding="utf-8")
    done = _pytest(tmp_path)
    out = done.stdout
    assert "created: 2/2 workers" in out, out
    assert "FAILED test_probes.py::test_a_strict_xfail_that_passes - [XPASS(strict)]" in out, out
    assert "FAILED test_probes.py::test_a_warning - UserWarning: a warning" in out, out
    assert "2 failed, 1 passed" in out and done.returncode == 1, out

    (tmp_path / "test_probes.py").write_text(
        "import pytest\n\n\n@pytest.mark.no_such_marker\ndef test_marked():\n    pass\n", encoding="utf-8")
    done = _pytest(tmp_path)
    assert "'no_such_marker' not found in `markers` configuration option" in done.stdout + done.stderr \
        or "Unknown pytest.mark.no_such_marker" in done.stdout + done.stderr, done.stdout + done.stderr
    assert done.returncode != 0


def test_the_thorough_sweeps_run_only_when_asked(tmp_path):
    (tmp_path / "test_probes.py").write_text(
        "import pytest\n\n\n@pytest.mark.thorough\ndef test_sweep():\n    pass\n\n\ndef test_quick():\n    pass\n",
        encoding="utf-8")
    quick = _pytest(tmp_path, "-v")
    assert "PASSED test_probes.py::test_quick" in quick.stdout and "test_sweep" not in quick.stdout, quick.stdout
    thorough = _pytest(tmp_path, "-v", "-m", "thorough")
    assert "PASSED test_probes.py::test_sweep" in thorough.stdout and "test_quick" not in thorough.stdout, \
        thorough.stdout
