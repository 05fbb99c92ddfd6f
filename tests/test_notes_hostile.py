"""Notes that tried to make `prove` say something wrong (a hostile tester's files, in
tests/data/hostile_notes), each with the verdict worked out by hand."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from symderive.errors import ExitStatus
from symderive.latex_notes import read_notes
from symderive.notes import REFUSAL, SKIPPED, check_notes
from symderive.notes_report import exit_status

DATA = Path(__file__).parent / "data" / "hostile_notes"


def _checked(name: str):
    text = (DATA / name).read_text()
    return check_notes(read_notes(text, name=name, kind="tex")), text


def _line_of(text: str, fragment: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_a_dropped_sum_is_not_put_back_on_the_writers_behalf():
    # sum_q G_iq W_jq = G_iq W_jq is false: the right side has a free q and no sum
    report, text = _checked("dropped_sum.tex")
    found = report.first_false
    assert found is not None and found[1].after.line == _line_of(text, r"&= \frac{\partial f}{\partial Y_{iq}} W_{jq}")
    assert exit_status(report) == ExitStatus.REFUTED


def test_a_chain_about_the_diagonal_proves_no_matrix_form_conclusion():
    # the chain is about X_ii only; W (df/dY)^T agrees with G W^T on the diagonal, nowhere else
    report, _ = _checked("diagonal_chain_conclusion.tex")
    assert not report.proven
    assert any(r.kind == SKIPPED and "conclusion not checked" in r.text for r in report.document.remarks)
    assert all(not d.note.conclusions for d in report.derivations)
    assert exit_status(report) == ExitStatus.UNDECIDED


def test_a_display_that_cannot_be_read_keeps_the_notes_from_being_proven():
    # its second display (W_qj for W_jq) is false; the first has a row symderive cannot read
    report, _ = _checked("unread_continuation_row.tex")
    assert not report.proven
    assert exit_status(report) != ExitStatus.VERIFIED


def test_two_definitions_of_one_matrix_are_refused_not_mixed():
    report, _ = _checked("two_definitions.tex")
    assert any(r.kind == REFUSAL and "defined twice" in r.text for r in report.document.remarks)
    assert report.first_false is None  # neither correct chain is called false
    assert exit_status(report) == ExitStatus.BAD_INPUT


@pytest.mark.parametrize("name, words", [("nested_definitions.tex", "too large to check"),
                                         ("numeric_size_3000.tex", "at most 12")])
def test_inputs_too_large_to_check_are_refused_at_once(name, words):
    start = time.perf_counter()
    report, _ = _checked(name)
    assert time.perf_counter() - start < 10
    assert any(r.kind == REFUSAL and words in r.text for r in report.document.remarks)
    assert exit_status(report) == ExitStatus.BAD_INPUT


def test_cases_whose_rows_overlap_are_read_in_order_not_added():
    # both rows say W_jq where p = i: true, and the rows, read in order, give W_jq once
    report, _ = _checked("redundant_cases.tex")
    assert report.first_false is None
    assert report.proven


def test_an_entry_with_whole_number_indices_says_nothing_where_it_does_not_exist():
    # df/dX_12 = sum_q G_1q W_2q holds wherever X_12 exists (m >= 2); at m = 1 it is vacuous, not false
    report, _ = _checked("literal_entry.tex")
    assert report.first_false is None
