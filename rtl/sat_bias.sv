`resetall
`timescale 1ns / 1ps
`default_nettype none

// The last layer's output: out = acc * 2^FRAC + bias per lane, signed OUT_BITS (the graph's
// acc_bits of the Linear layer), the bias in FRAC-bit fixed point from a ROM. Exact whenever the
// result fits OUT_BITS, which the graph's bound analysis guarantees.
//
// Input: PE signed IN_BITS accumulators per beat, channel groups g = 0..CH/PE-1 in turn (lane p
// of group g is output g*PE + p). Output: PE results per beat, same order. Bias ROM
// (`$readmemh`, sat_hw.codegen.layout.bias_rom): depth CH/PE, word g, lane p at
// [p*BIAS_BITS +: BIAS_BITS], two's complement. The ROM is read as the beat is taken; the sum
// goes to an output skid buffer (sat_skid), whose registered ready is s_axis_tready.
// Latency: a beat taken in cycle t is offered in cycle t+2. Throughput: one beat per cycle.
module sat_bias #(
    parameter int CH = 10,            // outputs (classes); Requires PE divides CH
    parameter int PE = 1,             // outputs per beat (lanes)
    parameter int IN_BITS = 16,       // signed accumulator width
    parameter int OUT_BITS = 24,      // signed result width
    parameter int FRAC = 0,           // bias fraction bits (the accumulator's left shift)
    parameter int BIAS_BITS = 8,      // signed bias width
    parameter BIAS_FILE = "bias.hex"  // ROM file (relative to the tool's working folder)
) (
    input  wire logic                    clk,
    input  wire logic                    rst,
    input  wire logic [PE*IN_BITS-1:0]   s_axis_tdata,
    input  wire logic                    s_axis_tvalid,
    output logic                         s_axis_tready,
    output logic [PE*OUT_BITS-1:0]       m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  wire logic                    m_axis_tready
);
    localparam int G = CH / PE;                        // beats per vector
    localparam int GW = G > 1 ? $clog2(G) : 1;
    // wide enough for acc << FRAC and the bias, plus the carry
    localparam int SW = (IN_BITS + FRAC > BIAS_BITS ? IN_BITS + FRAC : BIAS_BITS) + 1;

    // elaboration checks
    if (PE < 1 || CH < 1 || CH % PE != 0) begin : g_bad_pe
        $error("sat_bias: PE must divide CH");
    end
    if (IN_BITS < 1 || OUT_BITS < 1 || BIAS_BITS < 1 || FRAC < 0) begin : g_bad_widths
        $error("sat_bias: IN_BITS, OUT_BITS, BIAS_BITS must be >= 1, FRAC >= 0");
    end

    logic [PE*BIAS_BITS-1:0] rom [G];
    initial $readmemh(BIAS_FILE, rom);

    logic                    adv;          // the sum moves into the skid buffer
    logic [GW-1:0]           group_reg;    // group of the next input beat
    logic [PE*IN_BITS-1:0]   acc_reg;
    logic [PE*BIAS_BITS-1:0] bias_reg;
    logic                    valid_reg;
    logic [PE*OUT_BITS-1:0]  sum;

    assign s_axis_tready = adv;

    always_ff @(posedge clk) begin
        if (adv) begin
            if (s_axis_tvalid) group_reg <= group_reg == GW'(G - 1) ? '0 : group_reg + 1'b1;
            acc_reg <= s_axis_tdata;
            bias_reg <= rom[group_reg];
            valid_reg <= s_axis_tvalid;
        end
        if (rst) begin
            group_reg <= '0;
            valid_reg <= 1'b0;
        end
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [SW-1:0] a, b;
        assign a = SW'($signed(acc_reg[p*IN_BITS +: IN_BITS])) <<< FRAC;
        assign b = SW'($signed(bias_reg[p*BIAS_BITS +: BIAS_BITS]));
        assign sum[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(a + b);
    end

    sat_skid #(.DATA_W(PE * OUT_BITS)) u_out (
        .clk, .rst,
        .s_axis_tdata(sum), .s_axis_tvalid(valid_reg), .s_axis_tready(adv),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
