"""Vendor-flow files of a build's ``rtl/vivado/`` (issue 22): an XDC with the clock of
``hw.fclk_mhz``, a non-project Vivado Tcl (synthesis, place and route, reports of the integration
top, out of context) and an IP-packaging Tcl. Rendered for Xilinx parts only; sat_hw never runs
them (no vendor tool in its loop): tests/test_vivado_scripts.py checks that they parse under
``tclsh`` with the Vivado commands stubbed and that every file they name exists.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sat_hw.base.resources import resource_path
from sat_hw.hw.devices import Device
from sat_hw.hw.plan import HardwarePlan

FILES = ("sat_accel.xdc", "build.tcl", "package_ip.tcl")


def render_vivado(plan: HardwarePlan, graph_hash: str, device: Device, fclk_mhz: float,
                  top: str = "sat_accel") -> dict[str, str]:
    """``{path under rtl/: text}`` of ``vivado/`` for ``device`` (empty for a non-Xilinx
    part)."""
    if device.family not in ("xc7", "xcup"):
        return {}
    env = Environment(loader=FileSystemLoader(str(resource_path("templates") / "rtl" / "vivado")),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    ctx = {"hash": graph_hash, "top": top, "name": plan.graph.name, "part": device.part,
           "fclk": f"{fclk_mhz:g}", "period": f"{1000.0 / fclk_mhz:.3f}"}
    return {f"vivado/{f}": env.get_template(f"{f}.j2").render(ctx) for f in FILES}


__all__ = ["FILES", "render_vivado"]
