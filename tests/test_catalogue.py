"""The identity catalogue (tests/catalogue.py): the seed note and the first-order
Matrix Cookbook identities, each derived (closed form found and checked) and
checked as a claim, and each plausible wrong variant refuted.

Each case cites its source and Cookbook equation number in its test id.
"""

import pytest

from symderive import check, derive

from catalogue import CATALOGUE


def case_id(identity):
    where = f"eq{identity.equation}" if identity.equation else identity.source.split(",")[0].replace(" ", "-")
    return f"{where}-{identity.expression}-d{identity.wrt}"


@pytest.mark.parametrize("identity", CATALOGUE, ids=case_id)
def test_claim_is_verified(identity):
    result = check(identity.expression, identity.wrt, identity.claim, shapes=identity.shapes)
    assert result.holds, (result.verdict.method, result.verdict.counterexample, result.verdict.reason)
    assert result.verdict.checked == result.shapes[identity.wrt][0] * result.shapes[identity.wrt][1]
    assert result.witness is not None and result.witness.agrees


@pytest.mark.parametrize("identity", CATALOGUE, ids=case_id)
def test_derive_finds_a_closed_form_that_verifies(identity):
    shapes = {name: shape for name, shape in identity.shapes.items() if name != "G"}
    r = derive(identity.expression, shapes=shapes, wrt=identity.wrt)
    assert r.verified
    # the closed form symderive found is itself accepted as a claim by check
    closed = str(r.closed_form_trees[identity.wrt])
    assert check(identity.expression, identity.wrt, closed, shapes=shapes).holds


WRONG = [(identity, claim, why) for identity in CATALOGUE for claim, why in identity.wrong]


@pytest.mark.parametrize("identity, claim, why", WRONG,
                         ids=[f"{case_id(i)}-wrong-{claim}" for i, claim, _ in WRONG])
def test_wrong_variant_is_refuted(identity, claim, why):
    result = check(identity.expression, identity.wrt, claim, shapes=identity.shapes)
    assert not result.holds, why
    found = result.verdict.counterexample
    if found is None:
        # refuted on shape: both shapes are named
        assert "x" in result.verdict.reason and identity.wrt in result.verdict.reason
    else:
        assert found.decided and found.difference != 0


def test_the_catalogue_covers_the_cookbook_sections():
    sections = {identity.source for identity in CATALOGUE}
    assert any("2.4.1" in s for s in sections) and any("2.5" in s for s in sections)
    assert any(s.startswith("seed note") for s in sections)
    assert all(identity.wrong for identity in CATALOGUE)
