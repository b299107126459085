"""The ROM images of a build's ``rtl/mem/`` checked before a simulator or synthesizer reads them.

``$readmemh`` is forgiving in the wrong way: Verilator warns and simulates zeros for a missing
or short file, and vendor tools synthesize a ROM of zeros with only a warning. So every image the
design reads is checked first against what the graph and folding give (the generator's own
output): present, as many words as the ROM has, each word hex of the right number of digits.
A word that differs from the graph's is legal (someone injecting a fault) and only reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from sat_hw.hw.plan import HardwarePlan

HEX = re.compile(r"[0-9a-fA-F]+")


def expected_roms(plan: HardwarePlan) -> dict[str, str]:
    """``{"mem/<name>.hex": text}`` that the generator writes for this hardware plan."""
    from sat_hw.codegen.rtl import layer_roms

    return {k: v for lp in plan.layers for k, v in layer_roms(lp).items()}


def check_roms(rtl_dir: Path, expected: dict[str, str]) -> list[str]:
    """Raise ValueError (one line: the file, the line, what is wrong) for the first image that
    is missing, has the wrong number of words, or a word that is not hex of the ROM's width;
    return the images (relative paths) whose words differ from ``expected``."""
    rtl_dir = Path(rtl_dir)
    differ = []
    for rel, want_text in sorted(expected.items()):
        path = rtl_dir / rel
        if not path.is_file():
            raise ValueError(f"ROM image {path} is missing (the design reads it with $readmemh)")
        want = want_text.splitlines()
        digits = len(want[0]) if want else 1
        try:
            got = path.read_text().splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"ROM image {path} is not text (hex words expected)") from None
        words = []
        for i, line in enumerate(got, 1):
            word = line.strip()
            if not word:  # $readmemh skips blank lines
                continue
            if not HEX.fullmatch(word) or len(word) > digits:
                raise ValueError(f"{path}:{i}: {word[:24]!r} is not a ROM word ({digits} hex "
                                 f"digits)")
            words.append(word)
        got = words
        if len(got) != len(want):
            raise ValueError(f"ROM image {path} has {len(got)} words, the ROM {len(want)}")
        if [int(w, 16) for w in got] != [int(w, 16) for w in want]:
            differ.append(rel)
    return differ


__all__ = ["check_roms", "expected_roms"]
