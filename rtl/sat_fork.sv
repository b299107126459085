`resetall
`timescale 1ns / 1ps
`default_nettype none

// Stream fork of a residual graph: every input beat leaves on both outputs, in order, on the
// main stream (m_axis_main_*: the main branch, towards the add's operand a) and on the skip
// stream (m_axis_skip_*: the skip FIFO, towards the add's operand b); each output has its own
// tready, and neither output waits on the other's.
//
// Each output is a two-entry register slice (its output register and a parked beat, as
// sat_skid). An input beat is taken only while both slices have room for it, and it goes into
// both at once; an output then drains its slice on its own tready, so a stalled output stops
// the input (once its slice is full) but never the other output's beats already taken. The
// slices share one parked-beat register: a beat is parked only as it is taken, and no beat is
// taken while either slice holds a parked one, so whatever both hold parked is the last beat
// taken (3*DATA_W flip-flops, not 4).
// s_axis_tready is a register: `no output slice will hold a parked beat`, computed from the
// outputs' treadys one cycle ahead (no combinational path from m_axis_main_tready or
// m_axis_skip_tready to s_axis_tready, nor from one output's tready to the other output).
// Longest path: one output's tready through two LUT levels into s_axis_tready's register; each
// output register's load enable is one LUT of its own tready.
//
// Latency: a beat taken in cycle t is offered on both outputs in cycle t+1. Throughput: one beat
// per cycle while both outputs take one per cycle. A beat stays on an output until taken there
// (a stall of any length loses nothing).
module sat_fork #(
    parameter int DATA_W = 8    // beat width in bits; Requires >= 1
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [DATA_W-1:0] s_axis_tdata,
    input  wire logic              s_axis_tvalid,
    output logic                   s_axis_tready,
    output logic [DATA_W-1:0]      m_axis_main_tdata,
    output logic                   m_axis_main_tvalid,
    input  wire logic              m_axis_main_tready,
    output logic [DATA_W-1:0]      m_axis_skip_tdata,
    output logic                   m_axis_skip_tvalid,
    input  wire logic              m_axis_skip_tready
);
    // elaboration check: $error with a constant message (docs/hardware.md, "Blocks")
    if (DATA_W < 1) begin : g_bad_width
        $error("sat_fork: DATA_W must be >= 1");
    end

    logic                push;                  // an input beat is taken (into both slices)
    // per output k (0 main, 1 skip), flat: bit k, data at [k*DATA_W +: DATA_W]
    logic [1:0]          ov, rdy, op;           // valid, tready, a beat leaves
    logic [1:0]          park_next;             // the slice will hold a parked beat next cycle
    logic [2*DATA_W-1:0] od;                    // the output registers' data
    logic [DATA_W-1:0]   park_reg;              // the last beat taken (the parked beat)

    assign push = s_axis_tvalid && s_axis_tready;
    assign rdy = {m_axis_skip_tready, m_axis_main_tready};
    assign op = ov & rdy;
    assign m_axis_main_tdata = od[0 +: DATA_W];
    assign m_axis_main_tvalid = ov[0];
    assign m_axis_skip_tdata = od[DATA_W +: DATA_W];
    assign m_axis_skip_tvalid = ov[1];

    // A push happens only with both slices holding no parked beat (s_axis_tready), so a slice
    // parks the pushed beat where its output register is full and stays so; it keeps a parked
    // beat until its output moves.
    for (genvar k = 0; k < 2; k++) begin : g_out
        logic [DATA_W-1:0] out_reg;             // the output register
        logic              out_valid_reg, park_valid_reg;  // ... valid, park_reg is parked here

        assign od[k*DATA_W +: DATA_W] = out_reg;
        assign ov[k] = out_valid_reg;
        assign park_next[k] = !op[k] && (park_valid_reg || (push && out_valid_reg));

        always_ff @(posedge clk) begin
            if (op[k] || !out_valid_reg) begin
                // the output register is free (or frees now): the parked beat first, else the
                // input beat, else it empties
                if (park_valid_reg) begin
                    out_reg <= park_reg;
                    out_valid_reg <= 1'b1;
                end else begin
                    out_reg <= s_axis_tdata;
                    out_valid_reg <= push;
                end
            end
            // the output is stalled as a beat is taken: it stays parked in park_reg
            park_valid_reg <= park_next[k];
            if (rst) begin
                out_valid_reg <= 1'b0;
                park_valid_reg <= 1'b0;
            end
        end
    end

    // take the next input beat only where neither slice will hold a parked beat; every beat
    // taken is kept as the parked beat (no slice holds one while a beat is taken)
    always_ff @(posedge clk) begin
        if (push) park_reg <= s_axis_tdata;
        s_axis_tready <= !park_next[0] && !park_next[1];
        if (rst) s_axis_tready <= 1'b1;
    end
endmodule

`resetall
