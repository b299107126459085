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
// the bitwise complement of the search result. Each cycle's path is one memory read, one
// comparator and the next stage's memory address (the bit just found completes it). Where every
// lane has one channel (CH == PE) and OUT_BITS <= 4, the thresholds are constants and the lane
// compares with all NT at once (fewer LUTs and flip-flops there, measured with Yosys:
// benchmarks/thresholds_yosys.py).
//
// Memory files (one word per line, docs/hardware.md; written by
// sat_hw.codegen.layout.threshold_files): `<THRESH_PREFIX>_p<lane>_s<stage>.hex`, lane and stage
// in decimal without leading zeros. Stage j, word g*2^j + m (group g, m < 2^j) holds threshold
// T_k, k = (2m+1) * 2^(OUT_BITS-1-j) (1-based, ascending), two's complement in ACC_BITS bits;
// stage 0 adds the direction flag (1 = count acc <= T) at bit ACC_BITS.
//
// Input: PE accumulators per beat, channel groups g = 0..CH/PE-1 in turn (lane p of group g is
// channel g*PE + p). Output: PE codes per beat in the same order. The stages move together while
// the output skid buffer (sat_skid) takes beats, so s_axis_tready is that buffer's registered
// ready. Latency: a beat taken in cycle t is offered in cycle t + OUT_BITS + 1 (t + 2 with the
// parallel compare). Throughput: one beat per cycle, CH/PE beats per pixel.
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
    localparam int L = PARALLEL ? 1 : B;              // pipeline stages before the skid

    // elaboration checks
    if (PE < 1 || CH < 1 || CH % PE != 0) begin : g_bad_pe
        $fatal(0, "sat_thresholds: PE (%0d) must divide CH (%0d)", PE, CH);
    end
    if (OUT_BITS < 1 || OUT_BITS > 8) begin : g_bad_out_bits
        $fatal(0, "sat_thresholds: OUT_BITS must be 1..8, got %0d", OUT_BITS);
    end
    if (ACC_BITS < 2 || ACC_BITS > 62) begin : g_bad_acc_bits
        $fatal(0, "sat_thresholds: ACC_BITS must be 2..62, got %0d", ACC_BITS);
    end
    if (PE > 9999) begin : g_bad_lanes
        $fatal(0, "sat_thresholds: PE must be < 10000 (file names), got %0d", PE);
    end

    // decimal digits of v (< 10000) as a string; unused leading characters are NUL, which
    // file names skip
    function automatic logic [31:0] dec(input int v);
        logic [31:0] s;
        int x;
        s = '0;
        x = v;
        for (int i = 0; i < 4; i++) begin
            if (i == 0 || x != 0) s[i*8 +: 8] = 8'h30 + 8'(x % 10);
            x = x / 10;
        end
        dec = s;
    endfunction

    // Per-stage registers are flat vectors (stage j at [j*W +: W]): Yosys reads those in
    // generate blocks where it rejects packed arrays.
    logic               adv;         // every stage moves (the skid buffer takes a beat)
    logic [GW-1:0]      group_reg;   // group of the next input beat
    logic [L-1:0]       valid_reg;   // a beat is in stage j
    logic [B*GW-1:0]    grp_reg;     // its group
    logic [PE*B-1:0]    code;        // stage B-1's result, lane p at [p*B +: B]

    assign s_axis_tready = adv;

    always_ff @(posedge clk) begin
        if (adv) begin
            if (s_axis_tvalid) group_reg <= group_reg == GW'(G - 1) ? '0 : group_reg + 1'b1;
            valid_reg <= L'({valid_reg, s_axis_tvalid});
            grp_reg <= (B*GW)'({grp_reg, group_reg});
        end
        if (rst) begin
            group_reg <= '0;
            valid_reg <= '0;
        end
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        if (PARALLEL) begin : g_parallel
            // one channel per lane: compare with every threshold (constants after synthesis)
            logic [ACC_BITS-1:0] acc_reg;
            wire  [B*B-1:0]      count;      // stage file j's share of the count
            wire                 dir;
            logic [B-1:0]        total;

            for (genvar j = 0; j < B; j++) begin : g_stage
                localparam int W = j == 0 ? ACC_BITS + 1 : ACC_BITS;
                logic [W-1:0] mem [1 << j];
                logic [B-1:0] c;

                initial $readmemh({THRESH_PREFIX, "_p", dec(p), "_s", dec(j), ".hex"}, mem);
                if (j == 0) begin : g_dir
                    assign dir = mem[0][ACC_BITS];
                end
                always_comb begin
                    c = '0;
                    for (int m = 0; m < (1 << j); m++)
                        c = c + B'($signed({acc_reg, 1'b0})
                                   >= $signed({mem[m][ACC_BITS-1:0], dir}));
                end
                assign count[j*B +: B] = c;
            end

            always_ff @(posedge clk) begin
                if (adv) acc_reg <= s_axis_tdata[p*ACC_BITS +: ACC_BITS];
            end
            always_comb begin
                total = '0;
                for (int j = 0; j < B; j++) total = total + count[j*B +: B];
            end
            assign code[p*B +: B] = total ^ {B{dir}};
        end else begin : g_search
            logic [B*ACC_BITS-1:0] acc_reg;    // the accumulator in stage j
            logic [B*B-1:0]        found_reg;  // code bits found before stage j (j of them)
            logic [B-1:0]          dir_reg;    // direction flag in stage j > 0
            logic [B-1:0]          dir, ge;    // stage j's direction, and its comparison

            for (genvar j = 0; j < B; j++) begin : g_stage
                localparam int D = G << j;                    // words
                localparam int AW = D > 1 ? $clog2(D) : 1;
                localparam int W = j == 0 ? ACC_BITS + 1 : ACC_BITS;
                logic [W-1:0]  mem [D];
                logic [W-1:0]  q;                             // the threshold (+ flag in stage 0)
                logic [AW-1:0] addr;

                initial $readmemh({THRESH_PREFIX, "_p", dec(p), "_s", dec(j), ".hex"}, mem);

                if (j == 0) begin : g_first
                    assign addr = AW'(group_reg);
                    assign dir[j] = q[ACC_BITS];
                end else begin : g_next
                    // {group, bits found so far, the previous stage's bit}
                    assign addr = AW'((64'(grp_reg[(j-1)*GW +: GW]) << j)
                                      | (64'({found_reg[(j-1)*B +: B], ge[j-1]})
                                         & ((64'd1 << j) - 1)));
                    assign dir[j] = dir_reg[j];
                end

                always_ff @(posedge clk) begin
                    if (adv) q <= mem[addr];
                end

                // acc >= T (direction +1) or acc > T (direction -1): {acc, 0} >= {T, dir}
                assign ge[j] = $signed({acc_reg[j*ACC_BITS +: ACC_BITS], 1'b0})
                               >= $signed({q[ACC_BITS-1:0], dir[j]});
            end

            always_ff @(posedge clk) begin
                if (adv) begin
                    acc_reg <= (B*ACC_BITS)'({acc_reg, s_axis_tdata[p*ACC_BITS +: ACC_BITS]});
                    for (int j = 1; j < B; j++) begin
                        found_reg[j*B +: B] <= B'({found_reg[(j-1)*B +: B], ge[j-1]});
                        dir_reg[j] <= dir[j-1];
                    end
                    found_reg[B-1:0] <= '0;
                    dir_reg[0] <= 1'b0;
                end
            end

            // the search result, complemented for direction -1
            assign code[p*B +: B] = B'({found_reg[(B-1)*B +: B], ge[B-1]}) ^ {B{dir[B-1]}};
        end
    end

    sat_skid #(.DATA_W(PE * B)) u_out (
        .clk, .rst,
        .s_axis_tdata(code), .s_axis_tvalid(valid_reg[L-1]), .s_axis_tready(adv),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
