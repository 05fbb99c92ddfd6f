"""Two generated files, kept byte for byte, and the mathematics in them checked by hand.

tests/golden/README.md says what was checked by hand against the note; each of
those facts is also asserted here on its own, so the golden files are not
trusted merely because the program wrote them.  Regenerate them with
``python3 tests/test_golden.py`` after an intended change, then check again.
"""

import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def generated() -> dict[str, str]:
    from symderive import derive

    return {
        "XW_X1x1_W1x1.tex": derive(n=1, m=1, d=1).latex(),
        "XW_X2x2_W2x2_fragment.tex": derive(n=2, m=2, d=2).latex(fragment=True),
    }


def matrix(rows) -> str:
    """A pmatrix body as the templates write it: one row a line."""
    return " \\\\\n".join(" & ".join(row) for row in rows)


def test_the_output_is_byte_for_byte_the_golden_files():
    for name, text in generated().items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), f"{name} changed; see tests/golden/README.md"


def test_the_standalone_golden_file_says_what_the_note_says_at_size_one():
    text = (GOLDEN / "XW_X1x1_W1x1.tex").read_text(encoding="utf-8")
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    assert "\\mathbf{Y} = \\begin{pmatrix}\nX_{11} W_{11}\n\\end{pmatrix}" in text
    assert r"$1 \times 1 \times 1 \times 1$" in text and "with a single entry, which is nonzero" in text
    assert "= \\begin{pmatrix}\nW_{11}\n\\end{pmatrix}" in text  # dY_11/dX_11 = W_11
    assert "= \\begin{pmatrix}\nX_{11}\n\\end{pmatrix}" in text  # dY_11/dW_11 = X_11
    assert r"\frac{\partial Y_{pq}}{\partial X_{ij}} = \delta_{pi} W_{jq}" in text
    assert r"\frac{\partial Y_{pq}}{\partial W_{ij}} = \delta_{qj} X_{pi}" in text
    # one term (p = q = 1), and it does not vanish: "the only term", not "Of the 1 term, none"
    assert text.count("The only term does not vanish.") == 2 and "Of the 1 term" not in text
    # the formula's support at 1x1x1x1 is the one index tuple (1,1,1,1)
    assert text.count("at the only index tuple where either side can be nonzero") == 2
    # the group's closing brace ends in %, so no space comes before the sentence
    assert text.count("\\end{align*}}%\nThe only term") == 2
    # a narrow header column: the word kept whole rather than hyphenated as wit-ness
    assert r"\textbf{numeric \mbox{witness}}" in text
    # the witness of the general proof: all 3**3 size assignments, sum of n*m (or m*d) over them
    assert "every one of the 27 assignments of the sizes" in text
    assert text.count("equal at all 108 concrete instances") == 14
    assert "{G_{11} W_{11}.}" in text and "{G_{11} X_{11}.}" in text  # the chain rule's values
    assert r"\frac{\partial f}{\partial \mathbf{X}} = \frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^{\top}." in text
    assert r"\frac{\partial f}{\partial \mathbf{W}} = \mathbf{X}^{\top} \frac{\partial f}{\partial \mathbf{Y}}." in text
    assert text.count("Every step is proven: the identity holds for all sizes.") == 2
    assert "The closed forms are moreover proven for all sizes" in text


def test_the_fragment_golden_file_is_the_notes_two_by_two_example():
    text = (GOLDEN / "XW_X2x2_W2x2_fragment.tex").read_text(encoding="utf-8")
    assert text.startswith("% symderive fragment") and r"\documentclass" not in text
    assert r"\begin{document}" not in text
    for package in ("amsmath", "amssymb", "graphicx", "xcolor"):
        assert f"%   \\usepackage{{{package}}}" in text
    assert matrix([["X_{11} W_{11} + X_{12} W_{21}", "X_{11} W_{12} + X_{12} W_{22}"],
                   ["X_{21} W_{11} + X_{22} W_{21}", "X_{21} W_{12} + X_{22} W_{22}"]]) in text
    # dY/dX as the note's matrix of blocks: blocks (1,1), (1,2) and (2,1), (2,2)
    assert matrix([["W_{11}", "W_{21}"], ["0", "0"]]) + "\n\\end{pmatrix} & \\begin{pmatrix}\n" \
        + matrix([["W_{12}", "W_{22}"], ["0", "0"]]) in text
    assert matrix([["0", "0"], ["W_{11}", "W_{21}"]]) + "\n\\end{pmatrix} & \\begin{pmatrix}\n" \
        + matrix([["0", "0"], ["W_{12}", "W_{22}"]]) in text
    # dY/dW: blocks (1,1), (1,2) and (2,1)
    assert matrix([["X_{11}", "0"], ["X_{12}", "0"]]) + "\n\\end{pmatrix} & \\begin{pmatrix}\n" \
        + matrix([["0", "X_{11}"], ["0", "X_{12}"]]) in text
    assert matrix([["X_{21}", "0"], ["X_{22}", "0"]]) in text
    # the chain rule for X_11 and W_11: 4 terms each, 2 vanish
    assert text.count("Of the 4 terms, 2 vanish:") == 2
    # delta_pi W_jq can be nonzero only at p = i: 2 * 2 * 2 = 8 of the 16 index tuples (i, j, p, q)
    assert text.count("at all 8 index tuples where either side can be nonzero") == 2
    assert "{G_{11} W_{11} + G_{12} W_{12}.}" in text and "{G_{11} X_{11} + G_{21} X_{21}.}" in text
    # the whole gradients, G W^T and X^T G written out
    assert matrix([["G_{11} W_{11} + G_{12} W_{12}", "G_{11} W_{21} + G_{12} W_{22}"],
                   ["G_{21} W_{11} + G_{22} W_{12}", "G_{21} W_{21} + G_{22} W_{22}"]]) in text
    assert matrix([["G_{11} X_{11} + G_{21} X_{21}", "G_{12} X_{11} + G_{22} X_{21}"],
                   ["G_{11} X_{12} + G_{21} X_{22}", "G_{12} X_{12} + G_{22} X_{22}"]]) in text


if __name__ == "__main__":  # regenerate: python3 tests/test_golden.py
    sys.path.insert(0, str(GOLDEN.parent.parent))
    for name, text in generated().items():
        (GOLDEN / name).write_text(text, encoding="utf-8")
        print(f"wrote tests/golden/{name}: now check it by hand (tests/golden/README.md)")
