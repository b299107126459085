`resetall
`timescale 1ns / 1ps
`default_nettype none

// Requantization by thresholds: each lane turns a signed accumulator into an unsigned
// OUT_BITS-bit code, code = #{k : acc >= T_k} over its channel's NT = 2^OUT_BITS - 1 ascending
// thresholds, or #{k : acc <= T_k} where the channel's direction is -1.
//
// A pipelined binary search: stage j (j = 0..OUT_BITS-1) compares the accumulator with ONE
// threshold, read from a memory of that stage and lane at address {group, bits found so far},
// and decides code bit OUT_BITS-1-j. Each lane has OUT_BITS comparators instead of NT (8
// instead of 255 at 8 bits), and each threshold memory is narrow and deep (a stage-j memory
// holds CH/PE * 2^j thresholds of ACC_BITS), so large sets map to BRAM and small ones to LUTs.
// With c = #{k : acc > T_k} for direction -1 (the same search with `>`), the code is NT - c,
// the bitwise complement of the search result. Where every lane has one channel (CH == PE) and
// OUT_BITS <= 4, the thresholds are constants and the lane compares with all NT at once (fewer
// LUTs and flip-flops there, measured with Yosys: benchmarks/thresholds_yosys.py).
//
// Pipeline, free running (no register has a stall enable; m_axis_tready reaches no register of
// the data path):
//   search    stage j is two cycles: a read cycle, the memory read at an address of registers
//             only ({group, found bits, the previous stage's registered bit}; stage 0 at the
//             group register of the next beat to take, so the read happens in the cycle the
//             beat is taken, beside the input register) into the registered output q, and
//             where the stage's memory has more than 64 words ((CH/PE)*2^j > 64: block RAM, or
//             a LUT ROM's mux tree) a second read cycle into q2 (the block RAM's output goes
//             to a register, not into the compare); then a compare cycle, {acc, 0} >= {T, dir}
//             (one ACC_BITS+1 carry chain) into a register. The code (the found bits,
//             complemented for direction -1: one LUT) goes to the output queue.
//             PIPE = 2*OUT_BITS + DEEP, DEEP the number of stages with more than 64 words.
//   parallel  the input register, then the NT compares registered: with ascending thresholds
//             they form a thermometer code t (t_k = 1 for k <= code), and code bit b is the XOR
//             of t_k over the k that are multiples of 2^b (two LUT levels at 15 compares),
//             complemented for direction -1, into the queue. PIPE = 2.
//   output    sat_outq: a sat_fifo of QD = LAT + 1 beats and QD credits; a beat is taken only
//             while a credit is free (s_axis_tready is sat_outq's registered `credit`) and every
//             beat takes one, so the queue always has room for what the pipeline holds and
//             backpressure stops only the input.
// Longest register-to-register path: a compare's carry chain (with its LUT), a memory read from
// its address registers (a LUT ROM where the memory is not block RAM: 1 LUT level up to 64
// words), or the thermometer decode (2 LUT levels). Known: a deeper memory in LUTs is a mux tree
// that Yosys's ABC maps 4-5 LUTs deep, and Yosys may move its read register to the address side,
// so the ROM shares a cycle with the group counter's increment (xcup: 5 LUT levels and a carry
// alone at CH 1024, PE 8; ECP5 maps those memories to DP16KD). Measured alone on both
// instruments: benchmarks/results/block_timing.md.
// Requires: each channel's thresholds ascending (the graph's order), as the search does.
//
// Memory files (one word per line, docs/hardware.md; written by
// sat_hw.codegen.layout.threshold_files): `<THRESH_PREFIX>_p<lane>_s<stage>.hex`, lane and stage
// in decimal without leading zeros. Stage j, word g*2^j + m (group g, m < 2^j) holds threshold
// T_k, k = (2m+1) * 2^(OUT_BITS-1-j) (1-based, ascending), two's complement in ACC_BITS bits;
// stage 0 adds the direction flag (1 = count acc <= T) at bit ACC_BITS.
//
// Input: PE accumulators per beat, channel groups g = 0..CH/PE-1 in turn (lane p of group g is
// channel g*PE + p). Output: PE codes per beat in the same order. Latency: a beat taken in cycle
// t is offered in cycle t + LAT, LAT = PIPE + 2 = 2*OUT_BITS + 2 + DEEP (search) or 4 (parallel
// compare) (sat_hw.hw.cycles.thresholds_latency). Throughput: one beat per cycle, CH/PE beats
// per pixel.
module sat_thresholds #(
    parameter int CH = 4,                  // channels; Requires PE divides CH
    parameter int PE = 1,                  // channels per beat (lanes)
    parameter int ACC_BITS = 16,           // signed accumulator and threshold width; Requires
                                           // 2..62
    parameter int OUT_BITS = 4,            // code width; Requires 1..8
    parameter THRESH_PREFIX = "thresh"     // memory file prefix (a path relative to the
                                           // simulator's or synthesis tool's working folder)
) (
    input  wire logic                     clk,
    input  wire logic                     rst,
    input  wire logic [PE*ACC_BITS-1:0]   s_axis_tdata,
    input  wire logic                     s_axis_tvalid,
    output logic                          s_axis_tready,
    output logic [PE*OUT_BITS-1:0]        m_axis_tdata,
    output logic                          m_axis_tvalid,
    input  wire logic                     m_axis_tready
);
    localparam int G = CH / PE;                       // channel groups (beats per pixel)
    localparam int B = OUT_BITS;                      // search stages
    localparam int GW = G > 1 ? $clog2(G) : 1;        // group index width
    localparam bit PARALLEL = G == 1 && OUT_BITS <= 4;  // compare with all NT at once
    // a stage's memory deeper than 64 words (more than one LUT6 per bit: block RAM or a mux
    // tree) has a second output register, so its read takes two cycles
    function automatic int deep_stages();
        deep_stages = 0;
        for (int j = 0; j < OUT_BITS; j++) if ((G << j) > 64) deep_stages++;
    endfunction
    localparam int PIPE = PARALLEL ? 2 : 2 * B + deep_stages();  // take to the queue's input
    localparam int LAT = PIPE + 2;                    // take to offer (header: Latency)
    localparam int QD = LAT + 1;                      // credits: one output beat per input

    // elaboration checks: $error with a constant message (Yosys prints neither a %0d nor the
    // message of a $fatal; Verilator and, by IEEE 1800-2017 20.11, Vivado print it too)
    if (PE < 1 || CH < 1 || CH % PE != 0) begin : g_bad_pe
        $error("sat_thresholds: PE must divide CH");
    end
    if (OUT_BITS < 1 || OUT_BITS > 8) begin : g_bad_out_bits
        $error("sat_thresholds: OUT_BITS must be 1..8");
    end
    if (ACC_BITS < 2 || ACC_BITS > 62) begin : g_bad_acc_bits
        $error("sat_thresholds: ACC_BITS must be 2..62");
    end

    // Per-stage registers are flat vectors (stage j at [j*W +: W]): Yosys reads those in
    // generate blocks where it rejects packed arrays.
    logic               credit;      // a place in the output queue is free (sat_outq, registered)
    logic               take;        // an input beat is taken
    logic [GW-1:0]      group_reg;   // group of the next input beat
    logic [PIPE-1:0]    v_sr;        // a beat is in pipeline cycle k (taken k+1 cycles ago)
    logic [B*GW-1:0]    grp_in;      // the group of the beat entering stage j's read
    // (keep: flip-flops, not SRL16Es, whose slow output would start a ROM's address)
    (* keep *) logic [B*GW-1:0] grp_c;  // its group in stage j's compare cycle
    logic [PE*B-1:0]    code;        // the last stage's result, lane p at [p*B +: B]

    assign s_axis_tready = credit;
    assign take = s_axis_tvalid && credit;

    always_ff @(posedge clk) begin
        if (take) group_reg <= group_reg == GW'(G - 1) ? '0 : group_reg + 1'b1;
        v_sr <= PIPE'({v_sr, take});
        if (rst) begin
            group_reg <= '0;
            v_sr <= '0;
        end
    end

    // the group beside the search: stage j's read cycles (RD(j)), then its compare cycle
    for (genvar j = 0; j < B; j++) begin : g_grp
        localparam int RD = (G << j) > 64 ? 2 : 1;
        (* keep *) logic [RD*GW-1:0] d;
        if (j == 0) begin : g_first
            assign grp_in[GW-1:0] = group_reg;
        end else begin : g_next
            assign grp_in[j*GW +: GW] = grp_c[(j-1)*GW +: GW];
        end
        always_ff @(posedge clk) begin
            d <= (RD*GW)'({d, grp_in[j*GW +: GW]});
            grp_c[j*GW +: GW] <= d[(RD-1)*GW +: GW];
        end
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        if (PARALLEL) begin : g_parallel
            // one channel per lane: compare with every threshold (constants after synthesis),
            // registered; the ascending thresholds make the compares a thermometer code t
            // (t_k = 1 for k <= code), whose bit b of the count is the XOR of t_k over the k
            // that are multiples of 2^b
            localparam int NT = (1 << B) - 1;
            logic [ACC_BITS-1:0] acc_reg;
            logic [NT-1:0]       t_reg;      // t_k at [k-1]
            wire                 dir;
            logic [NT-1:0]       t_next;
            logic [B-1:0]        total;

            for (genvar j = 0; j < B; j++) begin : g_stage
                localparam int W = j == 0 ? ACC_BITS + 1 : ACC_BITS;
                logic [W-1:0] mem [1 << j];

                initial $readmemh($sformatf("%s_p%0d_s%0d.hex", THRESH_PREFIX, p, j), mem);
                if (j == 0) begin : g_dir
                    assign dir = mem[0][ACC_BITS];
                end
                // stage j's word m is T_k, k = (2m+1) * 2^(B-1-j)
                for (genvar m = 0; m < (1 << j); m++) begin : g_k
                    assign t_next[((2*m + 1) << (B - 1 - j)) - 1] =
                        $signed({acc_reg, 1'b0}) >= $signed({mem[m][ACC_BITS-1:0], dir});
                end
            end

            always_ff @(posedge clk) begin
                acc_reg <= s_axis_tdata[p*ACC_BITS +: ACC_BITS];
                t_reg <= t_next;
            end
            always_comb begin
                for (int b = 0; b < B; b++) begin
                    total[b] = 1'b0;
                    for (int k = 1 << b; k <= NT; k += 1 << b) total[b] = total[b] ^ t_reg[k-1];
                end
            end
            assign code[p*B +: B] = total ^ {B{dir}};
        end else begin : g_search
            // stage j: RD read cycles (the memory output q, q2 where RD is 2, and the beat
            // delayed beside it), then the compare cycle (registers *_c)
            logic [B*ACC_BITS-1:0] acc_c;             // the accumulator
            logic [B*B-1:0]        found_c;           // code bits found before stage j (j)
            logic [B-1:0]          dir_c;             // the direction
            logic [B-1:0]          ge_c;              // acc >= T (direction +1), acc > T (-1)

            for (genvar j = 0; j < B; j++) begin : g_stage
                localparam int D = G << j;                    // words
                localparam int RD = D > 64 ? 2 : 1;           // read cycles
                localparam int AW = D > 1 ? $clog2(D) : 1;
                localparam int W = j == 0 ? ACC_BITS + 1 : ACC_BITS;
                logic [W-1:0]  mem [D];
                logic [W-1:0]  q, t;                          // the threshold (+ flag in stage 0)
                logic [AW-1:0] addr;
                logic [ACC_BITS-1:0] acc_in;                  // the beat entering the read
                logic [B-1:0]  found_in;
                logic          dir_in, dir;
                logic [RD*ACC_BITS-1:0] acc_d;                // ... and after RD cycles
                logic [RD*B-1:0] found_d;
                logic [RD-1:0] dir_d;

                initial $readmemh($sformatf("%s_p%0d_s%0d.hex", THRESH_PREFIX, p, j), mem);

                if (j == 0) begin : g_first
                    // the group of the next beat to take (a register): read as it is taken
                    assign addr = AW'(group_reg);
                    assign acc_in = s_axis_tdata[p*ACC_BITS +: ACC_BITS];
                    assign found_in = '0;
                    assign dir_in = 1'b0;
                    assign dir = t[ACC_BITS];
                end else begin : g_next
                    // {group, bits found so far, the previous stage's bit}: registers only
                    assign found_in = B'({found_c[(j-1)*B +: B], ge_c[j-1]});
                    assign addr = AW'((64'(grp_c[(j-1)*GW +: GW]) << j)
                                      | (64'(found_in) & ((64'd1 << j) - 1)));
                    assign acc_in = acc_c[(j-1)*ACC_BITS +: ACC_BITS];
                    assign dir_in = dir_c[j-1];
                    assign dir = dir_d[RD-1];
                end

                if (RD == 2) begin : g_oreg
                    // block RAM's output register, or the end of a LUT ROM's mux tree
                    logic [W-1:0] q2;
                    always_ff @(posedge clk) q2 <= q;
                    assign t = q2;
                end else begin : g_q
                    assign t = q;
                end

                always_ff @(posedge clk) begin
                    q <= mem[addr];
                    acc_d <= (RD*ACC_BITS)'({acc_d, acc_in});
                    found_d <= (RD*B)'({found_d, found_in});
                    dir_d <= RD'({dir_d, dir_in});
                    // {acc, 0} >= {T, dir}: one carry chain, registered
                    ge_c[j] <= $signed({acc_d[(RD-1)*ACC_BITS +: ACC_BITS], 1'b0})
                               >= $signed({t[ACC_BITS-1:0], dir});
                    acc_c[j*ACC_BITS +: ACC_BITS] <= acc_d[(RD-1)*ACC_BITS +: ACC_BITS];
                    found_c[j*B +: B] <= found_d[(RD-1)*B +: B];
                    dir_c[j] <= dir;
                end
            end

            // the search result, complemented for direction -1
            assign code[p*B +: B] = B'({found_c[(B-1)*B +: B], ge_c[B-1]}) ^ {B{dir_c[B-1]}};
        end
    end

    // ---- output: a queue with credits; every beat taken takes one ----
    sat_outq #(.DATA_W(PE * B), .DEPTH(QD)) u_out (
        .clk, .rst, .credit, .take,
        .s_data(code), .s_valid(v_sr[PIPE-1]),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
