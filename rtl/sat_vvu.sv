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
// Weights: one memory, depth (CH/PE)*(K2/SIMD), word g*(K2/SIMD) + s, lane (i, p) at
// [(i*PE + p)*WB +: WB] (sat_hw.codegen.layout.vvu_rom), placed by MEM_STYLE as in sat_mvu
// ("auto": a ROM ($readmemh WEIGHT_FILE), no attribute; "lut", "bram": a styled ROM; "uram",
// "external": a RAM written at run time through wl_we/wl_addr/wl_data; all but "auto" a
// sat_wmem).
// ENCODING "signed" stores the odd weight w in WB = WBITS+1 bits (taken as u = w + 2^WBITS,
// see Pipeline). ENCODING "k" stores SAT's code k = (w + 2^WBITS-1)/2 in WB = WBITS bits and
// computes sum w*a = 2*sum k*a - (2^WBITS-1)*sum a:
// every product is an unsigned WBITS x ABITS one, and each lane adds the sum of its own codes
// (in a depthwise unit every lane has its own activations, so sum a is per lane, not shared).
// Yosys synth_xilinx -nodsp put "k" below "signed" in LUTs in the former single-cycle design
// (benchmarks/vvu_yosys.py, e.g. PE=8, SIMD=9, W4A4: 3443 vs 4242 LUTs; W3A4: 2618 vs 3119), so
// "k" is the default (one partial product fewer per tap here too).
//
// Pipeline, free running (no register has a stall enable; m_axis_tready reaches no register of
// the data path):
//   stage 0   the input beat and its ROM word, both registered; the ROM is read at the address
//             register alone (the word of the next beat to take), so it may map to block RAM;
//   stage 1   both registered again: Yosys folds the word register into a block RAM's read
//             port (ECP5 DP16KD), whose clock-to-out is slow, so only a wire may follow it;
//   2..TS+1   per lane two sat_mvu_tree adder trees, two adder levels per stage: the SIMD*UB
//             partial products of sum u*a (u the weight as unsigned: k, or w + 2^WBITS for
//             "signed"; partial product (i, b) = a_i if bit b of u_i, shifted by b) and the SIMD
//             codes, whose sum times M is registered one stage after that tree's root
//             (sum w*a = 2*sum k*a - (2^WBITS-1)*sum a, or sum u*a - 2^WBITS*sum a);
//   TS+2      the beat's dot product, registered; TS+3 the accumulator over the K2/SIMD tap
//             groups of a channel group;
//   output    sat_outq: a sat_fifo of QD beats and QD credits. A beat is taken only while a
//             credit is free (s_axis_tready is sat_outq's registered `credit`), and a beat that
//             ends a channel group takes one, so the queue always has room for what the pipeline
//             holds and backpressure stops only the input.
// TS = max(TSP, TSA + 1), a tree of N values having TSx = floor(ceil(log2 N)/2) + 1 stages (0 for
// N = 1): TSP over N = SIMD*UB partial products, UB = WBITS ("k") or WBITS+1 ("signed"), TSA
// over the SIMD codes. The longest register-to-register path is two adder levels (a LUT and a
// carry chain each, the first LUT also masking the partial product), the accumulator's select
// and add, or the ROM read.
// Throughput: one input beat per cycle in free flow; cycles per pixel (CH/PE)*(K2/SIMD) input
// beats, CH/PE output beats. QD = max(3, ceil(LAT/(K2/SIMD)) + 1) credits keep it so (a credit
// taken in cycle t is free again in t + LAT + 1).
// Latency: when the last input beat of a channel group is taken in cycle n, its output beat is
// offered in cycle n + LAT, LAT = TS + 6 (sat_hw.hw.cycles.vvu_latency); e.g. SIMD 9 W4 "k": TSP
// 4 (36 partial products), TSA 3, LAT 10; SIMD 3 W3: TSP 3, TSA 2, LAT 9.
module sat_vvu #(
    parameter int    CH = 8,                // channels
    parameter int    K2 = 9,                // taps per channel (k*k)
    parameter int    PE = 2,                // channels per beat; Requires CH % PE == 0
    parameter int    SIMD = 3,              // taps per beat; Requires K2 % SIMD == 0
    parameter int    WBITS = 4,             // weight bits (SAT levels w = 2k - (2^WBITS-1)), 1..8
    parameter int    ABITS = 4,             // activation code bits, 1..8
    parameter int    ACC_BITS = 12,         // accumulator bits; Requires >= the exact bound's
    parameter        WEIGHT_FILE = "w.hex", // $readmemh image of the weight ROM
    parameter logic [63:0] ENCODING = "k",  // "k" (unsigned SAT codes) or "signed"
    parameter logic [63:0] MEM_STYLE = "auto"  // "auto", "lut", "bram", "uram", "external"
) (
    input  wire logic                          clk,
    input  wire logic                          rst,
    // run-time weights (MEM_STYLE "uram", "external"; unread otherwise): word wl_addr := wl_data
    input  wire logic                          wl_we,
    input  wire logic [31:0]                   wl_addr,
    input  wire logic [SIMD*PE*(ENCODING == 64'("k") ? WBITS : WBITS + 1)-1:0] wl_data,
    input  wire logic [SIMD*PE*ABITS-1:0]      s_axis_tdata,
    input  wire logic                          s_axis_tvalid,
    output logic                               s_axis_tready,
    output logic [PE*ACC_BITS-1:0]             m_axis_tdata,
    output logic                               m_axis_tvalid,
    input  wire logic                          m_axis_tready
);
    localparam bit  ENC_K = ENCODING == 64'("k");
    localparam int  WB = ENC_K ? WBITS : WBITS + 1;         // stored weight width
    localparam int  UB = WB;                                // bits of the unsigned weight u
    localparam int  NS = K2 / SIMD;                         // tap groups per channel group
    localparam int  DEPTH = (CH / PE) * NS;                 // ROM words, input beats per pixel
    localparam int  AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int  SW = NS > 1 ? $clog2(NS) : 1;
    localparam int  DOT_W = WBITS + ABITS + $clog2(SIMD) + 2;  // one beat's dot product, signed
    localparam longint BOUND = longint'(K2) * ((64'd1 << WBITS) - 1) * ((64'd1 << ABITS) - 1);
    localparam int  NEED = $clog2(BOUND + 2) + 1;           // sat_hw.graph.ir.acc_bits_for
    // the adder trees (sat_mvu_tree): partial products u[b] ? a << b, and the codes
    localparam int  NP = SIMD * UB;                         // partial products per lane
    localparam logic [63:0] PMAX = ((64'd1 << ABITS) - 1) << (UB - 1);
    localparam logic [63:0] AMAX = (64'd1 << ABITS) - 1;
    localparam int  PW = $clog2(PMAX + 64'd1);              // bits of a partial product
    localparam int  LP = $clog2(NP), LA = $clog2(SIMD);     // tree levels
    localparam int  TSP = LP == 0 ? 0 : LP / 2 + 1;         // tree stages (sat_mvu_tree)
    localparam int  TSA = LA == 0 ? 0 : LA / 2 + 1;
    localparam int  TS = TSP > TSA + 1 ? TSP : TSA + 1;     // the code sum has one more stage
    localparam int  LAT = TS + 6;                           // take to offer (header: Latency)
    localparam int  QD = (LAT + NS - 1) / NS + 1 < 3 ? 3 : (LAT + NS - 1) / NS + 1;  // credits
    localparam bit  STYLED = MEM_STYLE != 64'("auto");      // the weights in a sat_wmem

    // elaboration checks: $error with a constant message (sat_mvu: what each tool prints)
    if (CH < 1 || PE < 1 || CH % PE != 0) begin : g_err_pe
        $error("sat_vvu: PE must divide CH");
    end
    if (K2 < 1 || SIMD < 1 || K2 % SIMD != 0) begin : g_err_simd
        $error("sat_vvu: SIMD must divide K2");
    end
    if (WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err_bits
        $error("sat_vvu: WBITS and ABITS must be 1..8");
    end
    if (!ENC_K && ENCODING != 64'("signed")) begin : g_err_enc
        $error("sat_vvu: ENCODING must be \"k\" or \"signed\"");
    end
    if (ACC_BITS < NEED || ACC_BITS > 62) begin : g_err_acc
        $error("sat_vvu: ACC_BITS must be acc_bits_for(K2*(2^WBITS-1)*(2^ABITS-1))..62");
    end
    if (MEM_STYLE != 64'("auto") && MEM_STYLE != 64'("lut") && MEM_STYLE != 64'("bram")
            && MEM_STYLE != 64'("uram") && MEM_STYLE != 64'("external")) begin : g_err_mem
        $error("sat_vvu: MEM_STYLE must be \"auto\", \"lut\", \"bram\", \"uram\" or \"external\"");
    end

    // An empty initial block where the parameter checks' initial block was (they are generate
    // blocks now): Yosys numbers the processes it meets, and ABC's LUT mapping follows that
    // numbering; without it Yosys maps some configurations a LUT differently (issue 22 keeps the
    // netlists that committed measurements rest on).
    initial begin
    end

    // ---- stage 0: the input beat and its ROM word, both registered; the ROM is read at the
    // address register alone (the word of the next beat to take) ----
    logic [SIMD*PE*WB-1:0] rom [0:DEPTH-1];
    if (!STYLED) begin : g_rom
        initial $readmemh(WEIGHT_FILE, rom);
    end

    logic [AW-1:0] addr;                  // word of the next input beat
    logic [SW-1:0] tap;                   // its tap group s
    logic [SIMD*PE*WB-1:0] w_q, w_q2;     // the ROM word, and again (no logic after a read)
    logic [SIMD*PE*ABITS-1:0] a_q, a_q2;
    logic credit, take;
    logic v0_q, first0_q, last0_q, v1_q, first1_q, last1_q;

    assign s_axis_tready = credit;
    assign take = s_axis_tvalid && credit;

    // MEM_STYLE other than "auto": the word comes from a sat_wmem (as in sat_mvu), registered
    // there (stage 0, like w_q), and `rom` is unread and removed; "auto" reads `rom` in the
    // process below, as before the other styles (the same netlist)
    logic [SIMD*PE*WB-1:0] w_s;           // sat_wmem's word at addr, registered (stage 0)
    if (STYLED) begin : g_wmem
        sat_wmem #(
            .DEPTH(DEPTH), .WIDTH(SIMD*PE*WB), .WEIGHT_FILE(WEIGHT_FILE), .MEM_STYLE(MEM_STYLE)
        ) u_wmem (
            .clk(clk), .raddr(addr), .rdata(w_s),
            .we(wl_we), .waddr(wl_addr[AW-1:0]), .wdata(wl_data)
        );
    end else begin : g_rom_auto
        assign w_s = '0;
    end

    always_ff @(posedge clk) begin
        w_q <= rom[addr];
        a_q <= s_axis_tdata;
        v0_q <= take;
        first0_q <= tap == '0;
        last0_q <= tap == SW'(NS - 1);
        // stage 1: the word and the beat registered again (an ECP5 block RAM's read port takes
        // w_q in, and its clock-to-out is slow: nothing but a wire may follow it)
        w_q2 <= STYLED ? w_s : w_q;
        a_q2 <= a_q;
        v1_q <= v0_q;
        first1_q <= first0_q;
        last1_q <= last0_q;
        if (take) begin
            addr <= (addr == AW'(DEPTH - 1)) ? '0 : addr + 1'b1;
            tap <= (tap == SW'(NS - 1)) ? '0 : tap + 1'b1;
        end
        if (rst) begin
            addr <= '0;
            tap <= '0;
            v0_q <= 1'b0;
            v1_q <= 1'b0;
        end
    end

    // ---- stages 1..TS: per lane, the sum of the SIMD products w*a as partial products, and
    // the sum of the codes times the correction ----
    // A weight is taken as unsigned u: k itself ("k"), or w + 2^WBITS = w with its sign bit
    // flipped ("signed"). sum w*a = SH-shifted sum u*a - M*sum a: "k" SH 1, M 2^WBITS-1;
    // "signed" SH 0, M 2^WBITS. Partial product (i, b) = a_i if bit b of u_i, else 0, shifted
    // by b, at tree input b*SIMD + i (the terms of one shift side by side).
    logic signed [DOT_W-1:0] dot_q [PE];
    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic [NP*PW-1:0] terms;
        logic [SIMD*ABITS-1:0] codes;
        always_comb begin
            for (int i = 0; i < SIMD; i++) begin
                logic [ABITS-1:0] a;
                logic [UB-1:0] u;
                a = a_q2[(i*PE + p)*ABITS +: ABITS];
                u = w_q2[(i*PE + p)*WB +: WB];
                if (!ENC_K) u[UB-1] = !u[UB-1];
                codes[i*ABITS +: ABITS] = a;
                for (int b = 0; b < UB; b++)
                    terms[(b*SIMD + i)*PW +: PW] = PW'({a & {ABITS{u[b]}}}) << b;
            end
        end
        logic [DOT_W-1:0] sk, sa;         // sum u*a (mod 2^DOT_W), sum a
        sat_mvu_tree #(.N(NP), .VMAX(PMAX), .SIGNED(1'b0), .R(DOT_W), .DELAY(TS - TSP)) u_sk (
            .clk, .en(1'b1), .x(terms), .y(sk));
        sat_mvu_tree #(.N(SIMD), .VMAX(AMAX), .SIGNED(1'b0), .R(DOT_W), .DELAY(TS - TSA - 1))
            u_sa (.clk, .en(1'b1), .x(codes), .y(sa));
        // M*sum a, registered (stage TS+1); then the beat's dot product (stage TS+2)
        logic [DOT_W-1:0] c_q;
        always_ff @(posedge clk) begin
            c_q <= ENC_K ? (sa << WBITS) - sa : sa << WBITS;
            dot_q[p] <= ENC_K ? (sk << 1) - c_q : sk - c_q;
        end
    end

    // the beat's flags, beside its data: v/first/last of stage TS+2 (the dot products)
    logic [TS:0] v_sr, first_sr, last_sr;
    always_ff @(posedge clk) begin
        v_sr <= {v_sr[TS-1:0], v1_q};
        first_sr <= {first_sr[TS-1:0], first1_q};
        last_sr <= {last_sr[TS-1:0], last1_q};
        if (rst) v_sr <= '0;
    end

    // ---- stage TS+3: accumulate the K2/SIMD tap groups of a channel group ----
    logic signed [ACC_BITS-1:0] acc_q [PE];
    logic v_acc_q;
    always_ff @(posedge clk) begin
        for (int p = 0; p < PE; p++) begin
            logic signed [ACC_BITS+DOT_W-1:0] d;  // sign-extended, then taken modulo 2^ACC_BITS
            d = {{ACC_BITS{dot_q[p][DOT_W-1]}}, dot_q[p]};
            if (v_sr[TS]) acc_q[p] <= (first_sr[TS] ? '0 : acc_q[p]) + d[ACC_BITS-1:0];
        end
        // a channel group's sum is complete with its last tap group
        v_acc_q <= v_sr[TS] && last_sr[TS];
        if (rst) v_acc_q <= 1'b0;
    end

    // ---- output: a queue with credits; a beat that ends a channel group takes one ----
    logic [PE*ACC_BITS-1:0] acc_flat;
    always_comb
        for (int p = 0; p < PE; p++) acc_flat[p*ACC_BITS +: ACC_BITS] = acc_q[p];

    sat_outq #(.DATA_W(PE*ACC_BITS), .DEPTH(QD)) u_out (
        .clk, .rst, .credit, .take(take && tap == SW'(NS - 1)),
        .s_data(acc_flat), .s_valid(v_acc_q),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
