"""Generated blocks in Markdown: the lines between ``<!-- PREFIX:NAME -->`` and
``<!-- /PREFIX:NAME -->``, rewritten by the benchmark script that owns them (a test keeps each
document equal to its script's rendering)."""

from __future__ import annotations

import re


def render_blocks(text: str, prefix: str, made: dict[str, list[str]], what: str) -> str:
    """``text`` with every ``prefix:name`` block replaced by ``made[name]`` (a missing marker is
    an error naming ``what``, the document)."""
    for name, lines in made.items():
        tag = f"{prefix}:{name}"
        pat = re.compile(rf"(<!-- {tag} -->\n).*?(<!-- /{tag} -->)", re.DOTALL)
        m = pat.search(text)
        if not m:
            raise ValueError(f"{what} has no <!-- {tag} --> block")
        text = text[:m.start()] + m.group(1) + "\n".join(lines) + "\n" + m.group(2) + text[m.end():]
    return text
