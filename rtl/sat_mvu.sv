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
// Weights: one memory, depth (MH/PE)*(MW/SIMD), word f*(MW/SIMD) + s, lane (p, i) at
// [(p*SIMD + i)*WB +: WB] (sat_hw.codegen.layout.mvu_rom). MEM_STYLE (the plan's
// [fold.<layer>] mem) places it: "auto" a ROM ($readmemh WEIGHT_FILE) where the tool decides
// (no attribute), "lut" distributed ROM, "bram" block RAM ROM, "uram" UltraRAM and "external"
// block RAM, both written at run time through wl_we/wl_addr/wl_data (sat_wload; no init file,
// WEIGHT_FILE unread) before the first input beat; every style but "auto" is a sat_wmem.
// ENCODING "signed" stores the odd weight w in WB = WBITS+1 bits, taken as u = w + 2^WBITS (its
// sign bit flipped); ENCODING "k" stores SAT's code u = k = (w + 2^WBITS-1)/2 in WB = WBITS
// bits. Every product is then an unsigned one, and sum w*a = (sum u*a << SH) - M*sum a, SH 1
// and M 2^WBITS-1 ("k"), SH 0 and M 2^WBITS ("signed"). One adder tree, shared by all PE lanes,
// sums each input beat's codes as it arrives; at the end of the vector nc = -M*sum a is the
// value every lane's accumulator restarts from (instead of 0) in each fold, so the correction
// costs no per-lane logic.
//
// MULT "lut": each product is WB partial products (a if bit b of u, shifted by b; sat_mvu_lut)
// and one adder tree per lane sums the beat's SIMD*WB of them. MULT "dsp" (ENCODING "k" only):
// the products of one column (one activation a) and LANES rows share one wide multiply
// a * (k_0 + k_1*2^o_1 + ...) on a DSP_A_W x DSP_B_W signed multiplier (27 x 18: DSP48E2,
// 25 x 18: DSP48E1), fields never carrying into each other, with DSP_OVERLAP a one-bit overlap
// made exact by a known LSB (sat_mvu_dsp). Products per multiply on DSP48E2 (DSP48E1): 2x2 bits
// 9 (8), 3x3 5 (5), 4x4 4 (3), 8x8 2 (2); then one adder tree per lane over its SIMD products.
// The adder trees: sat_mvu_tree.
//
// Dataflow: a vector buffer holds one input vector; every fold (MH/PE of them) replays it, one
// beat per cycle. The next vector's beat s is written once the last fold has read entry s (in
// the same cycle at the earliest), so the next vector is complete as the last fold ends and
// vectors run back to back. The buffer has two halves of 2^ceil(log2(MW/SIMD)) words, one per
// vector parity, so that write never lands on the entry being read (no collision logic after a
// block RAM: sat_hw.tools.ecp5pack can then take the read's second register into the DP16KD's
// output register). The first vector after
// reset (or after a gap) is buffered whole before its fold 0 starts.
// Pipeline, free running (no register of the data path has a stall enable; m_axis_tready reaches
// no register of the data path), stages counted from the cycle a beat issues (0: its ROM word
// and buffer entry in the counters):
//   1         the ROM address (a copy of the word counter, so that no logic precedes the ROM
//             read) and the buffer entry (the buffer's registered read);
//   2         the ROM word, read at that address register (block RAM or distributed ROM);
//   3         the ROM word and the codes registered again, so no logic follows a memory read
//             (on ECP5 sat_hw.tools.ecp5pack makes this the DP16KD's output register);
//   4         and a third time, in the fabric: a wide ROM word's block RAMs lie far from the
//             lanes, and this register splits that route;
//   MULT "lut": 5..4+TS  the adder tree over the SIMD*WB partial products, the mask in the first
//             level's LUT, registered after level 1 and then every 2 levels and at the root
//             (TS = floor(L/2) + 1 stages, L = ceil(log2(SIMD*WB)) levels; a lone partial
//             product, SIMD*WB = 1, is registered once: TS 1);
//   MULT "dsp": 5 the multiplier's operands (the DSP's A/B registers, one copy per multiply),
//             6 the product (M), 7 the post-adder (P, the LSB repair through C), then
//             8..7+TS the adder tree over the SIMD products (TS stages as above, 0 for SIMD 1);
//   ROOT+1    the accumulators (ROOT = 4 + TS, or 7 + TS), restarting at nc with each fold;
//   output    sat_outq: a sat_fifo of QD beats and QD credits. A beat issues only while a
//             credit is free (sat_outq's registered `credit`), and the last beat of a fold takes
//             one, so the queue always has room for what the pipeline holds; backpressure stops
//             the issue (and, once the buffer is full, the input), never a pipeline register.
// The code sum ("k" and "signed"): the input beat registered (when the tree has a stage to
// spare, else the tree's first level takes s_axis_tdata), a tree over SIMD (TSA stages),
// delayed to stage ROOT - 1 after the beat's write, accumulated per vector, times -M per vector.
// Throughput: one beat per cycle, cycles per vector (MH/PE)*(MW/SIMD) exactly in free flow.
// QD = max(3, ceil(LAT/(MW/SIMD)) + 1) credits keep it so (a credit taken in cycle t is free
// again in t + LAT + 1, and output beats are MW/SIMD cycles apart).
// Latency: when a fold's last beat issues in cycle n, its output beat is offered in cycle
// n + LAT, LAT = ROOT + 3: MULT "lut" 7 + TS, MULT "dsp" 10 + TS (sat_hw.hw.cycles.mvu_latency);
// e.g. SIMD 8 W4A4: "lut" TS 3 (32 partial products), LAT 10; "dsp" TS 2, LAT 12.
// Free flowing, first input beat (cycle 0) to first output beat: 2*(MW/SIMD) - 1 + LAT cycles;
// the last output of a vector leaves (MH/PE - 1)*(MW/SIMD) cycles after its first.
// Longest register-to-register path: two adder levels of a tree (a LUT and a carry chain each,
// the first LUT also masking the partial product), the accumulator's select and add (a carry
// chain of R bits), or the issue control (s_axis_tready: the buffer's `sf >= ws` compare, the
// credit and two flags; at most 4 LUT levels on xcup). The DSP's A/B, M and P registers pack
// into a DSP48E1 with Yosys (synth_xilinx -family xc7); Yosys 0.70 packs no DSP48E2 register
// (xcu/xcup: its xilinx_dsp matches DSP48E1 cells only), so there the multiply shows as a
// combinational DSP between the fabric's operand and product registers.
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
    parameter bit          DSP_OVERLAP = 1'b1,    // MULT "dsp": one-bit field overlap, LSB repair
    parameter logic [63:0] MEM_STYLE = "auto"     // "auto", "lut", "bram", "uram", "external"
) (
    input  wire logic                     clk,
    input  wire logic                     rst,
    // run-time weights (MEM_STYLE "uram", "external"; unread otherwise): word wl_addr := wl_data
    input  wire logic                     wl_we,
    input  wire logic [31:0]              wl_addr,
    input  wire logic [PE*SIMD*(ENCODING == 64'("k") ? WBITS : WBITS + 1)-1:0] wl_data,
    input  wire logic [SIMD*ABITS-1:0]    s_axis_tdata,
    input  wire logic                     s_axis_tvalid,
    output logic                          s_axis_tready,
    output logic [PE*ACC_BITS-1:0]        m_axis_tdata,
    output logic                          m_axis_tvalid,
    input  wire logic                     m_axis_tready
);
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
    localparam int R = $clog2(BOUND + 64'd1) + 1;           // exact signed result width
    localparam int SH = ENC_K ? 1 : 0;                      // sum w*a = (sum u*a << SH) - M*sum a
    localparam int TW = ABITS + WB - 1;                     // MULT "lut": partial product bits
    localparam logic [63:0] TMAX = LA << (WB - 1);          // its max
    localparam int PW = $clog2(PMAX + 64'd1);               // MULT "dsp": product bits
    // adder trees (sat_mvu_tree, L levels, floor(L/2) + 1 stages, none for one value): MULT
    // "lut" over each lane's SIMD*WB partial products, MULT "dsp" over its SIMD products
    localparam int NT = USE_DSP ? SIMD : SIMD * WB;         // values per lane's tree
    localparam int LT = $clog2(NT);
    localparam int TS = LT == 0 ? 0 : LT / 2 + 1;           // its stages
    localparam int LS = $clog2(SIMD);
    localparam int TSA = LS == 0 ? 0 : LS / 2 + 1;          // stages of the code-sum tree
    localparam int TD = !USE_DSP && TS == 0 ? 1 : 0;        // a lone partial product: registered
    localparam int ROOT = (USE_DSP ? 7 : 4) + TS + TD;      // stage of the lanes' beat sums
    localparam int AD = ROOT - 1;                           // stages of the code-sum path
    localparam int AIN = AD - TSA >= 2 ? 1 : 0;             // the input beat registered for it
    localparam int LAT = ROOT + 3;                          // issue to offer (header: Latency)
    localparam int QD = (LAT + SF - 1) / SF + 1 < 3 ? 3 : (LAT + SF - 1) / SF + 1;  // credits
    localparam int FW = NF > 1 ? $clog2(NF) : 1;
    localparam int SW = SF > 1 ? $clog2(SF) : 1;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int UA = DSP_A_W - 1;                        // unsigned bits of the wide port
    localparam bit STYLED = MEM_STYLE != 64'("auto");       // the weights in a sat_wmem

    // elaboration checks: $error with a constant message (Yosys prints neither a %0d nor the
    // message of a $fatal; Verilator and, by IEEE 1800-2017 20.11, Vivado print it too)
    if (MH < 1 || PE < 1 || MH % PE != 0) begin : g_err_pe
        $error("sat_mvu: PE must divide MH");
    end
    if (MW < 1 || SIMD < 1 || MW % SIMD != 0) begin : g_err_simd
        $error("sat_mvu: SIMD must divide MW");
    end
    if (WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err_bits
        $error("sat_mvu: WBITS and ABITS must be 1..8");
    end
    if (!ENC_K && ENCODING != 64'("signed")) begin : g_err_enc
        $error("sat_mvu: ENCODING must be \"k\" or \"signed\"");
    end
    if (!USE_DSP && MULT != 64'("lut")) begin : g_err_mult
        $error("sat_mvu: MULT must be \"lut\" or \"dsp\"");
    end
    if (USE_DSP && !ENC_K) begin : g_err_dsp
        $error("sat_mvu: MULT \"dsp\" packs unsigned k codes: it needs ENCODING \"k\"");
    end
    if (USE_DSP && (UA < WBITS || DSP_B_W <= ABITS)) begin : g_err_port
        $error("sat_mvu: DSP_A_W/DSP_B_W too narrow for WBITS/ABITS");
    end
    if (ACC_BITS < NEED || BOUND >= 64'd1 << 60) begin : g_err_acc
        $error("sat_mvu: ACC_BITS below acc_bits_for(MW*(2^WBITS-1)*(2^ABITS-1))");
    end
    if (MEM_STYLE != 64'("auto") && MEM_STYLE != 64'("lut") && MEM_STYLE != 64'("bram")
            && MEM_STYLE != 64'("uram") && MEM_STYLE != 64'("external")) begin : g_err_mem
        $error("sat_mvu: MEM_STYLE must be \"auto\", \"lut\", \"bram\", \"uram\" or \"external\"");
    end

    // ---------------------------------------------------------------- vector buffer, issue
    // The buffer holds one vector. The filler writes entry ws of the next vector once the
    // held vector's last fold has read entry ws (or reads it in the same cycle: the read is
    // registered, old data), so the next vector is complete when the last fold ends. A beat
    // issues only while a credit is free; the last beat of a fold takes one.
    logic credit;                // sat_outq: a credit is free (a register)
    logic held;                  // the buffer holds a complete vector not yet fully issued
    logic issue;                 // a beat enters stage 1
    logic take;                  // the last beat of a fold issues: it takes a credit
    logic fill;                  // an input beat is written into the buffer
    logic [SW-1:0] ws;           // entry the next input beat goes to
    logic wl;                    // ws == SF - 1
    logic [FW-1:0] nf;           // fold of the next beat issued
    logic [SW-1:0] sf;           // its beat within the fold
    logic fl, sl;                // nf == NF - 1, sf == SF - 1
    logic [AW-1:0] waddr;        // its ROM word
    logic cpar;                  // parity of the vector being issued
    logic wpar;                  // parity of the vector being filled (its buffer half)
    logic last_issue, last_fill;

    assign issue = held && credit;
    assign take = issue && sl;
    assign last_issue = take && fl;
    assign s_axis_tready = !held || (credit && fl && sf >= ws);
    assign fill = s_axis_tready && s_axis_tvalid;
    assign last_fill = fill && wl;

    always_ff @(posedge clk) begin
        if (fill) begin
            ws <= wl ? '0 : ws + 1'b1;
            wl <= SF == 1 || (!wl && ws == SW'(SF - 2));
        end
        if (issue) begin
            // next beat, next fold, next vector (the ROM word wraps with the vector)
            waddr <= last_issue ? '0 : waddr + 1'b1;
            sf <= sl ? '0 : sf + 1'b1;
            sl <= SF == 1 || (!sl && sf == SW'(SF - 2));
            if (sl) begin
                nf <= fl ? '0 : nf + 1'b1;
                fl <= NF == 1 || (!fl && nf == FW'(NF - 2));
            end
        end
        if (last_issue) cpar <= !cpar;
        if (last_fill) wpar <= !wpar;
        // the held vector ends with its last beat; a completed fill is the next one
        held <= (held && !last_issue) || last_fill;
        if (rst) begin
            ws <= '0;
            wl <= SF == 1;
            waddr <= '0;
            sf <= '0;
            sl <= SF == 1;
            nf <= '0;
            fl <= NF == 1;
            cpar <= 1'b0;
            wpar <= 1'b0;
            held <= 1'b0;
        end
    end

    // ---------------------------------------------------------------- stage 1: operands
    // Free running from here on: no register of the data path has an enable.
    logic [SIMD*ABITS-1:0] act0, act1, act2, act3;  // the beat's codes (stages 1..4)
    logic [AW-1:0] raddr;                 // its ROM word (stage 1)
    logic [PE*SIMD*WB-1:0] w1, w2, w3;    // its weights (stages 2, 3, 4)
    // The buffer has two halves (entry {parity, beat}): the vector being filled writes one while
    // the held vector is read from the other, so a write and a read that is used never meet at
    // one address (no_rw_check: Yosys adds no collision logic after the block RAM's output).
    (* no_rw_check *) logic [SIMD*ABITS-1:0] vbuf [0:(2 << SW)-1];

    // The weights, read at raddr: MEM_STYLE "auto" (no attribute: the tool decides) reads `rom`
    // into w1 in the process below, as before the other styles, so its netlist is unchanged
    // (Yosys's LUT mapping follows the order in which it meets processes, and it meets those of
    // generate blocks and submodules later). Every other style is a sat_wmem, whose registered
    // word (stage 2, like w1) goes on to w2; `rom` is then unread and removed.
    logic [PE*SIMD*WB-1:0] rom [0:DEPTH-1];
    if (!STYLED) begin : g_rom
        initial $readmemh(WEIGHT_FILE, rom);
    end
    logic [PE*SIMD*WB-1:0] w1s;           // sat_wmem's word at raddr, registered (stage 2)
    if (STYLED) begin : g_wmem
        sat_wmem #(
            .DEPTH(DEPTH), .WIDTH(PE*SIMD*WB), .WEIGHT_FILE(WEIGHT_FILE), .MEM_STYLE(MEM_STYLE)
        ) u_wmem (
            .clk(clk), .raddr(raddr), .rdata(w1s),
            .we(wl_we), .waddr(wl_addr[AW-1:0]), .wdata(wl_data)
        );
    end else begin : g_rom_auto
        assign w1s = '0;
    end

    always_ff @(posedge clk) begin
        if (fill) vbuf[{wpar, ws}] <= s_axis_tdata;
        raddr <= waddr;
        w1 <= rom[raddr];
        w2 <= STYLED ? w1s : w1;
        w3 <= w2;
        act0 <= vbuf[{cpar, sf}];
        act1 <= act0;
        act2 <= act1;
        act3 <= act2;
    end

    // beat flags along the pipeline: valid, first and last beat of a fold, vector parity
    logic [ROOT:1] pv, pf, pl, pp;
    always_ff @(posedge clk) begin
        pv[1] <= issue;
        pf[1] <= sf == '0;
        pl[1] <= sl;
        pp[1] <= cpar;
        for (int d = 2; d <= ROOT; d++) begin
            pv[d] <= pv[d-1];
            pf[d] <= pf[d-1];
            pl[d] <= pl[d-1];
            pp[d] <= pp[d-1];
        end
        if (rst) pv <= '0;
    end

    // ---------------------------------------------------------------- products, adder trees
    // MULT "lut": each lane's SIMD*WB partial products (sat_mvu_lut, the mask merges with the
    // tree's first level) summed by one tree; MULT "dsp": the packed multiplies (sat_mvu_dsp,
    // three registers: stages 2..4), then a tree over SIMD. Root: lane p's sum u*a of the beat
    // (mod 2^R) at stage ROOT.
    logic [PE*R-1:0] root;
    if (!USE_DSP) begin : g_lut
        logic [PE*NT*TW-1:0] terms;
        sat_mvu_lut #(
            .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .ABITS(ABITS), .ENCODING(ENCODING)
        ) u_mul (
            .w(w3), .a(act3), .pp(terms)
        );
        for (genvar p = 0; p < PE; p++) begin : g_tree
            sat_mvu_tree #(.N(NT), .VMAX(TMAX), .SIGNED(1'b0), .R(R), .DELAY(TD)) u_tree (
                .clk(clk), .en(1'b1), .x(terms[p*NT*TW +: NT*TW]), .y(root[p*R +: R])
            );
        end
    end else begin : g_dsp
        logic [PE*SIMD*PW-1:0] prod;      // product of lane (p, i) at [(p*SIMD + i)*PW +: PW]
        sat_mvu_dsp #(
            .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .ABITS(ABITS), .DSP_A_W(DSP_A_W),
            .DSP_B_W(DSP_B_W), .DSP_OVERLAP(DSP_OVERLAP)
        ) u_mul (
            .clk(clk), .w(w3), .act(act3), .prod(prod)
        );
        for (genvar p = 0; p < PE; p++) begin : g_tree
            sat_mvu_tree #(.N(SIMD), .VMAX(PMAX), .SIGNED(1'b0), .R(R), .DELAY(0)) u_tree (
                .clk(clk), .en(1'b1), .x(prod[p*SIMD*PW +: SIMD*PW]), .y(root[p*R +: R])
            );
        end
    end

    // ---------------------------------------------------------------- the correction
    // per vector: nc = -M * sum a (mod 2^R), M = 2^WBITS-1 ("k") or 2^WBITS ("signed"), from
    // the codes of each input beat as it is written into the buffer: registered (AIN, stage 1),
    // summed by a tree (TSA stages) and delayed to stage AD = ROOT - 1, accumulated over the
    // vector, then nc, one register per vector parity. A vector's nc is visible ROOT + 1
    // cycles after its last input beat is written, exactly when the first beat of its fold 0
    // (issued the next cycle at the earliest) reaches the accumulators; the next vector of the
    // same parity cannot be complete before that vector's last fold has started, so nc is never
    // overwritten before its last use.
    logic [SIMD*ABITS-1:0] ain;           // the input beat, registered
    logic [AD:1] av, af, al;              // its flags: valid, first and last beat of a vector
    logic [R-1:0] sum_a;                  // its codes' sum, stage AD
    logic [2*R-1:0] nc;                   // vector parity v at [v*R +: R]
    logic [R-1:0] asum;
    logic adone, fpar;

    always_ff @(posedge clk) begin
        ain <= s_axis_tdata;
        av[1] <= fill;
        af[1] <= ws == '0;
        al[1] <= wl;
        for (int d = 2; d <= AD; d++) begin
            av[d] <= av[d-1];
            af[d] <= af[d-1];
            al[d] <= al[d-1];
        end
        if (av[AD]) asum <= (af[AD] ? R'(0) : asum) + sum_a;
        adone <= av[AD] && al[AD];
        if (adone) begin
            nc[fpar*R +: R] <= ENC_K ? asum - (asum << WBITS) : R'(0) - (asum << WBITS);
            fpar <= !fpar;
        end
        if (rst) begin
            av <= '0;
            adone <= 1'b0;
            fpar <= 1'b0;
        end
    end

    sat_mvu_tree #(.N(SIMD), .VMAX(LA), .SIGNED(1'b0), .R(R), .DELAY(AD - AIN - TSA)) u_atree (
        .clk(clk), .en(1'b1), .x(AIN != 0 ? ain : s_axis_tdata), .y(sum_a)
    );

    // ---------------------------------------------------------------- accumulators
    // acc = nc + (sum u*a << SH) = sum w*a (mod 2^R: exact, |acc| < 2^(R-1)). The restart value
    // costs nothing: the LUT that selects restart or feedback is the adder's own.
    logic [PE*R-1:0] acc;
    logic done;                           // acc holds a finished fold
    logic [PE*ACC_BITS-1:0] result;       // the finished fold, sign-extended lanes

    always_ff @(posedge clk) begin
        if (pv[ROOT]) begin
            // the first beat of a fold restarts the sums
            for (int p = 0; p < PE; p = p + 1)
                acc[p*R +: R] <= (pf[ROOT] ? nc[pp[ROOT]*R +: R] : acc[p*R +: R])
                                 + (root[p*R +: R] << SH);
        end
        done <= pv[ROOT] && pl[ROOT];
        if (rst) done <= 1'b0;
    end

    always_comb begin
        for (int p = 0; p < PE; p = p + 1)
            result[p*ACC_BITS +: ACC_BITS] = ACC_BITS'($signed(acc[p*R +: R]));
    end

    // ---------------------------------------------------------------- output queue
    sat_outq #(.DATA_W(PE*ACC_BITS), .DEPTH(QD)) u_out (
        .clk(clk), .rst(rst), .credit(credit), .take(take),
        .s_data(result), .s_valid(done),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );
endmodule

`resetall
