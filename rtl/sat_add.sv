`resetall
`timescale 1ns / 1ps
`default_nettype none

// The add of a residual graph (docs/residual.md, "The add"): per element
// acc[c] = mul_a[c] * a[c] + mul_b[c] * b[c], exact integers, the thresholds that follow turn it
// into a code.
//
// Input: two streams of PE unsigned codes per beat, operand a (the main branch, ABITS bits,
// s_axis_a_*, lane p at [p*ABITS +: ABITS]) and operand b (the skip, BBITS bits, s_axis_b_*, lane
// p at [p*BBITS +: BBITS]), channel groups g = 0..CH/PE-1 in turn (lane p of group g is channel
// g*PE + p); beat i of a and beat i of b are the same channels of the same pixel. Output: PE
// signed ACC_BITS accumulators per beat, same order (the sum mod 2^ACC_BITS: exact where it fits,
// which the graph's bound analysis guarantees).
//
// Multiplier ROM (`$readmemh`, one hex word per line, sat_hw.codegen.layout.add_mul_rom): depth
// CH/PE, word g holds mul_a of channel g*PE + p at [p*MUL_BITS +: MUL_BITS] and mul_b at
// [(PE + p)*MUL_BITS +: MUL_BITS], two's complement.
//
// Flow control: each operand enters through a sat_skid, so s_axis_a_tready and s_axis_b_tready
// are registers and no path runs from one input to the other or from m_axis_tready to either.
// A pair of beats is taken (`take`) only when both skids offer one and a credit of the output
// queue (sat_outq) is free; every pair takes a credit, so the pipeline runs free (no register of
// the data path has a stall enable) and backpressure stops only the inputs.
//
// Pipeline, from `take`: the codes and the ROM word registered (the ROM read at the group
// register of the next pair to take, as sat_thresholds' first stage; a ROM of more than 64 words
// has a second output register and the codes a second register beside it: RD = 2, else 1); then
// the products as partial products, no `*` (bit j of a code selects its multiplier shifted
// left by j: ABITS + BBITS signed terms per lane) summed by a sat_mvu_tree, registered after its
// first adder level (the select merges into that level's LUTs), then every two levels and at
// the root (TS = floor(L/2) + 1 stages, L = ceil(log2(ABITS + BBITS))); then sat_outq.
// Longest register-to-register path: two adder levels (two LUTs and their carry chains of about
// MUL_BITS + max(ABITS, BBITS) + 2 bits), or the ROM read from the group register.
//
// Latency: a pair of beats whose later beat is taken at the ports in cycle t is offered in cycle
// t + RD + TS + 3 (the skid 1, sat_outq 2): 5 at 1+1 bits, 6 at 2+2 to 4+4, 7 at 8+8 (RD 1).
// Throughput: one beat per cycle on each input and on the output; CH/PE beats per pixel.
module sat_add #(
    parameter int CH = 4,              // channels; Requires PE divides CH
    parameter int PE = 1,              // channels per beat (lanes)
    parameter int ABITS = 4,           // operand a's code bits; Requires 1..8
    parameter int BBITS = 4,           // operand b's code bits; Requires 1..8
    parameter int MUL_BITS = 14,       // signed multiplier width; Requires 2..40
    parameter int ACC_BITS = 18,       // signed accumulator width; Requires 2..62
    parameter MUL_FILE = "mul.hex"     // multiplier ROM (relative to the tool's working folder)
) (
    input  wire logic                    clk,
    input  wire logic                    rst,
    input  wire logic [PE*ABITS-1:0]     s_axis_a_tdata,
    input  wire logic                    s_axis_a_tvalid,
    output logic                         s_axis_a_tready,
    input  wire logic [PE*BBITS-1:0]     s_axis_b_tdata,
    input  wire logic                    s_axis_b_tvalid,
    output logic                         s_axis_b_tready,
    output logic [PE*ACC_BITS-1:0]       m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  wire logic                    m_axis_tready
);
    localparam int G = CH / PE;                         // channel groups (beats per pixel)
    localparam int GW = G > 1 ? $clog2(G) : 1;          // group index width
    localparam int RD = G > 64 ? 2 : 1;                 // ROM read cycles
    localparam int N = ABITS + BBITS;                   // partial products per lane
    localparam int OPB = ABITS > BBITS ? ABITS : BBITS;
    localparam int TW = MUL_BITS + OPB;                 // partial product bits (signed)
    localparam logic [63:0] VMAX = 64'd1 << (MUL_BITS + OPB - 2);   // |partial product| bound
    localparam int L = $clog2(N);                       // adder levels
    localparam int TS = L / 2 + 1;                      // tree stages (sat_mvu_tree)
    localparam int PIPE = RD + TS;                      // take to the queue's input
    localparam int QD = PIPE + 3;                       // credits: LAT = PIPE + 2, plus one
    localparam int MW = 2 * PE * MUL_BITS;              // ROM word
    localparam int CW = PE * (ABITS + BBITS);           // both operands' codes

    // elaboration checks: $error with a constant message (docs/hardware.md, "Blocks")
    if (PE < 1 || CH < 1 || CH % PE != 0) begin : g_bad_pe
        $error("sat_add: PE must divide CH");
    end
    if (ABITS < 1 || ABITS > 8 || BBITS < 1 || BBITS > 8) begin : g_bad_bits
        $error("sat_add: ABITS and BBITS must be 1..8");
    end
    if (MUL_BITS < 2 || MUL_BITS > 40) begin : g_bad_mul_bits
        $error("sat_add: MUL_BITS must be 2..40");
    end
    if (ACC_BITS < 2 || ACC_BITS > 62) begin : g_bad_acc_bits
        $error("sat_add: ACC_BITS must be 2..62");
    end

    // ---- inputs: a skid buffer per operand; a pair is taken with a credit ----
    logic [PE*ABITS-1:0] a_data;
    logic [PE*BBITS-1:0] b_data;
    logic                a_valid, b_valid;
    logic                credit;      // a place in the output queue is free (registered)
    logic                take;        // a pair of operand beats is taken

    assign take = a_valid && b_valid && credit;

    sat_skid #(.DATA_W(PE * ABITS)) u_in_a (
        .clk, .rst,
        .s_axis_tdata(s_axis_a_tdata), .s_axis_tvalid(s_axis_a_tvalid),
        .s_axis_tready(s_axis_a_tready),
        .m_axis_tdata(a_data), .m_axis_tvalid(a_valid), .m_axis_tready(take));
    sat_skid #(.DATA_W(PE * BBITS)) u_in_b (
        .clk, .rst,
        .s_axis_tdata(s_axis_b_tdata), .s_axis_tvalid(s_axis_b_tvalid),
        .s_axis_tready(s_axis_b_tready),
        .m_axis_tdata(b_data), .m_axis_tvalid(b_valid), .m_axis_tready(take));

    // ---- the group of the next pair, the valid flags beside the pipeline ----
    logic [GW-1:0]   group_reg;
    logic [PIPE-1:0] v_sr;            // a pair is in pipeline cycle k (taken k+1 cycles ago)

    always_ff @(posedge clk) begin
        if (take) group_reg <= group_reg == GW'(G - 1) ? '0 : group_reg + 1'b1;
        v_sr <= PIPE'({v_sr, take});
        if (rst) begin
            group_reg <= '0;
            v_sr <= '0;
        end
    end

    // ---- the ROM word and the codes, registered (RD cycles; no enable) ----
    logic [MW-1:0] rom [G];
    initial $readmemh(MUL_FILE, rom);

    logic [MW-1:0]    q;              // the ROM word of the pair taken a cycle ago
    logic [RD*CW-1:0] codes_d;        // {b, a} of the pair taken k+1 cycles ago at [k*CW +: CW]
    logic [MW-1:0]    mul;            // the pair's multipliers, after RD cycles
    logic [CW-1:0]    codes;          // ... and its codes

    always_ff @(posedge clk) begin
        q <= rom[group_reg];
        codes_d <= (RD*CW)'({codes_d, b_data, a_data});
    end
    if (RD == 2) begin : g_oreg
        // block RAM's output register, or the end of a LUT ROM's mux tree
        logic [MW-1:0] q2;
        always_ff @(posedge clk) q2 <= q;
        assign mul = q2;
    end else begin : g_q
        assign mul = q;
    end
    assign codes = codes_d[(RD-1)*CW +: CW];

    // ---- per lane: ABITS + BBITS partial products, summed by a pipelined tree ----
    logic [PE*ACC_BITS-1:0] acc;

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [MUL_BITS-1:0] ma, mb;
        logic [ABITS-1:0]           ca;
        logic [BBITS-1:0]           cb;
        logic [N*TW-1:0]            pp;       // term j at [j*TW +: TW]: a's bits, then b's

        assign ma = mul[p*MUL_BITS +: MUL_BITS];
        assign mb = mul[(PE + p)*MUL_BITS +: MUL_BITS];
        assign ca = codes[p*ABITS +: ABITS];
        assign cb = codes[PE*ABITS + p*BBITS +: BBITS];

        always_comb begin
            for (int j = 0; j < ABITS; j++)
                pp[j*TW +: TW] = (TW'(ma) & {TW{ca[j]}}) << j;
            for (int j = 0; j < BBITS; j++)
                pp[(ABITS + j)*TW +: TW] = (TW'(mb) & {TW{cb[j]}}) << j;
        end

        sat_mvu_tree #(.N(N), .VMAX(VMAX), .SIGNED(1'b1), .R(ACC_BITS)) u_tree (
            .clk, .en(1'b1), .x(pp), .y(acc[p*ACC_BITS +: ACC_BITS]));
    end

    // ---- output: a queue with credits; every pair taken takes one ----
    sat_outq #(.DATA_W(PE * ACC_BITS), .DEPTH(QD)) u_out (
        .clk, .rst, .credit, .take,
        .s_data(acc), .s_valid(v_sr[PIPE-1]),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
