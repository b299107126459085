`resetall
`timescale 1ns / 1ps
`default_nettype none

// Testbench stream sink (simulation only): stores every beat it takes; tready is high with
// probability ready_pct/100 each cycle (seeded), and always high once `drain` is set.
module sat_tb_sink #(
    parameter int W = 8,        // beat width in bits
    parameter int MAXN = 16     // memory depth in beats
) (
    input  wire logic         clk,
    input  wire logic         rst,        // forget what was received
    input  wire logic [31:0]  ready_pct,  // 0..100
    input  wire logic [31:0]  seed,
    input  wire logic         drain,
    input  wire logic [W-1:0] s_axis_tdata,
    input  wire logic         s_axis_tvalid,
    output logic              s_axis_tready,
    output logic [31:0]       received
);
    logic [W-1:0] mem [0:MAXN-1];
    logic [31:0] lfsr;

    function automatic logic [31:0] step(input logic [31:0] x);
        logic [31:0] y;
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        return y ^ (y << 5);
    endfunction

    assign s_axis_tready = drain || (lfsr % 100) < ready_pct;

    always_ff @(posedge clk) begin
        lfsr <= step(lfsr);
        if (s_axis_tvalid && s_axis_tready) begin
            if (received < MAXN) mem[received] <= s_axis_tdata;
            received <= received + 1;
        end
        if (rst) begin
            lfsr <= seed ^ 32'h9e3779b9;
            received <= 0;
        end
    end
endmodule

`resetall
