"""The maths of a Markdown page as KaTeX and MathJax see it (tests/test_formats.py).

Display maths is a ``$$`` line, the formula, and a ``$$`` line; inline maths is
``$...$`` within a line of text, where ``\\$`` is an escaped dollar and code
(between backticks, or in a fenced block) holds no maths.
"""

from __future__ import annotations

import re

_INLINE = re.compile(r"(?<![\\$])\$(?!\$)((?:[^$\\]|\\.)+?)(?<!\\)\$(?!\$)")


def maths_blocks(page: str) -> list[dict]:
    """Every formula of ``page``: ``{"tex", "display", "line"}``; a display left
    open, or a ``$`` left over in a line of text, raises ValueError."""
    found: list[dict] = []
    lines = page.split("\n")
    number, fenced = 0, False
    while number < len(lines):
        line = lines[number]
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            pass
        elif line.strip() == "$$":
            start = number
            number += 1
            body = []
            while number < len(lines) and lines[number].strip() != "$$":
                body.append(lines[number])
                number += 1
            if number == len(lines):
                raise ValueError(f"line {start + 1}: a $$ display is never closed")
            found.append({"tex": "\n".join(body), "display": True, "line": start + 1,
                          "blank": any(not part.strip() for part in body)})
        else:
            text = re.sub(r"`[^`]*`", "", line)
            for match in _INLINE.finditer(text):
                found.append({"tex": match.group(1), "display": False, "line": number + 1, "blank": False})
            rest = _INLINE.sub("", text).replace("\\$", "")
            if "$" in rest:
                raise ValueError(f"line {number + 1}: a $ that opens no formula: {line!r}")
        number += 1
    return found
