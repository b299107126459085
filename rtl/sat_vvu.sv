`resetall
`timescale 1ns / 1ps
`default_nettype none

// Vector unit of a depthwise convolution: PE channels x SIMD taps per cycle, exact accumulators.
//
// Input, per output pixel: for each channel group g (CH/PE), for each tap group s (K2/SIMD), one
// beat of SIMD x PE codes; element i*PE + p is tap s*SIMD + i of channel g*PE + p (a split of the
// sliding-window generator's window beat). Output, per pixel: CH/PE beats, beat g holding the
// signed accumulators acc[c] = sum_t w[c][t] * a[c][t] of channels g*PE .. g*PE+PE-1, lane p at
// [p*ACC_BITS +: ACC_BITS]. Pixels (and images) follow each other with no gap and no framing.
//
// Weights: one ROM ($readmemh WEIGHT_FILE), depth (CH/PE)*(K2/SIMD), word g*(K2/SIMD) + s, lane
// (i, p) at [(i*PE + p)*WB +: WB] (sat_hw.codegen.layout.vvu_rom). ENCODING "signed" stores the odd
// weight w in WB = WBITS+1 bits and multiplies signed x unsigned. ENCODING "k" stores SAT's code
// k = (w + 2^WBITS-1)/2 in WB = WBITS bits and computes sum w*a = 2*sum k*a - (2^WBITS-1)*sum a:
// every product is an unsigned WBITS x ABITS one, and each lane adds the sum of its own codes
// (in a depthwise unit every lane has its own activations, so sum a is per lane, not shared).
// Yosys synth_xilinx -nodsp puts "k" below "signed" in LUTs (benchmarks/vvu_yosys.py, e.g. PE=8,
// SIMD=9, W4A4: 3443 vs 4242 LUTs; W3A4: 2618 vs 3119), so "k" is the default.
//
// Pipeline: the ROM word of the next expected beat is read ahead (registered ROM output), so an
// input beat goes straight into the multipliers; stage 1 registers each lane's SIMD-term dot
// product, stage 2 accumulates over the K2/SIMD tap groups, and a sat_skid holds the result.
// The pipeline advances whenever the skid's (registered) s_axis_tready is high, and that is
// s_axis_tready: no combinational path from m_axis_tready to s_axis_tready.
// Throughput: one input beat per cycle; cycles per pixel (CH/PE)*(K2/SIMD) input beats, CH/PE
// output beats. Latency: when the last input beat of a channel group is taken in cycle n, its
// output beat is valid in cycle n+3 (free flowing).
module sat_vvu #(
    parameter int    CH = 8,                // channels
    parameter int    K2 = 9,                // taps per channel (k*k)
    parameter int    PE = 2,                // channels per beat; Requires CH % PE == 0
    parameter int    SIMD = 3,              // taps per beat; Requires K2 % SIMD == 0
    parameter int    WBITS = 4,             // weight bits (SAT levels w = 2k - (2^WBITS-1)), 1..8
    parameter int    ABITS = 4,             // activation code bits, 1..8
    parameter int    ACC_BITS = 12,         // accumulator bits; Requires >= the exact bound's
    parameter        WEIGHT_FILE = "w.hex", // $readmemh image of the weight ROM
    parameter logic [63:0] ENCODING = "k"   // "k" (unsigned SAT codes) or "signed"
) (
    input  wire logic                          clk,
    input  wire logic                          rst,
    input  wire logic [SIMD*PE*ABITS-1:0]      s_axis_tdata,
    input  wire logic                          s_axis_tvalid,
    output logic                               s_axis_tready,
    output logic [PE*ACC_BITS-1:0]             m_axis_tdata,
    output logic                               m_axis_tvalid,
    input  wire logic                          m_axis_tready
);
    localparam bit  ENC_K = ENCODING == 64'("k");
    localparam int  WB = ENC_K ? WBITS : WBITS + 1;         // stored weight width
    localparam int  NS = K2 / SIMD;                         // tap groups per channel group
    localparam int  DEPTH = (CH / PE) * NS;                 // ROM words, input beats per pixel
    localparam int  AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int  SW = NS > 1 ? $clog2(NS) : 1;
    localparam int  DOT_W = WBITS + ABITS + $clog2(SIMD) + 2;  // one beat's dot product, signed
    localparam longint BOUND = longint'(K2) * ((64'd1 << WBITS) - 1) * ((64'd1 << ABITS) - 1);
    localparam int  NEED = $clog2(BOUND + 2) + 1;           // sat_hw.graph.ir.acc_bits_for

    initial begin
        if (CH < 1 || PE < 1 || CH % PE != 0) $fatal(0, "PE must divide CH (instance %m)");
        if (K2 < 1 || SIMD < 1 || K2 % SIMD != 0) $fatal(0, "SIMD must divide K2 (instance %m)");
        if (WBITS < 1 || WBITS > 8) $fatal(0, "WBITS must be 1..8 (instance %m)");
        if (ABITS < 1 || ABITS > 8) $fatal(0, "ABITS must be 1..8 (instance %m)");
        if (!ENC_K && ENCODING != 64'("signed"))
            $fatal(0, "ENCODING must be \"k\" or \"signed\" (instance %m)");
        if (ACC_BITS < NEED || ACC_BITS > 62)
            $fatal(0, "ACC_BITS must be %0d..62 for this K2/WBITS/ABITS (instance %m)", NEED);
    end

    // ---- weight ROM, read one beat ahead: w_q is always rom[addr] ----
    logic [SIMD*PE*WB-1:0] rom [0:DEPTH-1];
    initial $readmemh(WEIGHT_FILE, rom);

    logic [AW-1:0] addr, addr_d;          // word of the next input beat
    logic [SW-1:0] tap;                   // its tap group s
    logic [SIMD*PE*WB-1:0] w_q;
    logic ce, take;

    assign s_axis_tready = ce;
    assign take = s_axis_tvalid && ce;
    always_comb begin
        addr_d = addr;
        if (rst) addr_d = '0;
        else if (take) addr_d = (addr == AW'(DEPTH - 1)) ? '0 : addr + 1'b1;
    end

    always_ff @(posedge clk) begin
        w_q <= rom[addr_d];
        addr <= addr_d;
        if (take) tap <= (tap == SW'(NS - 1)) ? '0 : tap + 1'b1;
        if (rst) tap <= '0;
    end

    // ---- stage 1: each lane's dot product over the beat's SIMD taps ----
    logic signed [DOT_W-1:0] dot [PE];
    logic signed [DOT_W-1:0] dot_q [PE];
    logic v1_q, first1_q, last1_q;

    for (genvar p = 0; p < PE; p++) begin : g_lane
        always_comb begin
            logic signed [DOT_W-1:0] sw, sa;  // sum of products, sum of codes
            logic signed [ABITS:0] a;           // a code, zero-extended
            logic signed [WB:0] w;              // a weight: k zero- or w sign-extended
            logic signed [WB+ABITS+1:0] prod;
            sw = '0;
            sa = '0;
            for (int i = 0; i < SIMD; i++) begin
                a = {1'b0, s_axis_tdata[(i*PE + p)*ABITS +: ABITS]};
                w = ENC_K ? {1'b0, w_q[(i*PE + p)*WB +: WB]}
                          : {w_q[(i*PE + p)*WB + WB-1], w_q[(i*PE + p)*WB +: WB]};
                prod = w * a;
                sw = sw + DOT_W'(prod);
                sa = sa + DOT_W'(a);
            end
            // k: sum w*a = 2*sum k*a - (2^WBITS-1)*sum a (exact modulo 2^DOT_W, and it fits)
            dot[p] = ENC_K ? (sw <<< 1) - (sa <<< WBITS) + sa : sw;
        end
    end

    // ---- stage 2: accumulate the K2/SIMD tap groups of a channel group ----
    logic signed [ACC_BITS-1:0] acc_q [PE];
    logic signed [ACC_BITS-1:0] acc_d [PE];
    logic v2_q;

    always_comb begin
        for (int p = 0; p < PE; p++) begin
            logic signed [ACC_BITS+DOT_W-1:0] d;  // sign-extended, then taken modulo 2^ACC_BITS
            d = {{ACC_BITS{dot_q[p][DOT_W-1]}}, dot_q[p]};
            acc_d[p] = (first1_q ? '0 : acc_q[p]) + d[ACC_BITS-1:0];
        end
    end

    always_ff @(posedge clk) begin
        if (ce) begin
            // stage 1: take the beat (or a bubble)
            v1_q <= take;
            first1_q <= tap == '0;
            last1_q <= tap == SW'(NS - 1);
            for (int p = 0; p < PE; p++) dot_q[p] <= dot[p];
            // stage 2: accumulate; a channel group's sum is complete with its last tap group
            v2_q <= v1_q && last1_q;
            if (v1_q) acc_q <= acc_d;
        end
        if (rst) begin
            v1_q <= 1'b0;
            v2_q <= 1'b0;
        end
    end

    // ---- output: a skid buffer whose registered ready runs the pipeline ----
    logic [PE*ACC_BITS-1:0] acc_flat;
    always_comb
        for (int p = 0; p < PE; p++) acc_flat[p*ACC_BITS +: ACC_BITS] = acc_q[p];

    sat_skid #(.DATA_W(PE*ACC_BITS)) u_out (
        .clk, .rst,
        .s_axis_tdata(acc_flat), .s_axis_tvalid(v2_q), .s_axis_tready(ce),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
