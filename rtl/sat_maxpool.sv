`resetall
`timescale 1ns / 1ps
`default_nettype none

// Max pool on codes: the maximum over the K2 taps of a window, PE channels per beat.
//
// Input: the window beats of sat_swg (SIMD = PE), K2*PE codes, element t*PE + c = tap t of
// channel c of the beat's channel group (padding taps are code 0, which never wins: every
// window holds a real pixel). Output: PE codes, lane c the maximum over t, in the same order
// (one output beat per input beat). A balanced comparator tree (K2-1 comparators per lane,
// ceil(log2 K2) deep) feeds a sat_skid directly; its registered s_axis_tready is s_axis_tready,
// so there is no combinational path from m_axis_tready to s_axis_tready. Throughput: one beat
// per cycle; cycles per image Ho*Wo*CH/PE. Latency: a beat taken in cycle n is on the output in
// cycle n+1 (free flowing).
module sat_maxpool #(
    parameter int CH = 8,      // channels; Requires CH % PE == 0
    parameter int PE = 2,      // channels per beat
    parameter int K2 = 4,      // taps per window (k*k)
    parameter int ABITS = 4    // code bits, 1..8
) (
    input  wire logic                     clk,
    input  wire logic                     rst,
    input  wire logic [K2*PE*ABITS-1:0]   s_axis_tdata,
    input  wire logic                     s_axis_tvalid,
    output logic                          s_axis_tready,
    output logic [PE*ABITS-1:0]           m_axis_tdata,
    output logic                          m_axis_tvalid,
    input  wire logic                     m_axis_tready
);
    // elaboration checks: $error with a constant message (sat_mvu: what each tool prints)
    if (CH < 1 || PE < 1 || CH % PE != 0) begin : g_err_pe
        $error("sat_maxpool: PE must divide CH");
    end
    if (K2 < 1) begin : g_err_k2
        $error("sat_maxpool: K2 must be >= 1");
    end
    if (ABITS < 1 || ABITS > 8) begin : g_err_abits
        $error("sat_maxpool: ABITS must be 1..8");
    end

    // An empty initial block where the parameter checks' initial block was (they are generate
    // blocks now): Yosys numbers the processes it meets, and ABC's LUT mapping follows that
    // numbering; without it Yosys maps some configurations a LUT differently (issue 22 keeps the
    // netlists that committed measurements rest on).
    initial begin
    end

    localparam int LEVELS = K2 > 1 ? $clog2(K2) : 1;

    logic [PE*ABITS-1:0] mx;

    // a balanced tree of K2-1 comparators per lane, ceil(log2 K2) deep
    always_comb begin
        for (int c = 0; c < PE; c++) begin
            logic [ABITS-1:0] v [K2];
            for (int t = 0; t < K2; t++) v[t] = s_axis_tdata[(t*PE + c)*ABITS +: ABITS];
            for (int l = 0; l < LEVELS; l++)
                for (int t = 0; t + (1 << l) < K2; t += 2 << l)
                    if (v[t + (1 << l)] > v[t]) v[t] = v[t + (1 << l)];
            mx[c*ABITS +: ABITS] = v[0];
        end
    end

    sat_skid #(.DATA_W(PE*ABITS)) u_out (
        .clk, .rst,
        .s_axis_tdata(mx), .s_axis_tvalid, .s_axis_tready,
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
