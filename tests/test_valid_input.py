"""Valid input that must not be refused: any name the expression language allows,
a determinant that is identically zero, arguments that start with '-', and the
sizes --n --m --d only where they mean something.

Every name the language allows as a matrix name is tried in both places where a
user-chosen name meets text symderive writes itself: the general proof for all
sizes (a derivation in index notation) and the proof of a claim.  The expected
results are the textbook identities of the seed note (df/dA = G B^T and
df/dB = A^T G for Y = A B), not output copied from the program.
"""

import io
import json
import string
from pathlib import Path

import pytest
import sympy

from symderive import BadInput, check, derive
from symderive.build import explicit, matrix_of_symbols
from symderive.cli import main
from symderive.expr import MatMul, Name, Transpose
from symderive.index import Delta, Derivative, Entry, Neg, Plus, Sum, Times
from symderive.parse import ParseError

# Names the expression language allows (parse.py: ASCII identifiers of at most 32
# characters, not starting with '_', not Python keywords, not its functions),
# chosen to hit every word the derivation-file language reserves or declares
# (f d delta sum, title sizes matrix upstream index, of x), the proof's own sizes
# and indices (n m d i j p q r), the names symderive gives the output and the
# upstream (Y Z F H Out, G), and the shapes of entry names (A_1, X_11).
ALLOWED = sorted(set(string.ascii_letters) | {
    "index", "delta", "sizes", "matrix", "upstream", "title", "of", "f", "d", "x", "T",
    "G", "G1", "Y", "Z", "F", "H", "Out", "dY", "Sum", "Delta", "INDEX", "print", "self",
    "A_1", "X_11", "n1", "X" * 32})

# Names the expression language itself refuses, and the reason it gives.
REFUSED = [
    ("sum", "is a function"), ("trace", "is a function"), ("det", "is a function"),
    ("inv", "is a function"), ("adj", "is a function"), ("exp", "is a function"),
    ("eye", "is a function"), ("ones", "is a function"), ("lambda", "Python keyword"),
    ("None", "Python keyword"), ("_x", "may not start with '_'"), ("X" * 33, "longer than 32"),
]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def partner(name: str) -> str:
    return "Q" if name != "Q" else "P"


def index_nodes(node):
    """Every node of an index expression, matrices of entries included."""
    yield node
    if isinstance(node, (Plus,)):
        for term in node.terms:
            yield from index_nodes(term)
    elif isinstance(node, Times):
        for factor in node.factors:
            yield from index_nodes(factor)
    elif isinstance(node, Neg):
        yield from index_nodes(node.operand)
    elif isinstance(node, Sum):
        yield from index_nodes(node.body)
    elif isinstance(node, Derivative):
        yield from index_nodes(node.of)
        yield from index_nodes(node.wrt)


def matrix_names(node):
    if isinstance(node, Name):
        return {node.name}
    return set().union(*(matrix_names(child) for child in node.children()))


def assert_shown_with_the_users_names(report, matrices):
    """The proof as shown (document, --json) names exactly the user's matrices, and
    its sizes and indices are names of their own, so that nothing reads two ways."""
    decl = report.derivation.declarations
    declared = set(decl.shapes) | set(decl.defined) | {decl.upstream[0]}
    assert declared == matrices
    atoms = list(decl.sizes) + list(decl.ranges)
    used = set()
    for step in report.derivation.steps:
        for node in index_nodes(step.expression):
            if isinstance(node, Entry):
                used |= matrix_names(node.matrix)
                atoms += [a for a in (node.row, node.col) if isinstance(a, str)]
            elif isinstance(node, Sum):
                atoms.append(node.var)
            elif isinstance(node, Delta):
                atoms += [node.a, node.b]
    assert used <= matrices
    assert not set(atoms) & matrices, "a size or an index shares a name with a matrix"
    assert len(set(decl.sizes) | set(decl.ranges)) == len(decl.sizes) + len(decl.ranges)


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALLOWED)
def test_derive_proves_a_product_for_all_sizes_whatever_its_names(name):
    other = partner(name)
    for left, right in ((name, other), (other, name)):
        r = derive(f"{left} @ {right}")
        assert r.verified and r.proven_for_all_sizes, (left, right)
        G, Y = r.upstream_name, r.output_name
        assert G not in (left, right) and Y not in (left, right, G)
        assert set(r.general_proofs) == {left, right}
        for report in r.general_proofs.values():
            assert report.proven
            assert_shown_with_the_users_names(report, {left, right, G, Y})
        # the note's closed forms, df/dA = G B^T and df/dB = A^T G, as the proofs' last steps
        report = r.general_proofs[left]
        i, j = report.derivation.declarations.ranges
        assert report.steps[-1].after.expression == Entry(MatMul(Name(G), Transpose(Name(right))), i, j)
        report = r.general_proofs[right]
        i, j = report.derivation.declarations.ranges
        assert report.steps[-1].after.expression == Entry(MatMul(Transpose(Name(left)), Name(G)), i, j)
        shown = r.report()["general_proof"][right]["steps"][-1]["after"]
        assert shown == f"({left}.T @ {G})[{i},{j}]"


@pytest.mark.parametrize("name", ALLOWED)
def test_check_proves_a_claim_for_all_sizes_whatever_its_names(name):
    other = partner(name)
    G = "G" if name != "G" else "U"  # G names the upstream in claims (see below)
    c = check(f"{name} @ {other}", wrt=name, claim=f"{G} @ {other}.T", upstream=G)
    assert c.holds and c.for_all_sizes
    c = check(f"{other} @ {name}", wrt=name, claim=f"{other}.T @ {G}", upstream=G)
    assert c.holds and c.for_all_sizes
    # a wrong claim of the right shape is neither verified nor proven
    c = check(f"{name} @ {other}", wrt=name, claim=f"{G} @ {other}.T + {name}", upstream=G)
    assert not c.holds and not c.for_all_sizes


@pytest.mark.parametrize("name, reason", REFUSED, ids=[r[0][:8] for r in REFUSED])
def test_names_the_expression_language_reserves_are_refused_with_the_reason(name, reason):
    for text in (f"{name} @ Q", f"P @ {name}"):
        with pytest.raises(ParseError, match=reason) as refused:
            derive(text)
        assert refused.value.line == 1 and refused.value.column == text.index(name) + 1
        with pytest.raises(BadInput, match=f"^in the claim: line 1, column {text.index(name) + 1}: .*{reason}"):
            check("P @ Q", wrt="P", claim=text.replace("@", "+"))


def test_internal_names_swapped_by_the_user_still_mean_the_users_matrices():
    # The internal proof names its matrices A, B, Y, G: a user's B @ A must not be
    # read as the internal A @ B (df/dB for B @ A is G A^T, not A^T G).
    c = check("B @ A", wrt="B", claim="G @ A.T")
    assert c.holds and c.for_all_sizes
    c = check("B @ A", wrt="A", claim="B.T @ G")
    assert c.holds and c.for_all_sizes
    c = check("Y @ G", wrt="Y", claim="U @ G.T", upstream="U")
    assert c.holds and c.for_all_sizes


def test_the_cli_shows_the_users_names(tmp_path):
    code, out, err = run("derive", "index @ f", "--json", "--out", str(tmp_path))
    assert code == 0, err
    report = json.loads(out)
    assert report["proven_for_all_sizes"] is True
    assert report["closed_forms"] == {"index": "G @ f.T", "f": "index.T @ G"}
    assert set(report["general_proof"]) == {"index", "f"}
    assert "For all" in report["general_proof"]["f"]["title"] and "index @ f" in report["general_proof"]["f"]["title"]
    document = (tmp_path / report["output"].rsplit("/", 1)[-1]).read_text()
    assert r"\mathbf{index}" in document and "proven for all sizes" in document
    code, out, err = run("check", "p @ q", "--wrt", "p", "--claim", "G @ q.T", "--json")
    assert code == 0, err
    assert json.loads(out)["proven_for_all_sizes"] is True


def test_a_document_with_reserved_words_as_names_compiles(tmp_path):
    from conftest import compile_latex

    code, log = compile_latex(derive("f @ d", shapes={"f": (2, 2), "d": (2, 2)}).latex(), tmp_path)
    assert code == 0, log[-2000:]


def test_g_names_a_matrix_when_the_upstream_needs_no_name():
    # derive picks another name for the upstream gradient; a scalar-valued
    # expression has no upstream at all
    r = derive("G @ Q")
    assert r.verified and r.proven_for_all_sizes and r.upstream_name not in ("G", "Q")
    assert str(r.closed_form_trees["Q"]) == f"G.T @ {r.upstream_name}"
    c = check("trace(G @ X)", wrt="X", claim="G.T")  # d tr(GX)/dX = G^T
    assert c.holds
    assert derive("trace(G @ X)").verified


def test_check_asks_for_an_upstream_name_when_g_is_a_matrix():
    # in a claim, G is the upstream gradient: with a matrix G it would read two ways
    with pytest.raises(BadInput, match="--upstream"):
        check("G @ Q", wrt="G", claim="G @ Q.T")
    code, out, err = run("check", "G @ Q", "--wrt", "G", "--claim", "U @ Q.T", "--upstream", "U")
    assert code == 0 and "PROVEN for all sizes" in out, err


def test_an_explicit_upstream_name_that_is_a_matrix_is_refused():
    with pytest.raises(BadInput, match="'X'"):
        derive("X @ W", upstream="X")


@pytest.mark.parametrize("upstream", ["X$", "a b", "sum", "_G", "", "G[0]"])
def test_an_upstream_name_outside_the_language_is_refused(upstream):
    with pytest.raises(BadInput, match="^--upstream"):
        derive("X @ W", upstream=upstream)
    code, out, err = run("check", "X @ W", "--wrt", "X", "--claim", "0 * X", "--upstream", upstream)
    assert code == 2 and err.startswith("symderive: error: --upstream")


def test_an_upstream_named_like_a_keyword_of_the_proof_is_shown_as_given():
    r = derive("X @ W", upstream="index")
    assert r.proven_for_all_sizes and str(r.closed_form_trees["X"]) == "index @ W.T"
    assert_shown_with_the_users_names(r.general_proofs["X"], {"X", "W", "index", r.output_name})


def test_every_output_name_taken_is_no_reason_to_refuse():
    r = derive("Y + Z + F + H + Out")
    assert r.verified and r.output_name not in ("Y", "Z", "F", "H", "Out", "G")


# ---------------------------------------------------------------------------
# det: the adjugate, never an inverse
# ---------------------------------------------------------------------------


def test_det_of_a_product_of_rank_two_has_gradient_zero(tmp_path):
    # X @ W with X 3x2, W 2x3 is 3x3 of rank at most 2, so det(X @ W) = 0 for every
    # X and W, and its gradient by X (and by W) is the zero matrix.
    X, W = matrix_of_symbols("X", 3, 2), matrix_of_symbols("W", 2, 3)
    assert sympy.expand((X * W).det()) == 0  # the hand argument, confirmed
    shapes = {"X": (3, 2), "W": (2, 3)}
    c = check("det(X @ W)", wrt="X", claim="0 * X", shapes=shapes)
    assert c.holds and c.verdict.counterexample is None
    r = derive("det(X @ W)", shapes=shapes)
    assert r.verified
    for name, (rows, cols) in shapes.items():
        zero = sympy.zeros(rows, cols)
        assert r.gradients[name] == zero
        closed = r.closed_form_trees[name]
        assert "inv" not in str(closed) and "adj" in str(closed)
        assert sympy.expand(explicit(closed, {**r.inputs}) - zero) == zero
    code, _, err = run("check", "det(X @ W)", "--wrt", "X", "--claim", "0 * X",
                       "--shape", "X=3x2", "--shape", "W=2x3")
    assert code == 0, err
    code, _, err = run("derive", "det(X @ W)", "--shape", "X=3x2", "--shape", "W=2x3", "--out", str(tmp_path))
    assert code == 0, err


def test_det_gradient_of_a_2x2_is_its_cofactor_matrix():
    # det [[a, b], [c, e]] = a e - b c: the derivatives by a, b, c, e are e, -c, -b, a
    r = derive("det(A)", shapes={"A": (2, 2)})
    assert r.verified
    (a, b), (c, e) = r.inputs["A"].tolist()
    assert explicit(r.closed_form_trees["A"], r.inputs) == sympy.Matrix([[e, -c], [-b, a]])


@pytest.mark.parametrize("size", [1, 3, 4])
def test_det_gradient_of_an_invertible_matrix_is_verified_exactly(size):
    r = derive("det(A)", shapes={"A": (size, size)})
    identity = [i for i in r.identities if i.kind == "gradient"][0]
    assert identity.verdict.holds and "exactly 0" in identity.verdict.method
    assert identity.witness is not None and identity.witness.agrees is True
    A = r.inputs["A"]
    closed = explicit(r.closed_form_trees["A"], r.inputs)
    determinant = A.det(method="berkowitz")
    for i in range(size):
        for j in range(size):  # Jacobi: d det(A)/dA_ij, by differentiation here
            assert sympy.expand(closed[i, j] - sympy.diff(determinant, A[i, j])) == 0
    if size <= 3:  # and the Matrix Cookbook's det(A) inv(A)^T, where A is invertible
        cookbook = determinant * A.inv().T
        assert all(sympy.simplify(closed[k] - cookbook[k]) == 0 for k in range(size * size))


def test_claims_may_use_the_adjugate_or_the_inverse():
    shapes = {"A": (3, 3)}
    assert check("det(A)", wrt="A", claim="adj(A).T", shapes=shapes).holds
    assert check("det(A)", wrt="A", claim="det(A) * inv(A).T", shapes=shapes).holds
    assert not check("det(A)", wrt="A", claim="adj(A)", shapes=shapes).holds


# ---------------------------------------------------------------------------
# Arguments that start with '-'
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["check", "X @ W", "--wrt", "X", "--claim", "-(-G @ W.T)"],
    ["check", "X @ W", "--wrt", "X", "--claim", "-(-G@W.T)"],
    ["check", "-trace(A.T@X)", "--wrt", "X", "--claim", "-A"],
    ["check", "-trace(X)", "--wrt", "X", "--claim", "-eye(3)"],
    ["check", "--wrt", "X", "-trace(X)", "--claim", "-eye(3)"],
    ["check", "-X@W", "--claim", "-G@W.T", "--wrt", "X"],
    ["check", "sum(-A*X)", "--wrt", "X", "--claim=-A"],
])
def test_claims_and_expressions_may_start_with_a_minus(argv):
    code, out, err = run(*argv)
    assert code == 0 and "VERIFIED" in out, err


def test_a_claim_starting_with_a_minus_is_read_as_a_claim():
    code, out, err = run("check", "X @ W", "--wrt", "X", "--claim", "-A")
    assert code == 2 and "the claim uses 'A'" in err


@pytest.mark.parametrize("expression", ["-X @ W", "-X@W", "--X@W".replace("--", "-(-") + ")"])
def test_derive_an_expression_starting_with_a_minus(tmp_path, expression):
    code, out, err = run("derive", expression, "--out", str(tmp_path))
    assert code == 0, err
    assert "verified df/dX" in out


def test_a_parse_error_in_an_expression_starting_with_a_minus_points_at_its_column(tmp_path):
    code, _, err = run("derive", "-X@@W", "--out", str(tmp_path))
    message, text, caret = err.rstrip("\n").splitlines()
    assert code == 2 and "line 1, column 4" in message
    assert text == "-X@@W" and caret == "   ^"


@pytest.mark.parametrize("argv", [
    ["--frobnicate"],
    ["derive", "X @ W", "--frobnicate"],
    ["check", "X @ W", "--wrt", "X", "--claim", "G @ W.T", "--frobnicate"],
    ["check", "X @ W", "--wrt", "X", "--claim", "--frobnicate"],
    ["derive", "-X", "-W"],
])
def test_unknown_flags_are_still_refused(tmp_path, argv):
    code, out, err = run(*argv, *(["--out", str(tmp_path)] if argv[0] != "check" else []))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_help_and_values_that_start_with_a_minus(tmp_path, capsys):
    assert main(["derive", "-h"]) == 0 and "EXPR" in capsys.readouterr().out
    code, out, err = run("--title", "-draft", "--out", str(tmp_path))
    assert code == 0, err
    assert "\\title{-draft\n}" in (tmp_path / "XW_X3x2_W2x4.tex").read_text()
    code, out, err = run("--m", "-3")
    assert code == 2 and "--m" in err


def test_a_derivation_file_whose_name_starts_with_a_minus(tmp_path, monkeypatch):
    source = Path(__file__).resolve().parent.parent / "examples" / "note_section3.sd"
    (tmp_path / "-s3.sd").write_text(source.read_text())
    monkeypatch.chdir(tmp_path)
    code, out, err = run("prove", "-s3.sd")
    assert code == 0 and "steps proven for all sizes" in out, err


# ---------------------------------------------------------------------------
# --n --m --d with an expression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag, matrix", [("--n", "X"), ("--m", "X or W"), ("--d", "W")])
def test_a_size_that_applies_to_no_matrix_is_refused(tmp_path, flag, matrix):
    code, out, err = run("derive", "A @ B", flag, "5", "--out", str(tmp_path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert flag in err and matrix in err and "--shape" in err
    assert list(tmp_path.iterdir()) == []
    code, out, err = run("check", "A @ B", "--wrt", "A", "--claim", "G @ B.T", flag, "5")
    assert code == 2 and flag in err


def test_sizes_that_apply_are_applied():
    r = derive("A @ B", n=None)
    assert r.verified
    with pytest.raises(BadInput, match="--n"):
        derive("A @ B", n=5, m=6, d=7)
    r = derive("X @ W", n=5, m=6, d=7)
    assert r.shapes == {"X": (5, 6), "W": (6, 7)} and r.sizes == {"n": 5, "m": 6, "d": 7}
    r = derive("X @ A", n=5, m=2)
    assert r.shapes["X"] == (5, 2) and r.shapes["A"][0] == 2
    with pytest.raises(BadInput, match="--d"):
        derive("X @ A", n=5, d=2)
    r = derive("W.T @ v", d=3, m=2)
    assert r.shapes["W"] == (2, 3)


def test_sizes_must_agree_with_the_shapes_given():
    with pytest.raises(BadInput, match="--n 5.*--shape X=3x2|--shape X=3x2.*--n 5"):
        derive("X @ W", shapes={"X": (3, 2)}, n=5)
    with pytest.raises(BadInput, match="--m"):
        derive("X @ W", shapes={"X": (3, 2)}, m=5)
    with pytest.raises(BadInput, match="--d"):
        derive("X @ W", shapes={"W": (2, 4)}, d=5)
    r = derive("X @ W", shapes={"X": (3, 2)}, n=3, d=4)
    assert r.shapes == {"X": (3, 2), "W": (2, 4)}
