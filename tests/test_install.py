"""An installed, non-editable wheel finds its templates and runs from anywhere.

The templates live at the top level of the repository (templates/), which is
not inside the package; pyproject.toml maps them into the wheel as
symderive/templates.  This test builds the wheel from a copy of the sources,
installs it into a fresh virtual environment, and runs the console script in
a folder far from the repository, so it cannot fall back on the source tree.
"""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_wheel_renders_the_document(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for item in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / item, source / item)
    for folder in ("symderive", "templates"):
        shutil.copytree(REPO / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(wheels), str(source)],
                   check=True, timeout=300)
    (wheel,) = wheels.glob("symderive-*.whl")

    env_dir = tmp_path / "venv"
    # the environment sees the already-installed sympy, jinja2 and numpy, but
    # symderive itself only from the wheel
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    # --ignore-installed: a symderive already in the system site-packages must not
    # stand in for the wheel
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--ignore-installed", str(wheel)],
                   check=True, timeout=300)

    away = tmp_path / "elsewhere"
    away.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import symderive.render as r; print(r.__file__); print(r.template_dir())"],
        cwd=away, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()
    assert all(Path(p).resolve().is_relative_to(env_dir.resolve()) for p in where), where

    done = subprocess.run([str(env_dir / "bin" / "symderive"), "--n", "2", "--m", "2", "--d", "3"],
                          cwd=away, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = away / "output" / "XW_X2x2_W2x3.tex"
    assert written.read_text().startswith(r"\documentclass")
