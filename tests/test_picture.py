"""Page 1 of a compiled document, as a picture: not blank, and the one in README.md exists."""

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from symderive.cli import main

from conftest import IN_CI, pdflatex_or_skip

ROOT = Path(__file__).resolve().parent.parent
PICTURE = ROOT / "docs" / "example-page.png"


def pdftoppm_or_skip() -> str:
    found = shutil.which("pdftoppm")
    if found is None:
        message = "pdftoppm is not installed (Debian: apt-get install poppler-utils)"
        if IN_CI:
            pytest.fail(message + "; CI must install it (see .ci/run)")
        pytest.skip(message)
    return found


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the grey levels of a binary PGM (P5) image, 8 bits deep."""
    data = path.read_bytes()
    fields = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert fields, "not a binary PGM"
    width, height, depth = map(int, fields.groups())
    assert depth == 255
    return width, height, data[fields.end():fields.end() + width * height]


@pytest.mark.latex
def test_page_one_is_not_blank(tmp_path):
    pdflatex_or_skip()
    assert main(["--out", str(tmp_path), "--pdf"]) == 0
    subprocess.run([pdftoppm_or_skip(), "-gray", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "XW_X3x2_W2x4.pdf"), str(tmp_path / "page")], check=True, timeout=120)
    width, height, pixels = read_pgm(tmp_path / "page.pgm")
    assert 0.65 < width / height < 0.8  # a portrait page, A4 or letter
    # at 40 dpi text is grey, not black: count every pixel visibly darker than paper
    ink = sum(value < 200 for value in pixels) / len(pixels)
    # a page of text and matrices: some ink (3% on the page as it is), far from all of it
    assert 0.01 < ink < 0.3, ink


def test_a_blank_page_would_be_caught(tmp_path):
    # the measure itself: an all-white PGM has no ink
    (tmp_path / "white.pgm").write_bytes(b"P5\n4 2\n255\n" + bytes([255] * 8))
    _, _, pixels = read_pgm(tmp_path / "white.pgm")
    assert sum(value < 200 for value in pixels) == 0


def test_the_readme_shows_the_committed_picture():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/example-page.png)" in readme
    # the command that regenerates it is documented beside it
    assert "pdftoppm" in readme and "docs/example-page" in readme
    data = PICTURE.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert 400 <= width <= 1400 and height > width  # a portrait page, readable on GitHub
