"""Derivations read from lecture notes: what was found, and what the checker said.

The stage between the readers of notes (:mod:`symderive.latex_notes`, for
LaTeX and Markdown; :mod:`symderive.derivation_file` for symderive's own
``.sd`` format) and what reports on them (the command line, ``--json``, the
annotated report of ``--out``).  A reader turns a file into
:class:`NotesDocument`: the derivations it found, each a
:class:`~symderive.index.Derivation` whose steps carry the line of the file
they came from, and remarks on what it read.  :func:`check_notes` runs the
prover on each and gives a :class:`NotesReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .index import Derivation
from .prove import DEFAULT_K, ProofReport, check_derivation

__all__ = ["Remark", "NoteDerivation", "NotesDocument", "CheckedDerivation", "NotesReport", "check_notes",
           "READING", "REFUSAL", "SLIP", "SKIPPED"]

# Kinds of remark
READING = "reading"  # which reading of ambiguous notation was taken (X_{12}: row 1, column 2)
REFUSAL = "refusal"  # something the notes state that cannot be checked as stated (Y = W X does not conform)
SLIP = "slip"  # something odd but harmless (a sum from p = i over terms that are all 0)
SKIPPED = "skipped"  # a display that is not a derivation, said once with its line


@dataclass(frozen=True)
class Remark:
    """A remark on the notes, at a line (and column, 0 when the whole line is meant)."""

    line: int
    column: int
    kind: str  # READING, REFUSAL, SLIP or SKIPPED
    text: str

    def data(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "kind": self.kind, "text": self.text}


@dataclass
class NoteDerivation:
    """One chain of equalities found in the notes, ready for the prover.

    ``conclusions`` holds the numbers of the steps (1-based, as
    :class:`~symderive.prove.StepVerdict` numbers them) that are matrix-form
    conclusions ("hence df/dX = df/dY W^T"), checked entry by entry against the
    line before."""

    derivation: Derivation
    conclusions: set[int] = field(default_factory=set)
    columns: list[int] = field(default_factory=list)  # column of each step's text in its line (1-based; 0 unknown)


@dataclass
class NotesDocument:
    """What a reader found in a file."""

    name: str  # the file as given
    kind: str  # "tex", "md" or "sd"
    derivations: list[NoteDerivation]
    remarks: list[Remark] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # what was not a derivation, counted by kind


@dataclass
class CheckedDerivation:
    note: NoteDerivation
    report: ProofReport

    @property
    def proven(self) -> bool:
        return self.report.proven


@dataclass
class NotesReport:
    document: NotesDocument
    derivations: list[CheckedDerivation]

    @property
    def refusals(self) -> list[Remark]:
        return [r for r in self.document.remarks if r.kind == REFUSAL]

    @property
    def unread(self) -> int:
        """Displays that could not be read, and conclusions that could not be checked:
        while there are any, the notes as a whole are not proven, whatever was read."""
        skipped = self.document.skipped
        return skipped.get("displays with derivatives not read", 0) + skipped.get("conclusions not checked", 0)

    @property
    def proven(self) -> bool:
        """Every derivation proven for all sizes, at least one, nothing refused, and
        nothing left unread (a display symderive could not read may hold a false step)."""
        return bool(self.derivations) and all(d.proven for d in self.derivations) and not self.refusals \
            and not self.unread

    @property
    def first_false(self):
        """(derivation, step) of the first step shown false, or None."""
        for checked in self.derivations:
            if checked.report.first_false is not None:
                return checked, checked.report.first_false
        return None

    @property
    def unreadable(self) -> bool:
        """Nothing could be checked as stated: a refusal, or a derivation the prover could not read."""
        return bool(self.refusals) or any(d.report.error for d in self.derivations)

    def data(self) -> dict[str, Any]:
        doc = self.document
        return {"file": doc.name, "kind": doc.kind, "proven": self.proven,
                "derivations": [{**d.report.data(), "conclusions": sorted(d.note.conclusions)}
                                for d in self.derivations],
                "remarks": [r.data() for r in doc.remarks], "skipped": dict(sorted(doc.skipped.items()))}


def check_notes(document: NotesDocument, k: int = DEFAULT_K) -> NotesReport:
    """Run the prover on every derivation of the notes."""
    return NotesReport(document, [CheckedDerivation(note, check_derivation(note.derivation, k=k))
                                  for note in document.derivations])
