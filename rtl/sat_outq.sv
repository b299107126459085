`resetall
`timescale 1ns / 1ps
`default_nettype none

// Output queue with credits: lets a block's pipeline run free (no stall enable on its registers)
// and still never lose a beat under backpressure.
//
// The block takes an input beat only while `credit` is high, and raises `take` in a cycle where
// it takes a beat that will produce one output beat (PIPE cycles later, at most, on s_valid).
// Every such beat takes one of DEPTH credits; a credit comes back when its output beat leaves on
// m_axis. So the beats in flight plus the beats queued never exceed DEPTH, the queue (a sat_fifo
// of DEPTH beats) always has room for what the pipeline delivers, and the pipeline needs no
// enable: backpressure stops the block's input, not its registers. `credit` is a register
// (m_axis_tready reaches it through one small counter update, never s_axis_tready of the block
// in the same cycle); the only logic m_axis_tready drives is the FIFO's output register enable.
//
// Parameters: DATA_W (beat width), DEPTH (credits and queue capacity; Requires DEPTH >= 3, the
// FIFO's memory form), RAM_STYLE (the FIFO's memory, sat_fifo). Full throughput needs
// DEPTH >= ceil(LAT / T) + 1 where LAT is the block's cycles from taking the input beat to
// offering its output (the pipeline's PIPE + this queue's 2) and T the cycles between output
// beats in free flow (sat_vvu: T = K2/SIMD): a credit taken in cycle t is free again in cycle
// t + LAT + 1.
// Latency: a beat on s_valid in cycle t is offered on m_axis in cycle t+2 (sat_fifo).
module sat_outq #(
    parameter int DATA_W = 8,             // beat width in bits
    parameter int DEPTH = 8,              // credits = queue capacity in beats; Requires >= 3
    parameter     RAM_STYLE = "distributed"
) (
    input  wire logic              clk,
    input  wire logic              rst,
    output logic                   credit,      // a credit is free: the block may take a beat
    input  wire logic              take,        // a beat that will produce an output was taken
    input  wire logic [DATA_W-1:0] s_data,      // the pipeline's output beat
    input  wire logic              s_valid,
    output logic [DATA_W-1:0]      m_axis_tdata,
    output logic                   m_axis_tvalid,
    input  wire logic              m_axis_tready
);
    localparam int CW = $clog2(DEPTH + 1);

    if (DEPTH < 3) begin : g_bad_depth
        $error("sat_outq: DEPTH must be >= 3");
    end

    logic [CW-1:0] free_q;                // credits not taken
    logic          pop;
    assign pop = m_axis_tvalid && m_axis_tready;

    always_ff @(posedge clk) begin
        // credit stays high unless the last free credit is taken now and none returns
        free_q <= free_q + CW'(pop) - CW'(take);
        credit <= pop || free_q > CW'(1) || (free_q == CW'(1) && !take);
        if (rst) begin
            free_q <= CW'(DEPTH);
            credit <= 1'b1;
        end
    end

    /* verilator lint_off PINCONNECTEMPTY */
    sat_fifo #(.DATA_W(DATA_W), .DEPTH(DEPTH), .RAM_STYLE(RAM_STYLE)) u_fifo (
        .clk, .rst,
        .s_axis_tdata(s_data), .s_axis_tvalid(s_valid), .s_axis_tready(),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready, .count());
    /* verilator lint_on PINCONNECTEMPTY */
endmodule

`resetall
