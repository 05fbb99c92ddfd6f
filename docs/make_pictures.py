"""Regenerate README's pictures of a slide and of the web page (not part of the tests).

    python3 docs/make_pictures.py

Needs what the tests need (pdflatex with beamer and pgf, pdftoppm, KaTeX in
tests/.katex) and, for the web page only, the Python package markdown and a
headless Chromium (Debian: chromium).  Writes docs/example-slide.png (a frame
of the note's slides) and docs/example-web.png (the top of the note's
Markdown page, its formulas rendered by KaTeX's auto-render in Chromium).
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KATEX = ROOT / "tests" / ".katex" / "node_modules" / "katex" / "dist"
SLIDE = 5  # the frame with one entry's chain rule

PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="{katex}/katex.min.css">
<script src="{katex}/katex.min.js"></script>
<script src="{katex}/contrib/auto-render.min.js"></script>
<style>body {{ font-family: sans-serif; max-width: 760px; margin: 24px auto; font-size: 16px; }}</style>
</head><body>{body}
<script>renderMathInElement(document.body, {{delimiters: [
  {{left: "$$", right: "$$", display: true}}, {{left: "$", right: "$", display: false}}],
  throwOnError: true}});</script>
</body></html>
"""


def main() -> int:
    import markdown  # only this script needs it

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for form in ("beamer", "markdown"):
            subprocess.run([sys.executable, "-m", "symderive", "--n", "3", "--m", "2", "--d", "4", "--format", form,
                            "--out", str(out)] + (["--pdf"] if form == "beamer" else []), check=True, cwd=ROOT)
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(SLIDE), "-l", str(SLIDE), "-singlefile",
                        str(out / "XW_X3x2_W2x4_slides.pdf"), str(ROOT / "docs" / "example-slide")], check=True)
        text = (out / "XW_X3x2_W2x4.md").read_text(encoding="utf-8")
        # keep the maths away from Markdown's own rules (underscores, backslashes): each formula
        # is held out as a placeholder and put back, escaped for HTML, for auto-render to find
        pieces, kept = text.split("$$"), []
        for k in range(1, len(pieces), 2):
            kept.append("$$" + pieces[k] + "$$")
            pieces[k] = f"\n\nMATHS{len(kept) - 1}\n\n"
        body = markdown.markdown("".join(pieces))
        for k, maths in enumerate(kept):
            body = body.replace(f"<p>MATHS{k}</p>", f"<div>{html.escape(maths)}</div>")
        page = out / "page.html"
        page.write_text(PAGE.format(katex=KATEX.as_uri(), body=body), encoding="utf-8")
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={ROOT / 'docs' / 'example-web.png'}", "--window-size=820,900",
                        page.as_uri()], check=True, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
