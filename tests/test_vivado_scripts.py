"""The vendor-flow files of a build (issue 22): the Vivado scripts parse under ``tclsh`` with the
Vivado commands stubbed, every file they read exists, the clock is ``hw.fclk_mhz``'s; the
self-contained SystemVerilog testbench of the integration top passes under Verilator
(``--binary --timing``), flags a frame of the wrong length, and the build's MEM_DIR reaches the
ROM images from another working folder."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from sat_hw.codegen.vivado import render_vivado
from sat_hw.hw.devices import get_device

STUBS = r"""
set ::log {}
proc note {args} { lappend ::log $args }
proc need {path} {
    if {![file exists $path]} { error "no such file: $path" }
    note file $path
}
proc read_verilog {args} { need [lindex $args end] }
proc read_xdc {args} { need [lindex $args end] }
proc add_files {args} { need [lindex $args end] }
proc synth_design {args} {
    set i [lsearch $args -generic]
    set g [lindex $args [expr {$i + 1}]]
    if {![regexp {^MEM_DIR="(.*)"$} $g -> dir]} { error "generic $g" }
    if {![file isdirectory $dir]} { error "MEM_DIR $dir is not a folder" }
    note synth {*}$args
}
foreach p {write_checkpoint report_utilization opt_design place_design phys_opt_design
           route_design report_timing_summary report_clock_utilization create_project
           set_property current_fileset close_project} {
    proc $p {args} "note $p {*}\$args"
}
namespace eval ipx {}
foreach p {package_project current_core associate_bus_interfaces get_user_parameters
           add_file_group get_file_groups create_xgui_files update_checksums save_core} {
    proc ipx::$p {args} "note ipx::$p {*}\$args"
}
proc ipx::add_file {name group} { need [file join $::ipdir $name] }
proc create_clock {args} { note clock {*}$args }
proc get_ports {p} { return $p }
"""


def _tclsh(script: Path, prelude: str = "") -> list[str]:
    if shutil.which("tclsh") is None:
        pytest.fail("tclsh is not installed (scripts/setup.sh installs Debian's tcl)")
    runner = script.parent / f"_run_{script.stem}.tcl"
    runner.write_text(STUBS + prelude + f"\nsource {{{script}}}\nputs [join $::log \\n]\n")
    r = subprocess.run(["tclsh", str(runner)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@pytest.fixture(scope="module")
def rtl(built, tmp_path_factory) -> Path:
    """A copy of the shared build's rtl/ (the scripts write into it)."""
    out = tmp_path_factory.mktemp("viv") / "rtl"
    shutil.copytree(built / "rtl", out)
    return out


def test_vivado_build_script_reads_every_source(rtl, built):
    log = _tclsh(rtl / "vivado" / "build.tcl")
    read = [ln.split(" ", 1)[1] for ln in log if ln.startswith("file ")]
    names = (rtl / "filelist_axi.f").read_text().split()
    assert read[:len(names)] == [str(rtl / n) for n in names]
    assert read[-1] == str(rtl / "vivado" / "sat_accel.xdc")
    synth = next(ln for ln in log if ln.startswith("synth "))
    assert "-top sat_accel_axi" in synth and "-part xcu250-figd2104-2L-e" in synth
    assert (rtl / "vivado" / "out").is_dir()
    fclk = tomllib.loads((built / "flow.toml").read_text())["hw"]["fclk_mhz"]
    clock = _tclsh(rtl / "vivado" / "sat_accel.xdc")
    assert clock == [f"clock -period {1000 / fclk:.3f} -name ap_clk ap_clk"]


def test_vivado_ip_script_packages_sources_and_images(rtl):
    ip = rtl / "vivado" / "ip"
    log = _tclsh(rtl / "vivado" / "package_ip.tcl", f"set ::ipdir {{{ip}}}\n")
    added = {Path(ln.split(" ", 1)[1]).name for ln in log if ln.startswith("file ")}
    assert set((rtl / "filelist_axi.f").read_text().split()) <= added
    images = {p.name for p in (rtl / "mem").glob("*.hex")}
    assert images and images <= added
    assert any("associate_bus_interfaces -busif s_axis -clock ap_clk" in ln for ln in log)


def test_tclsh_stub_catches_a_missing_file(rtl, tmp_path):
    broken = tmp_path / "rtl"
    shutil.copytree(rtl, broken)
    (broken / "sat_accel_axi.sv").unlink()
    with pytest.raises(AssertionError, match="no such file"):
        _tclsh(broken / "vivado" / "build.tcl")


def test_no_vivado_scripts_for_an_ecp5_part():
    assert render_vivado(None, "x", get_device("ecp5-85k"), 100.0) == {}


@pytest.mark.rtl
def test_self_contained_testbench_passes_and_realigns_a_bad_frame(built):
    from sat_hw.tools.svtb import run_axi_tb

    r = run_axi_tb(built / "rtl", valid_pct=70, ready_pct=60, seed=3)
    assert r["passed"] and r["mismatches"] == 0 and r["beats_out"] > 0, r
    assert r["status"] == 0x4 and not r["frame_error"], r
    for frame, status in (("short", 0x0001_0004), ("long", 0x0001_0004)):
        # image 0 a beat short (padded) or long (dropped): flagged, and images 1, 2 still exact
        bad = run_axi_tb(built / "rtl", valid_pct=80, ready_pct=80, frame=frame)
        assert bad["passed"] and bad["frame_error"] and bad["status"] == status, bad
        assert bad["beats_out"] == r["beats_out"], bad
    one = run_axi_tb(built / "rtl", images=1, frame="long")
    assert one["passed"] and one["status"] == 0x0001_0006, one


@pytest.mark.rtl
def test_testbench_catches_a_wrong_expected_beat(built, tmp_path):
    from sat_hw.tools.svtb import run_axi_tb

    rtl = tmp_path / "rtl"
    shutil.copytree(built / "rtl", rtl, symlinks=True)
    lines = (rtl / "tb" / "expected.hex").read_text().splitlines()
    lines[4] = f"{int(lines[4], 16) ^ 1:0{len(lines[4])}x}"
    (rtl / "tb" / "expected.hex").write_text("\n".join(lines) + "\n")
    r = run_axi_tb(rtl)
    assert not r["passed"] and r["mismatches"] == 1, r
    assert r["first_mismatch"].startswith("image 0 beat 4: got "), r


WRAP = """module wrap #(parameter MEM_DIR = "mem") (
    input wire logic clk, rst, input wire logic [15:0] d, input wire logic v, output logic r,
    output logic [23:0] q, output logic qv, input wire logic qr);
  sat_bias #(.CH(10), .PE(1), .IN_BITS(16), .OUT_BITS(24), .FRAC(0), .BIAS_BITS(8),
             .BIAS_FILE({MEM_DIR, "/b.hex"})) u (.clk, .rst, .s_axis_tdata(d),
             .s_axis_tvalid(v), .s_axis_tready(r), .m_axis_tdata(q), .m_axis_tvalid(qv),
             .m_axis_tready(qr));
endmodule
"""


@pytest.mark.rtl
def test_mem_dir_reaches_the_images(tmp_path):
    """The top passes ROM names as {MEM_DIR, "/<name>"}: Yosys reads the images from the folder
    MEM_DIR names (here "images", not the default "mem"; relative to Yosys's working folder,
    since the wasm Yosys sees no other) and stops when they are not there."""
    from sat_hw.base.resources import resource_path
    from sat_hw.flow.synthesis import DEFAULT_ROMS
    from sat_hw.tools.yosys import SynthError, synth

    (tmp_path / "wrap.sv").write_text(WRAP)
    srcs = [resource_path("rtl") / "sat_skid.sv", resource_path("rtl") / "sat_bias.sv",
            tmp_path / "wrap.sv"]
    counts = []
    for seed in (1, 2):
        image = "".join(f"{(seed * 37 * i + 11) % 256:02x}\n" for i in range(10))
        r = synth(srcs, "wrap", {"MEM_DIR": "images"}, family="xcup",
                  files={**DEFAULT_ROMS, "images/b.hex": image})
        counts.append(r.cells)
    assert counts[0] != counts[1], "the images' contents reached the netlist"
    with pytest.raises(SynthError, match="nowhere/b.hex"):
        synth(srcs, "wrap", {"MEM_DIR": "nowhere"}, family="xcup",
              files={**DEFAULT_ROMS, "images/b.hex": image})
