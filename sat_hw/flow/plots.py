"""PNG charts for reports (matplotlib, headless): pure functions, data in, PNG bytes out."""

from __future__ import annotations

import io


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cycles_chart(names: list[str], expected: list[float], measured: list[float],
                 title: str) -> bytes:
    """Per-layer bars: the folding's expected cycles per image beside the simulation's."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * len(names) + 2), 3.6), dpi=110)
    xs = range(len(names))
    w = 0.4
    ax.bar([x - w / 2 for x in xs], expected, w, label="expected (folding)", color="#8da0cb")
    ax.bar([x + w / 2 for x in xs], measured, w, label="measured (Verilator, busy)",
           color="#fc8d62")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("cycles per image")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


__all__ = ["cycles_chart"]
