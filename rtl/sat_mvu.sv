`resetall
`timescale 1ns / 1ps
`default_nettype none

// Matrix-vector unit (kxk conv after the window generator, pointwise conv, fully connected):
// acc[r] = sum_j w[r][j] * a[j] exactly, PE rows x SIMD columns per cycle.
//
// Input: SIMD codes per beat (element i at [i*ABITS +: ABITS]), MW/SIMD beats per vector.
// Output: MH/PE beats per vector, beat f = the signed accumulators of rows f*PE .. f*PE+PE-1,
// lane p at [p*ACC_BITS +: ACC_BITS]. Vectors follow each other with no gap and no framing.
//
// Weights: one ROM ($readmemh WEIGHT_FILE; sat_hw.codegen.layout.mvu_rom), depth (MH/PE)*(MW/SIMD),
// word f*(MW/SIMD) + s, lane (p, i) at [(p*SIMD + i)*WB +: WB]. ENCODING "signed" stores the odd
// weight w in WB = WBITS+1 bits and multiplies signed x unsigned (the baseline). ENCODING "k" stores
// SAT's code k = (w + 2^WBITS-1)/2 in WB = WBITS bits: every product is an unsigned WBITS x ABITS
// one, and sum w*a = 2*sum k*a - (2^WBITS-1)*sum a. One adder tree, shared by all PE lanes, sums
// each input beat's codes as it arrives; at the end of the vector nc = -(2^WBITS-1)*sum a is the
// value every lane's accumulator restarts from (instead of 0) in each fold, so the correction
// costs no per-lane logic.
//
// MULT "lut": the products are shift-and-add logic (no `*`, so Yosys never maps them to DSPs).
// MULT "dsp" (ENCODING "k" only): the products of one column (one activation a) and LANES rows
// share one wide multiply a * (k_0 + k_1*2^o_1 + ...), unsigned, on a DSP_A_W x DSP_B_W signed
// multiplier (27 x 18: DSP48E2, 25 x 18: DSP48E1). Fields of S = bits(max k*a) bits never carry
// into each other, so each product is a slice of the result. With DSP_OVERLAP, where it packs
// more lanes, fields start S-1 bits apart and overlap by one bit, made exact by a known LSB:
// k_j*a - (k_j[0] & a[0]) is even, so the multiply takes k_j with its LSB cleared and the post-adder
// adds (k_j[0] ? a>>1 : 0) << (o_j+1) (one AND per activation bit), which leaves bit o_j of field j
// zero for the top bit of field j-1; the product is {field bits, a[0] & k_j[0]}. Products per
// multiply on DSP48E2 (DSP48E1): 2x2 bits 9 (8), 3x3 5 (5), 4x4 4 (3), 8x8 2 (2).
//
// Dataflow: a vector buffer of MW/SIMD words holds one input vector; every fold (MH/PE of them)
// replays it, one beat per cycle. The next vector's beat s is written once the last fold has read
// entry s (in the same cycle at the earliest: the read is registered, old data), so the next
// vector is complete as the last fold ends and vectors run back to back: free flowing, cycles per
// vector = (MH/PE)*(MW/SIMD) exactly. The first vector after reset (or after a gap) is buffered
// whole before its fold 0 starts.
// Pipeline (one enable for all stages): stage 1 operands (registered ROM and buffer reads);
// MULT "lut": products and the adder trees over SIMD (L = ceil(log2(SIMD)) levels), registered
// after every odd level and at the root (TS = floor(L/2) + 1 stages, 1 for SIMD = 1, where the
// product itself is registered); MULT "dsp": multiply (stage 2),
// post-add (stage 3), then the trees (TS stages, none for SIMD = 1); the accumulators; an output
// register. LATENCY = cycles from issuing a fold's last beat to its output beat being valid:
// 3 + TS (MULT "dsp": 5 + TS). Free flowing, first input beat (cycle 0) to first output beat:
// 2*(MW/SIMD) - 1 + LATENCY cycles; the last output of a vector leaves (MH/PE - 1)*(MW/SIMD)
// cycles after its first.
// Backpressure: the pipeline (and the input) stops only when an output is due and the output
// register is full (MW/SIMD = 1: two registers); both are registers, so there is no
// combinational path from m_axis_tready to s_axis_tready.
module sat_mvu #(
    parameter int          MH = 8,                // rows (output channels / outputs)
    parameter int          MW = 8,                // columns (fan-in)
    parameter int          PE = 2,                // rows per cycle; Requires MH % PE == 0
    parameter int          SIMD = 2,              // columns per cycle; Requires MW % SIMD == 0
    parameter int          WBITS = 4,             // weight bits (w = 2k - (2^WBITS-1)), 1..8
    parameter int          ABITS = 4,             // activation code bits, 1..8
    parameter int          ACC_BITS = 16,         // output lane bits; Requires >= acc_bits_for(bound)
    parameter              WEIGHT_FILE = "w.hex", // $readmemh image of the weight ROM
    parameter logic [63:0] ENCODING = "k",        // "k" (unsigned SAT codes) or "signed"
    parameter logic [63:0] MULT = "lut",          // "lut" or "dsp" (packed multiplies)
    parameter int          DSP_A_W = 27,          // MULT "dsp": signed width of the wide port
    parameter int          DSP_B_W = 18,          // MULT "dsp": signed width of the narrow port
    parameter bit          DSP_OVERLAP = 1'b1     // MULT "dsp": one-bit field overlap, LSB repair
) (
    input  wire logic                     clk,
    input  wire logic                     rst,
    input  wire logic [SIMD*ABITS-1:0]    s_axis_tdata,
    input  wire logic                     s_axis_tvalid,
    output logic                          s_axis_tready,
    output logic [PE*ACC_BITS-1:0]        m_axis_tdata,
    output logic                          m_axis_tvalid,
    input  wire logic                     m_axis_tready
);
    // bits that hold 0..v
    function automatic int ubits(input logic [63:0] v);
        int n;
        logic [63:0] x;
        n = 0;
        x = v;
        while (x != 0) begin
            n = n + 1;
            x = x >> 1;
        end
        ubits = n == 0 ? 1 : n;
    endfunction

    localparam bit ENC_K = ENCODING == 64'("k");
    localparam bit USE_DSP = MULT == 64'("dsp");
    localparam int WB = ENC_K ? WBITS : WBITS + 1;          // stored weight bits
    localparam int SF = MW / SIMD;                          // beats per vector
    localparam int NF = MH / PE;                            // folds (output beats) per vector
    localparam int DEPTH = NF * SF;                         // ROM words
    localparam logic [63:0] LW = (64'd1 << WBITS) - 1;      // max k, max |w|
    localparam logic [63:0] LA = (64'd1 << ABITS) - 1;      // max code
    localparam logic [63:0] PMAX = LW * LA;                 // max |product|
    localparam logic [63:0] BOUND = 64'(MW) * PMAX;         // max |acc|
    localparam int NEED = $clog2(BOUND + 2) + 1;            // sat_hw.graph.ir.acc_bits_for
    localparam int R = ubits(BOUND) + 1;                    // exact signed result width
    localparam int PW = ubits(PMAX) + (ENC_K ? 0 : 1);      // product bits ("signed": signed)
    localparam int LEVELS = $clog2(SIMD);                   // adder tree levels
    localparam int TS = LEVELS == 0 ? 0 : LEVELS / 2 + 1;   // tree stages (odd levels, root)
    localparam int ROOT = USE_DSP ? 3 + TS                  // stage of the lanes' beat sums
                                  : 1 + (LEVELS == 0 ? 1 : TS);
    localparam int AD = ROOT - 1;                           // stages of the code-sum path
    localparam int NT = PE + (ENC_K ? 1 : 0);               // adder trees (+1: sum of codes)
    localparam int FW = NF > 1 ? $clog2(NF) : 1;
    localparam int SW = SF > 1 ? $clog2(SF) : 1;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    // DSP packing: S-bit fields, STEP apart (S-1 with the LSB repair), LANES products per multiply
    localparam int S = PW;
    localparam int UA = DSP_A_W - 1;                        // unsigned bits of the wide port
    localparam int L_CLEAN = 1 + (UA - WBITS) / S;
    localparam int L_OVER = (WBITS >= 2 && S >= 3) ? 1 + (UA - WBITS) / (S - 1) : 0;
    localparam bit CORR = DSP_OVERLAP && L_OVER > L_CLEAN;
    localparam int STEP = CORR ? S - 1 : S;
    localparam int LMAX = CORR ? L_OVER : L_CLEAN;
    localparam int LANES = LMAX < PE ? LMAX : PE;           // products per multiply
    localparam int NG = (PE + LANES - 1) / LANES;           // multiplies per column
    localparam int OUT_DEPTH = SF > 1 ? 1 : 2;              // output registers

    if (MH < 1 || PE < 1 || MH % PE != 0) begin : g_err_pe
        $fatal(0, "PE must divide MH (instance %m)");
    end
    if (MW < 1 || SIMD < 1 || MW % SIMD != 0) begin : g_err_simd
        $fatal(0, "SIMD must divide MW (instance %m)");
    end
    if (WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err_bits
        $fatal(0, "WBITS and ABITS must be 1..8 (instance %m)");
    end
    if (!ENC_K && ENCODING != 64'("signed")) begin : g_err_enc
        $fatal(0, "ENCODING must be \"k\" or \"signed\" (instance %m)");
    end
    if (!USE_DSP && MULT != 64'("lut")) begin : g_err_mult
        $fatal(0, "MULT must be \"lut\" or \"dsp\" (instance %m)");
    end
    if (USE_DSP && !ENC_K) begin : g_err_dsp
        $fatal(0, "MULT \"dsp\" packs unsigned k codes: it needs ENCODING \"k\" (instance %m)");
    end
    if (USE_DSP && (UA < WBITS || DSP_B_W <= ABITS)) begin : g_err_port
        $fatal(0, "DSP_A_W/DSP_B_W too narrow for WBITS/ABITS (instance %m)");
    end
    if (ACC_BITS < NEED || BOUND >= 64'd1 << 60) begin : g_err_acc
        $fatal(0, "ACC_BITS too small for MW/WBITS/ABITS (instance %m)");
    end

    // adder-tree geometry: nodes at level l, their width, their offset in the tree's flat vector
    function automatic int nodes(input int l);
        int n;
        n = SIMD;
        for (int m = 0; m < l; m = m + 1) n = (n + 1) / 2;
        nodes = n;
    endfunction
    function automatic int lvl_w(input logic [63:0] vmax, input int sgn, input int l);
        logic [63:0] c;
        c = (l >= 20 || (64'd1 << l) >= 64'(SIMD)) ? 64'(SIMD) : 64'd1 << l;
        lvl_w = ubits(c * vmax) + sgn;
    endfunction
    function automatic int lvl_off(input logic [63:0] vmax, input int sgn, input int l);
        int o;
        o = 0;
        for (int m = 0; m < l; m = m + 1) o = o + nodes(m) * lvl_w(vmax, sgn, m);
        lvl_off = o;
    endfunction

    // ---------------------------------------------------------------- vector buffer, issue
    // The buffer holds one vector. The filler writes entry ws of the next vector once the
    // held vector's last fold has read entry ws (or reads it in the same cycle: the read is
    // registered, old data), so the next vector is complete when the last fold ends.
    logic en;                    // every pipeline register moves (and the filler may write)
    logic held;                  // the buffer holds a complete vector not yet fully issued
    logic issue;                 // a beat enters stage 1
    logic fill;                  // an input beat is written into the buffer
    logic [SW-1:0] ws;           // entry the next input beat goes to
    logic [FW-1:0] nf;           // fold of the next beat issued
    logic [SW-1:0] sf;           // its beat within the fold
    logic [AW-1:0] waddr;        // its ROM word
    logic cpar;                  // parity of the vector being issued
    logic last_issue, last_fill;
    logic done;                  // the accumulators hold a finished fold
    logic full;                  // the output registers cannot take it

    assign en = !(done && full);
    assign issue = en && held;
    assign s_axis_tready = en && (!held || (nf == FW'(NF - 1) && sf >= ws));
    assign fill = s_axis_tready && s_axis_tvalid;
    assign last_issue = issue && nf == FW'(NF - 1) && sf == SW'(SF - 1);
    assign last_fill = fill && ws == SW'(SF - 1);

    always_ff @(posedge clk) begin
        if (fill) ws <= last_fill ? '0 : ws + 1'b1;
        if (issue) begin
            // next beat, next fold, next vector
            waddr <= waddr == AW'(DEPTH - 1) ? '0 : waddr + 1'b1;
            sf <= sf == SW'(SF - 1) ? '0 : sf + 1'b1;
            if (sf == SW'(SF - 1)) nf <= nf == FW'(NF - 1) ? '0 : nf + 1'b1;
        end
        if (last_issue) cpar <= !cpar;
        // the held vector ends with its last beat; a completed fill is the next one
        held <= (held && !last_issue) || last_fill;
        if (rst) begin
            ws <= '0;
            waddr <= '0;
            sf <= '0;
            nf <= '0;
            cpar <= 1'b0;
            held <= 1'b0;
        end
    end

    // ---------------------------------------------------------------- stage 1: operands
    logic [SIMD*ABITS-1:0] act1;          // the beat's codes
    logic [PE*SIMD*WB-1:0] w1;            // its weights
    logic [PE*SIMD*WB-1:0] rom [0:DEPTH-1];
    logic [SIMD*ABITS-1:0] vbuf [0:SF-1];
    initial $readmemh(WEIGHT_FILE, rom);

    always_ff @(posedge clk) begin
        if (fill) vbuf[ws] <= s_axis_tdata;
        if (en) begin
            w1 <= rom[waddr];
            act1 <= vbuf[sf];
        end
    end

    // beat flags along the pipeline: valid, first and last beat of a fold, vector parity
    logic [ROOT:1] pv, pf, pl, pp;
    always_ff @(posedge clk) begin
        if (en) begin
            pv <= {pv[ROOT-1:1], issue};
            pf <= {pf[ROOT-1:1], sf == '0};
            pl <= {pl[ROOT-1:1], sf == SW'(SF - 1)};
            pp <= {pp[ROOT-1:1], cpar};
        end
        if (rst) pv <= '0;
    end

    // ---------------------------------------------------------------- products
    // MULT "lut": shift-and-add of the stage-1 operands, not registered: ABC merges each product
    // with the first adder level. Partial products are masked, not selected by an `if`: the same
    // function, branch-free C++ under Verilator (the whole network simulates 1.9x faster), one
    // source for simulation and synthesis. Yosys maps it differently: +1.1 % LUTs summed over
    // W x A in {2,3,4,8}^2 at PE = SIMD = 8, -18 % to +25 % per pair (docs/hardware.md). MULT "dsp": slices of the packed multiplies, stage 3.
    logic [PE*SIMD*PW-1:0] leaf;          // product of lane (p, i) at [(p*SIMD + i)*PW +: PW]

    function automatic logic [PW-1:0] mul_k(input logic [WB-1:0] k, input logic [ABITS-1:0] a);
        logic [PW-1:0] s;
        s = '0;
        for (int b = 0; b < WB; b = b + 1) s = s + ((PW'(a) << b) & {PW{k[b]}});
        mul_k = s;
    endfunction
    function automatic logic [PW-1:0] mul_s(input logic [WB-1:0] w, input logic [ABITS-1:0] a);
        logic [PW-1:0] s;
        s = '0;
        for (int b = 0; b < WB - 1; b = b + 1) s = s + ((PW'(a) << b) & {PW{w[b]}});
        s = s - ((PW'(a) << (WB - 1)) & {PW{w[WB-1]}});
        mul_s = s;
    endfunction

    if (!USE_DSP) begin : g_lut
        for (genvar p = 0; p < PE; p++) begin : g_p
            for (genvar i = 0; i < SIMD; i++) begin : g_i
                if (ENC_K) begin : g_k
                    assign leaf[(p*SIMD + i)*PW +: PW] =
                        mul_k(w1[(p*SIMD + i)*WB +: WB], act1[i*ABITS +: ABITS]);
                end else begin : g_s
                    assign leaf[(p*SIMD + i)*PW +: PW] =
                        mul_s(w1[(p*SIMD + i)*WB +: WB], act1[i*ABITS +: ABITS]);
                end
            end
        end
    end else begin : g_dsp
        for (genvar i = 0; i < SIMD; i++) begin : g_i
            for (genvar g = 0; g < NG; g++) begin : g_g
                localparam int NL = PE - g*LANES < LANES ? PE - g*LANES : LANES;
                localparam int BW = (NL - 1)*STEP + WBITS;   // packed operand
                localparam int TW = (NL - 1)*STEP + S;       // packed product
                logic [ABITS-1:0] a;
                logic [BW-1:0] bpk;
                logic [TW-1:0] cpk, m_q, c_q, p_q;
                logic [NL-1:0] lsb, lsb_q, lsb_qq;
                assign a = act1[i*ABITS +: ABITS];
                always_comb begin
                    logic [WBITS-1:0] kj;
                    bpk = '0;
                    cpk = '0;
                    for (int j = 0; j < NL; j = j + 1) begin
                        kj = w1[((g*LANES + j)*SIMD + i)*WB +: WBITS];
                        lsb[j] = a[0] & kj[0];
                        if (CORR && j > 0) begin
                            // LSB left out of the multiply, the rest of a*k_j[0] through C
                            if (kj[0]) cpk = cpk | (TW'(a >> 1) << (j*STEP + 1));
                            kj[0] = 1'b0;
                        end
                        // OR, not a part-select assignment: at ABITS 1 a field is WBITS bits
                        // (S = WBITS, STEP = WBITS-1), so k_j's cleared LSB shares its bit with
                        // k_(j-1)'s MSB, which an assignment to bpk[j*STEP +: WBITS] would clear
                        bpk = bpk | (BW'(kj) << (j*STEP));
                    end
                end
                always_ff @(posedge clk) begin
                    if (en) begin
                        m_q <= TW'(a * bpk);
                        c_q <= cpk;
                        p_q <= m_q + c_q;
                        lsb_q <= lsb;
                        lsb_qq <= lsb_q;
                    end
                end
                for (genvar j = 0; j < NL; j++) begin : g_x
                    if (CORR && j > 0) begin : g_rep
                        assign leaf[((g*LANES + j)*SIMD + i)*PW +: PW] =
                            {p_q[j*STEP + 1 +: S - 1], lsb_qq[j]};
                    end else begin : g_cut
                        assign leaf[((g*LANES + j)*SIMD + i)*PW +: PW] = p_q[j*STEP +: S];
                    end
                end
            end
        end
    end

    // ---------------------------------------------------------------- adder trees over SIMD
    // registered after every odd level and at the root (TS stages; a lone LUT product, SIMD 1,
    // is registered as the root). Tree p < PE: lane p's products. Tree PE ("k"): the codes of
    // each input beat as it is written into the buffer, taken from s_axis_tdata and timed so
    // that a vector's correction reaches the accumulators with its fold 0's first beat.
    logic [PE*R-1:0] root;                // lane p's beat sum (mod 2^R) at [p*R +: R], stage ROOT
    logic [R-1:0] sum_a;                  // "k": sum of an input beat's codes, stage AD
    logic [AD:1] av, af, al;              // "k": that beat's flags: valid, first and last beat

    if (ENC_K) begin : g_aflags
        always_ff @(posedge clk) begin
            if (en) begin
                av[1] <= fill;
                af[1] <= ws == '0;
                al[1] <= ws == SW'(SF - 1);
                for (int d = 2; d <= AD; d = d + 1) begin
                    av[d] <= av[d-1];
                    af[d] <= af[d-1];
                    al[d] <= al[d-1];
                end
            end
            if (rst) av <= '0;
        end
    end else begin : g_noaflags
        assign av = '0;
        assign af = '0;
        assign al = '0;
    end

    for (genvar t = 0; t < NT; t++) begin : g_tree
        localparam bit IS_A = t == PE;
        localparam logic [63:0] TMAX = IS_A ? LA : PMAX;
        localparam int SG = (!IS_A && !ENC_K) ? 1 : 0;
        localparam int W0 = lvl_w(TMAX, SG, 0);
        localparam int WR = lvl_w(TMAX, SG, LEVELS);
        localparam int OR_ = lvl_off(TMAX, SG, LEVELS);
        localparam int TOT = lvl_off(TMAX, SG, LEVELS + 1);
        wire [TOT-1:0] tv;
        if (IS_A) begin : g_la
            assign tv[0 +: SIMD*W0] = s_axis_tdata;
        end else begin : g_lp
            assign tv[0 +: SIMD*W0] = leaf[t*SIMD*PW +: SIMD*PW];
        end
        for (genvar l = 1; l <= LEVELS; l++) begin : g_l
            localparam int NP = nodes(l - 1);
            localparam int N = nodes(l);
            localparam int WP = lvl_w(TMAX, SG, l - 1);
            localparam int WL = lvl_w(TMAX, SG, l);
            localparam int OP = lvl_off(TMAX, SG, l - 1);
            localparam int OL = lvl_off(TMAX, SG, l);
            wire [N*WL-1:0] s;
            for (genvar n = 0; n < N; n++) begin : g_n
                wire [WL-1:0] x, y;
                if (SG != 0) begin : g_s
                    assign x = WL'($signed(tv[OP + 2*n*WP +: WP]));
                    if (2*n + 1 < NP) begin : g_y
                        assign y = WL'($signed(tv[OP + (2*n + 1)*WP +: WP]));
                    end else begin : g_0
                        assign y = '0;
                    end
                end else begin : g_u
                    assign x = WL'(tv[OP + 2*n*WP +: WP]);
                    if (2*n + 1 < NP) begin : g_y
                        assign y = WL'(tv[OP + (2*n + 1)*WP +: WP]);
                    end else begin : g_0
                        assign y = '0;
                    end
                end
                assign s[n*WL +: WL] = x + y;
            end
            if (l % 2 == 1 || l == LEVELS) begin : g_r
                logic [N*WL-1:0] r;
                always_ff @(posedge clk) begin
                    if (en) r <= s;
                end
                assign tv[OL +: N*WL] = r;
            end else begin : g_c
                assign tv[OL +: N*WL] = s;
            end
        end
        // the root, extended to R bits (mod 2^R), with the stages its path still needs
        wire [R-1:0] rv;
        if (SG != 0) begin : g_rs
            assign rv = R'($signed(tv[OR_ +: WR]));
        end else begin : g_ru
            assign rv = R'(tv[OR_ +: WR]);
        end
        localparam int DLY = IS_A ? AD - TS : (!USE_DSP && LEVELS == 0) ? 1 : 0;
        if (DLY > 0) begin : g_d
            logic [R-1:0] d [DLY];
            always_ff @(posedge clk) begin
                if (en) begin
                    d[0] <= rv;
                    for (int k = 1; k < DLY; k = k + 1) d[k] <= d[k-1];
                end
            end
            if (IS_A) begin : g_ra
                assign sum_a = d[DLY-1];
            end else begin : g_rl
                assign root[t*R +: R] = d[DLY-1];
            end
        end else begin : g_nod
            if (IS_A) begin : g_ra
                assign sum_a = rv;
            end else begin : g_rl
                assign root[t*R +: R] = rv;
            end
        end
    end
    if (!ENC_K) begin : g_nosum
        assign sum_a = '0;
    end

    // ---------------------------------------------------------------- "k": the correction
    // per vector: nc = -(2^WBITS-1) * sum a (mod 2^R), one register per vector parity. A
    // vector's nc is visible ROOT + 1 cycles after its last input beat is written, exactly when
    // the first beat of its fold 0 (issued the next cycle at the earliest) reaches the
    // accumulators; the next vector of the same parity cannot be complete before that vector's
    // last fold has started, so nc is never overwritten before its last use (all counts in
    // enabled cycles: the input stops with the pipeline).
    logic [2*R-1:0] nc;                   // vector parity v at [v*R +: R]
    if (ENC_K) begin : g_nc
        logic [R-1:0] asum;
        logic adone, fpar;
        always_ff @(posedge clk) begin
            if (en) begin
                if (av[AD]) asum <= (af[AD] ? R'(0) : asum) + sum_a;
                adone <= av[AD] && al[AD];
                if (adone) begin
                    nc[fpar*R +: R] <= asum - (asum << WBITS);
                    fpar <= !fpar;
                end
            end
            if (rst) begin
                adone <= 1'b0;
                fpar <= 1'b0;
            end
        end
    end else begin : g_nonc
        assign nc = '0;
    end

    // ---------------------------------------------------------------- accumulators
    // "k": acc = nc + sum 2*(k*a) = sum w*a; "signed": acc = sum w*a (both mod 2^R: exact,
    // |acc| < 2^(R-1)). The restart value costs nothing: the LUT that selects restart or
    // feedback is the adder's own.
    logic [PE*R-1:0] acc;
    logic [PE*ACC_BITS-1:0] result;       // the finished fold, sign-extended lanes

    always_ff @(posedge clk) begin
        if (en) begin
            if (pv[ROOT]) begin
                // the first beat of a fold restarts the sums
                for (int p = 0; p < PE; p = p + 1)
                    acc[p*R +: R] <= (pf[ROOT] ? nc[pp[ROOT]*R +: R] : acc[p*R +: R])
                                     + (ENC_K ? root[p*R +: R] << 1 : root[p*R +: R]);
            end
            done <= pv[ROOT] && pl[ROOT];
        end
        if (rst) done <= 1'b0;
    end

    always_comb begin
        for (int p = 0; p < PE; p = p + 1)
            result[p*ACC_BITS +: ACC_BITS] = ACC_BITS'($signed(acc[p*R +: R]));
    end

    // ---------------------------------------------------------------- output registers
    if (OUT_DEPTH == 1) begin : g_out1
        always_ff @(posedge clk) begin
            if (m_axis_tvalid && m_axis_tready) m_axis_tvalid <= 1'b0;
            if (en && done) begin
                // never full here: en is low while a finished fold waits for a full register
                m_axis_tdata <= result;
                m_axis_tvalid <= 1'b1;
            end
            if (rst) m_axis_tvalid <= 1'b0;
        end
        assign full = m_axis_tvalid;
    end else begin : g_out2
        // two registers in turn: one output per cycle with a registered stop
        logic [PE*ACC_BITS-1:0] ob0, ob1;
        logic wp, rp;
        logic [1:0] cnt;
        logic wr, rd;
        assign wr = en && done;
        assign rd = m_axis_tvalid && m_axis_tready;
        always_ff @(posedge clk) begin
            if (wr) begin
                if (wp) ob1 <= result;
                else ob0 <= result;
                wp <= !wp;
            end
            if (rd) rp <= !rp;
            cnt <= cnt + 2'(wr) - 2'(rd);
            if (rst) begin
                wp <= 1'b0;
                rp <= 1'b0;
                cnt <= '0;
            end
        end
        assign m_axis_tvalid = cnt != '0;
        assign m_axis_tdata = rp ? ob1 : ob0;
        assign full = cnt == 2'd2;
    end
endmodule

`resetall
