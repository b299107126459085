`resetall
`timescale 1ns / 1ps
`default_nettype none

// Weight memory of sat_mvu and sat_vvu, in the style the plan chose ([fold.<layer>] mem, the
// blocks' MEM_STYLE): DEPTH words of WIDTH bits, read at raddr, the word registered (rdata is
// mem[raddr] one cycle after raddr: a block RAM's or URAM's read, a distributed ROM and its
// output register).
//
//   "auto"      a ROM initialised from WEIGHT_FILE ($readmemh), no attribute: the tool decides;
//   "lut"       that ROM in LUTs (rom_style "distributed" for Vivado, rom_block "logic" for
//               Yosys, which maps a ROM styled "distributed" nowhere);
//   "bram"      that ROM in block RAM (rom_style / rom_block "block");
//   "uram"      a RAM in UltraRAM (ram_style "ultra"), written at run time through the write
//               port (a URAM has no bitstream initialisation), no init file;
//   "external"  a RAM in block RAM (ram_style "block"), written at run time, no init file: the
//               bitstream carries no weights (they come through the weight-load stream).
// The write port (we, waddr, wdata; one word a cycle) exists in every style and is used only by
// "uram" and "external" (sat_wload drives it); the ROM styles leave it unread. A write and a
// read of the same word in one cycle return the old word (the loader writes only while no image
// is accepted, so the blocks never read a word that is being written).
// sat_mvu and sat_vvu keep their own ROM for "auto" (its netlist under Yosys rests on the order
// of their processes) and use this block for every other style.
module sat_wmem #(
    parameter int          DEPTH = 16,            // words; Requires >= 1
    parameter int          WIDTH = 8,             // bits per word; Requires >= 1
    parameter              WEIGHT_FILE = "w.hex", // $readmemh image (ROM styles only)
    parameter logic [63:0] MEM_STYLE = "lut"      // "auto", "lut", "bram", "uram", "external"
) (
    input  wire logic                                        clk,
    input  wire logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0]  raddr,
    output logic [WIDTH-1:0]                                 rdata,
    input  wire logic                                        we,
    input  wire logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0]  waddr,
    input  wire logic [WIDTH-1:0]                            wdata
);
    localparam bit RAM = MEM_STYLE == 64'("uram") || MEM_STYLE == 64'("external");

    if (DEPTH < 1 || WIDTH < 1) begin : g_err_size
        $error("sat_wmem: DEPTH and WIDTH must be >= 1");
    end
    if (!RAM && MEM_STYLE != 64'("auto") && MEM_STYLE != 64'("lut")
            && MEM_STYLE != 64'("bram")) begin : g_err_style
        $error("sat_wmem: MEM_STYLE must be \"auto\", \"lut\", \"bram\", \"uram\" or \"external\"");
    end

    // literal attributes in each branch (an attribute that takes a parameter's value is not
    // read alike by every tool)
    if (MEM_STYLE == 64'("lut")) begin : g_lut
        (* rom_style = "distributed", rom_block = "logic" *)
        logic [WIDTH-1:0] mem [0:DEPTH-1];
        initial $readmemh(WEIGHT_FILE, mem);
        always_ff @(posedge clk) rdata <= mem[raddr];
    end else if (MEM_STYLE == 64'("bram")) begin : g_bram
        (* rom_style = "block", rom_block = "block" *)
        logic [WIDTH-1:0] mem [0:DEPTH-1];
        initial $readmemh(WEIGHT_FILE, mem);
        always_ff @(posedge clk) rdata <= mem[raddr];
    end else if (MEM_STYLE == 64'("uram")) begin : g_uram
        (* ram_style = "ultra" *)
        logic [WIDTH-1:0] mem [0:DEPTH-1];
        always_ff @(posedge clk) begin
            if (we) mem[waddr] <= wdata;
            rdata <= mem[raddr];
        end
    end else if (MEM_STYLE == 64'("external")) begin : g_external
        (* ram_style = "block" *)
        logic [WIDTH-1:0] mem [0:DEPTH-1];
        always_ff @(posedge clk) begin
            if (we) mem[waddr] <= wdata;
            rdata <= mem[raddr];
        end
    end else begin : g_auto
        logic [WIDTH-1:0] mem [0:DEPTH-1];
        initial $readmemh(WEIGHT_FILE, mem);
        always_ff @(posedge clk) rdata <= mem[raddr];
    end
endmodule

`resetall
