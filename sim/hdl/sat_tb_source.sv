`resetall
`timescale 1ns / 1ps
`default_nettype none

// Testbench stream source (simulation only): sends beats 0..n-1 of its memory, loaded by the
// testbench wrapper with $readmemh. tvalid follows a seeded pseudo-random pattern that is high
// with probability valid_pct/100 and, once high, holds until the beat is taken (AXI-Stream).
module sat_tb_source #(
    parameter int W = 8,        // beat width in bits
    parameter int MAXN = 16     // memory depth in beats
) (
    input  wire logic         clk,
    input  wire logic         rst,        // restart from beat 0
    input  wire logic [31:0]  n,          // beats to send
    input  wire logic [31:0]  valid_pct,  // 0..100
    input  wire logic [31:0]  seed,
    output logic [W-1:0]      m_axis_tdata,
    output logic              m_axis_tvalid,
    input  wire logic         m_axis_tready,
    output logic [31:0]       sent
);
    logic [W-1:0] mem [0:MAXN-1];
    logic [31:0] lfsr;
    logic want;

    // xorshift32: a fresh draw every cycle
    function automatic logic [31:0] step(input logic [31:0] x);
        logic [31:0] y;
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        return y ^ (y << 5);
    endfunction

    assign want = (lfsr % 100) < valid_pct;
    assign m_axis_tdata = mem[sent < MAXN ? sent : 0];

    always_ff @(posedge clk) begin
        lfsr <= step(lfsr);
        if (m_axis_tvalid && m_axis_tready) begin
            sent <= sent + 1;
            m_axis_tvalid <= (sent + 1 < n) && step(lfsr) % 100 < valid_pct;
        end else if (!m_axis_tvalid) begin
            m_axis_tvalid <= (sent < n) && want;
        end
        if (rst) begin
            lfsr <= seed | 32'h1;
            sent <= 0;
            m_axis_tvalid <= 1'b0;
        end
    end
endmodule

`resetall
