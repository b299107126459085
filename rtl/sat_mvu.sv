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
// MULT "lut": the products are shift-and-add logic (sat_mvu_lut). MULT "dsp" (ENCODING "k" only):
// the products of one column (one activation a) and LANES rows share one wide multiply
// a * (k_0 + k_1*2^o_1 + ...) on a DSP_A_W x DSP_B_W signed multiplier (27 x 18: DSP48E2,
// 25 x 18: DSP48E1), fields never carrying into each other, with DSP_OVERLAP a one-bit overlap
// made exact by a known LSB (sat_mvu_dsp). Products per multiply on DSP48E2 (DSP48E1): 2x2 bits
// 9 (8), 3x3 5 (5), 4x4 4 (3), 8x8 2 (2). The adder trees over SIMD: sat_mvu_tree.
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
    localparam int FW = NF > 1 ? $clog2(NF) : 1;
    localparam int SW = SF > 1 ? $clog2(SF) : 1;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int UA = DSP_A_W - 1;                        // unsigned bits of the wide port
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
    // MULT "lut": shift-and-add of the stage-1 operands, not registered (sat_mvu_lut: ABC merges
    // each product with the first adder level). MULT "dsp": slices of the packed multiplies,
    // registered twice (sat_mvu_dsp: multiply, stage 2; post-add, stage 3).
    logic [PE*SIMD*PW-1:0] leaf;          // product of lane (p, i) at [(p*SIMD + i)*PW +: PW]

    if (!USE_DSP) begin : g_lut
        sat_mvu_lut #(
            .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .ABITS(ABITS), .ENCODING(ENCODING)
        ) u_mul (
            .w(w1), .a(act1), .prod(leaf)
        );
    end else begin : g_dsp
        sat_mvu_dsp #(
            .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .ABITS(ABITS), .DSP_A_W(DSP_A_W),
            .DSP_B_W(DSP_B_W), .DSP_OVERLAP(DSP_OVERLAP)
        ) u_mul (
            .clk(clk), .en(en), .w(w1), .act(act1), .prod(leaf)
        );
    end

    // ---------------------------------------------------------------- adder trees over SIMD
    // sat_mvu_tree: registered after every odd level and at the root (TS stages; a lone LUT
    // product, SIMD 1, is registered as the root). g_tree[p]: lane p's products. g_atree ("k"):
    // the codes of each input beat as it is written into the buffer, taken from s_axis_tdata and
    // timed so that a vector's correction reaches the accumulators with its fold 0's first beat.
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

    // lane p's products, at stage ROOT (MULT "lut", SIMD 1: one register after the product)
    for (genvar p = 0; p < PE; p++) begin : g_tree
        sat_mvu_tree #(
            .N(SIMD), .VMAX(PMAX), .SIGNED(!ENC_K), .R(R),
            .DELAY((!USE_DSP && LEVELS == 0) ? 1 : 0)
        ) u_tree (
            .clk(clk), .en(en), .x(leaf[p*SIMD*PW +: SIMD*PW]), .y(root[p*R +: R])
        );
    end
    // "k": an input beat's codes, at stage AD (the trees' TS stages and AD - TS more)
    if (ENC_K) begin : g_atree
        sat_mvu_tree #(
            .N(SIMD), .VMAX(LA), .SIGNED(1'b0), .R(R), .DELAY(AD - TS)
        ) u_tree (
            .clk(clk), .en(en), .x(s_axis_tdata), .y(sum_a)
        );
    end else begin : g_nosum
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
