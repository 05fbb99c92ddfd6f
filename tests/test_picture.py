"""Page 1 of a compiled document, as a PNG: not blank, and the one in README.md exists."""

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from symderive.cli import main

from conftest import pdflatex_or_skip, tool_or_skip

ROOT = Path(__file__).resolve().parent.parent
PICTURE = ROOT / "docs" / "example-page.png"


def pdftoppm_or_skip() -> str:
    return tool_or_skip("pdftoppm", "poppler-utils")


def read_png_gray(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the grey levels of an 8-bit greyscale or RGB PNG (what
    pdftoppm -png writes), RGB averaged to grey.

    A small reader written for this test: the IDAT chunks inflated, then each
    row's filter (none, sub, up, average, Paeth; PNG spec, sec. 9) undone.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (0, 2) and interlace == 0, "expected 8-bit greyscale or RGB, not interlaced"
    step = 1 if colour == 0 else 3  # bytes a pixel
    stride = width * step
    raw = zlib.decompress(compressed)
    grey, previous = bytearray(), bytes(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up, corner = previous[x], previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                nearest = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[x] = (line[x] + nearest[2]) & 255
        grey.extend(line if step == 1 else (sum(line[x:x + 3]) // 3 for x in range(0, stride, 3)))
        previous = line
    return width, height, bytes(grey)


@pytest.mark.latex
def test_page_one_is_not_blank(tmp_path):
    pdflatex_or_skip()
    assert main(["--out", str(tmp_path), "--pdf"]) == 0
    subprocess.run([pdftoppm_or_skip(), "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "XW_X3x2_W2x4.pdf"), str(tmp_path / "page")], check=True, timeout=120)
    width, height, pixels = read_png_gray(tmp_path / "page.png")
    assert len(pixels) == width * height
    assert 0.65 < width / height < 0.8  # a portrait page, A4 or letter
    # at 40 dpi text is grey, not black: count every pixel visibly darker than paper
    ink = sum(value < 200 for value in pixels) / len(pixels)
    # a page of text and matrices: some ink (3% on the page as it is), far from all of it
    assert 0.01 < ink < 0.3, ink


def _png(width: int, height: int, rows: list[bytes], colour: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


def test_the_picture_reader_and_the_blank_measure(tmp_path):
    # an all-white page has no ink; filtered rows decode to what was encoded
    (tmp_path / "white.png").write_bytes(_png(4, 2, [b"\x00" + bytes([255] * 4)] * 2))
    _, _, pixels = read_png_gray(tmp_path / "white.png")
    assert pixels == bytes([255] * 8) and sum(value < 200 for value in pixels) == 0
    # row 1 with the sub filter (each byte a difference from its left), row 2 with up
    (tmp_path / "ink.png").write_bytes(_png(3, 2, [b"\x01" + bytes([10, 5, 5]), b"\x02" + bytes([0, 1, 2])]))
    assert read_png_gray(tmp_path / "ink.png")[2] == bytes([10, 15, 20, 10, 16, 22])
    # RGB, as pdftoppm writes: one pixel (30, 60, 90) with the sub filter on its second pixel
    (tmp_path / "rgb.png").write_bytes(_png(2, 1, [b"\x01" + bytes([30, 60, 90, 3, 3, 3])], colour=2))
    assert read_png_gray(tmp_path / "rgb.png")[2] == bytes([60, 63])


def test_the_readme_shows_the_committed_picture():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/example-page.png)" in readme
    # the command that regenerates it is documented beside it
    assert "pdftoppm" in readme and "docs/example-page" in readme
    data = PICTURE.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert 400 <= width <= 1400 and height > width  # a portrait page, readable on GitHub
