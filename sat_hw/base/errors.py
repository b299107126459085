"""What can go wrong, and the exit status each kind gives on the command line.

=====  ======================================================================================
 0     success
 1     a bug in sat_hw (an unexpected exception: Python prints its traceback)
 2     bad input: a flag, a flow.toml key or value, a missing or foreign file, an output
       folder sat_hw may not replace (:class:`ValueError`, :class:`FileNotFoundError`)
 3     verification failed: the generated hardware computed something other than golden
       (RTL or HLS outputs differ), or stalled (the watchdog) (:class:`VerificationError`)
 4     an external tool failed or is missing: Verilator, the C++ compiler, Yosys
       (:class:`ToolError`)
 5     training stopped by its guard: a non-finite loss or a collapse of the accuracy
       (:class:`TrainingCollapse`); the last good checkpoint is kept
 130   interrupted (Ctrl-C); nothing half-written is left behind
=====  ======================================================================================

Every error is one line on stderr, ``sat_hw <command>: error: <what>``. A verification failure
still writes the build folder (its report says what failed), so the design can be inspected.
"""

from __future__ import annotations

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_VERIFY, EXIT_TOOL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_COLLAPSE = 5


class VerificationError(RuntimeError):
    """The generated design disagrees with golden, or stalled; the message is one line."""


class ToolError(RuntimeError):
    """An external tool (Verilator, the C++ compiler, Yosys) failed or is missing; one line."""


class TrainingCollapse(RuntimeError):
    """Training stopped by its guard (``sat_hw.flow.guard``); the message is one line."""


__all__ = ["EXIT_BUG", "EXIT_COLLAPSE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TOOL", "EXIT_USAGE",
           "EXIT_VERIFY", "ToolError", "TrainingCollapse", "VerificationError"]
