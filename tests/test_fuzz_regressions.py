"""Bugs the fuzzer (benchmarks/fuzz.py) found, each as its smallest reproducer (issue 18).

Each test names the bug; its docstring gives the fuzz case that found it, the root cause and the
fix. Tests marked ``rtl`` run Verilator.
"""

from __future__ import annotations

import re

from sat_hw.base.resources import resource_path

PRAGMA = re.compile(r"(//|/\*)\s*verilator\b(?!\s+(lint_off|lint_on|public|tracing_off|"
                    r"tracing_on|coverage_off|coverage_on|no_inline|inline|isolate_assignments|"
                    r"sc_bv|sformat|split_var|forceable|clock_enable|full_case|parallel_case|"
                    r"hier_block|no_clocker|clocker))", re.IGNORECASE)


def test_no_comment_line_reads_as_a_verilator_pragma():
    """Found by the first fuzz case with a window generator (seed 1, case 1): every build failed
    with ``%Error-BADVLTPRAGMA: rtl/sat_swg.sv:325:9: Unknown verilator comment: '/*verilator 's
    limit (8192) ...*/'``. Cause: a new comment in ``sat_swg.sv`` wrapped so that its second
    line began ``// Verilator's limit``; Verilator reads any comment that starts with its name
    (any case) as a metacomment and rejects unknown ones. Fix: reworded so no comment line starts
    with the tool's name. The test scans every hand-written block and RTL template."""
    files = sorted((resource_path("rtl")).glob("*.sv")) + \
        sorted((resource_path("templates") / "rtl").glob("*.j2"))
    assert files
    bad = [f"{p.name}:{i}: {ln.strip()}" for p in files
           for i, ln in enumerate(p.read_text().splitlines(), 1) if PRAGMA.search(ln)]
    assert not bad, bad
