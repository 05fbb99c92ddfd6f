"""Where a verdict holds: the conditions every derivative of an expression needs.

A gradient is a statement about the points where the expression is
differentiable.  relu, leaky_relu, abs, step and sign have a kink at 0; log,
sqrt and fractional powers need positive arguments; division and negative
powers need nonzero ones; the Frobenius norm is not differentiable at the zero
matrix; inv needs an invertible matrix.  :func:`conditions` lists, for the
trees a verdict is about (the expression, its closed forms, a claim), every
such condition once, in order of appearance, and :func:`domain_text` says them
in one sentence, which every verdict that needs one carries.
"""

from __future__ import annotations

from dataclasses import dataclass

from .expr import KINKED, Call, Constant, Div, Expr, Number, Power, walk

__all__ = ["Condition", "conditions", "domain_text", "domain_data"]


@dataclass(frozen=True)
class Condition:
    """``subject`` must be ``requirement`` entry by entry, because of ``reason``."""

    subject: str  # the sub-expression, as the language prints it
    requirement: str  # "nonzero", "positive", "invertible", "not the zero matrix"
    reason: str  # e.g. "relu has a kink at 0"

    @property
    def text(self) -> str:
        if self.requirement in ("invertible", "not the zero matrix"):
            return f"{self.subject} is {self.requirement} ({self.reason})"
        return f"every entry of {self.subject} is {self.requirement} ({self.reason})"


def _of(node: Expr) -> list[Condition]:
    if isinstance(node, Call):
        subject = str(node.argument)
        if node.function in KINKED:
            what = "is not continuous" if node.function in ("step", "sign") else "has a kink"
            return [Condition(subject, "nonzero", f"{node.function} {what} at 0")]
        if node.function in ("log", "sqrt"):
            return [Condition(subject, "positive", f"{node.function} is differentiable for positive arguments")]
        if node.function == "norm":
            return [Condition(subject, "not the zero matrix", "the norm has a kink at 0")]
        if node.function == "inv":
            return [Condition(subject, "invertible", "inv")]
    if isinstance(node, Power) and (node.exponent.denominator != 1 or node.exponent < 0):
        if node.exponent.denominator != 1:
            return [Condition(str(node.base), "positive", f"a power {node.exponent} needs a positive base")]
        return [Condition(str(node.base), "nonzero", f"a power {node.exponent} divides by the base")]
    if isinstance(node, Div) and not isinstance(node.right, Number):
        if isinstance(node.right, Constant) and (not node.right.value.free_symbols or node.right.value.is_nonzero):
            return []  # sqrt(2), pi, a size n or sqrt(d) (positive integers): not 0
        return [Condition(str(node.right), "nonzero", "division")]
    return []


def conditions(*trees: Expr) -> list[Condition]:
    """Every condition the trees need, once each, in order of appearance."""
    found: dict[tuple[str, str], Condition] = {}
    for tree in trees:
        for node in walk(tree):
            for condition in _of(node):
                key = (condition.subject, condition.requirement)
                if key not in found:
                    found[key] = condition
                elif condition.reason not in found[key].reason:
                    found[key] = Condition(*key, f"{found[key].reason}; {condition.reason}")
    return list(found.values())


def domain_text(found: list[Condition]) -> str:
    """"where every entry of Z is nonzero (relu has a kink at 0)", or "" when
    the verdict holds everywhere."""
    if not found:
        return ""
    return "where " + "; and where ".join(c.text for c in found)


def domain_data(found: list[Condition]) -> list[dict]:
    return [{"subject": c.subject, "requirement": c.requirement, "reason": c.reason, "text": c.text}
            for c in found]
