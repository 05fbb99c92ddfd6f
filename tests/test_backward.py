"""The backward pass of a program: staged, in the program's names, every step proven."""

from symderive.backward import backward_pass, inline
from symderive.expr import Name
from symderive.index import Declarations
from symderive.parse import parse
from symderive.program import read_program
from symderive.prove import matrix_shape
from symderive.shapes import node_shapes

MLP = ("X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k\n"
       "Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2")


def shapes_of(program, sizes):
    concrete = {name: tuple(sizes[d] if isinstance(d, str) else d for d in shape)
                for name, shape in program.declared.items()}
    decl = Declarations(sizes=program.sizes, shapes=dict(program.declared), defined=program.definitions())
    symbolic = dict(program.declared)
    for step in program.steps:
        leaves = {name: concrete[name] for name in concrete}
        concrete[step.name] = node_shapes(step.expression, leaves)[step.expression]
        symbolic[step.name] = matrix_shape(step.expression, decl)
    return concrete, symbolic


def mlp_pass():
    program = read_program(MLP)
    concrete, symbolic = shapes_of(program, {"n": 4, "m": 3, "h": 5, "k": 2})
    return backward_pass(program, concrete, None, symbolic, program.sizes)


def test_the_mlp_backward_pass_reads_like_a_lecture():
    bp = mlp_pass()
    found = {(s.step, s.argument): str(s.contribution) for s in bp.steps}
    assert found[("L", "Y")] == "Y - T"
    assert found[("Y", "H")] == "dY @ W2.T"
    assert found[("H", "Z")] == "dZ * (1 - H**2)".replace("dZ", "dH")
    assert found[("Z", "W1")] == "X.T @ dZ"
    assert [s.step for s in bp.steps][:2] == ["L", "L"]  # backwards from the output


def test_every_backward_step_is_proven_for_all_sizes():
    bp = mlp_pass()
    assert bp.proven_for_all_sizes
    assert all(step.proof.proven for step in bp.steps)
    assert {lemma.name for lemma in bp.lemmas} >= {"tanh", "matmul, argument A", "matmul, argument B"}


def test_the_closed_forms_are_in_the_program_s_names():
    bp = mlp_pass()
    assert bp.closed_forms["W1"] == parse("X.T @ (((Y - T) @ W2.T) * (1 - H**2))")
    assert bp.closed_forms["W2"] == parse("H.T @ (Y - T)")


def test_a_wrong_contribution_is_not_proven():
    from symderive import backward

    bp = mlp_pass()
    step = next(s for s in bp.steps if (s.step, s.argument) == ("H", "Z"))
    step.contribution = parse("dH * (1 - H)")  # the forgotten square
    step.proof, step.proof_error = None, ""
    program = read_program(MLP)
    concrete, symbolic = shapes_of(program, {"n": 4, "m": 3, "h": 5, "k": 2})
    backward._prove_step(step, program.definitions()["H"], symbolic, program.sizes, False)
    assert not step.proven and step.proof.steps[0].counterexample is not None


def test_a_name_used_twice_accumulates():
    program = read_program("X : n x n; Y = X @ X; L = trace(Y)")
    concrete, symbolic = shapes_of(program, {"n": 3})
    bp = backward_pass(program, concrete, None, symbolic, program.sizes)
    assert str(bp.gradients["X"]) in ("dY @ X.T + X.T @ dY", "X.T @ dY + dY @ X.T")
    assert bp.proven_for_all_sizes


def test_inline_gives_an_expression_of_the_inputs():
    program = read_program(MLP)
    assert inline(Name("L"), program) == parse("sum((tanh(X @ W1 + b1) @ W2 + b2 - T) ** 2) / 2")
