"""Expressions: the small tree that the derivative rules and the builder walk.

A node is a frozen dataclass, so that trees compare and hash by value and print
deterministically.  The foundation needs names and the matrix product; the
expression language grows this module, one node type per operation, each with
its rule in :mod:`symderive.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

__all__ = ["Expr", "Name", "MatMul", "names_in", "walk"]


class Expr:
    """Base class of expression nodes."""

    def children(self) -> tuple["Expr", ...]:
        return ()


@dataclass(frozen=True)
class Name(Expr):
    """A matrix the user names: a leaf, and something to differentiate by."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class MatMul(Expr):
    """The matrix product ``left @ right``: (AB)_pq = sum_r A_pr B_rq."""

    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def __str__(self) -> str:
        return f"{_operand(self.left)} @ {_operand(self.right)}"


def _operand(node: Expr) -> str:
    return str(node) if isinstance(node, Name) else f"({node})"


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right."""
    yield node
    for child in node.children():
        yield from walk(child)


def names_in(node: Expr) -> list[str]:
    """The names of the leaves, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for sub in walk(node):
        if isinstance(sub, Name):
            seen.setdefault(sub.name)
    return list(seen)
