`resetall
`timescale 1ns / 1ps
`default_nettype none

// Sliding-window generator. Input: a CH x IN_H x IN_W feature map in raster order, SIMD channels
// per beat (CH/SIMD beats per pixel), images back to back. Output: for each output pixel
// (oy, ox) in raster order and each channel group g in 0..CH/SIMD-1, one beat with the whole
// K x K window of channels g*SIMD .. g*SIMD+SIMD-1: element t*SIMD + c is the code at row
// oy*STRIDE-PAD + t/K, column ox*STRIDE-PAD + t%K, channel g*SIMD + c, or 0 outside the image.
// OUT_H = (IN_H + 2*PAD - K)/STRIDE + 1, OUT_W likewise.
//
// Row buffer: ROWS row slots, row a of the stream (counted across images) in slot a mod ROWS;
// each slot is K column banks (column mod K), each bank a simple dual-port memory of
// ceil(IN_W/K)*(CH/SIMD) words of SIMD*ELEM_W bits (word (x/K)*(CH/SIMD) + g) with a registered
// read (LUTRAM or BRAM). A window's K rows and K columns lie in K*K distinct banks, so one read
// of every bank gives a whole window each cycle; a row rotation (slot -> tap row) and a column
// rotation (bank -> tap column) order the words, and taps outside the image are zeroed.
//
// Flow control by whole rows, in two signed counters read by their sign bits (registers: no
// comparator before a decision). `avail` = rows written - rows the next window needs: a window
// issues while avail >= 0 and the output stage has room. `fm` = free row slots - 1: the writer
// claims the next row if a slot is free or one is released in the same cycle (no bubble); the
// reader releases, after an output row, the rows no later window of the image needs. What a
// new output row loads (releases, avail's drop, padding tap rows, last row) comes from constant
// tables indexed by the row counter; each bank's read address and padding flag step with the
// window by constants.
// Pipeline: issue (the bank address registers) -> the memories' read registers (q1: a block
// RAM's own, whose clock-to-out is slow, so nothing but a wire follows it) -> bank registers
// (q, zeroed where the slot or bank holds padding) -> row rotation, registered per tap row
// (row_q) -> column rotation -> output stage, a skid buffer (as sat_skid): the output register
// m_axis_tdata/tvalid and one parked beat. The register stages and the selects advance on `en`,
// the skid's registered "empty"; m_axis_tready reaches only the output stage (its enable, the
// skid's state, the column select register), never the window logic, and no input reaches an
// output combinationally. Why a skid and not sat_outq, the longest paths: docs/hardware.md.
//
// Timing (one beat per cycle on both sides when the neighbours allow):
//   latency, first input beat taken to first output beat: R*IN_W*CH/SIMD + 4 cycles, with
//   R = min(K-PAD, IN_H) the rows the first window needs, input one beat per cycle (pipeline:
//   the window issues the cycle after its last row is complete; issued in cycle t, offered in
//   cycle t + 4: read, bank, row and output registers, sat_hw.hw.cycles.pipe_delay 4);
//   cycles per image, back-to-back images in steady state: max(IN_H*IN_W, OUT_H*OUT_W)*CH/SIMD
//   with no fill (default ROWS = K + STRIDE: a row slot changes hands without a bubble);
//   s_axis_tready is low for the first cycle after reset.
module sat_swg #(
    parameter int CH = 8,              // channels; Requires CH % SIMD == 0
    parameter int IN_H = 8,            // input rows
    parameter int IN_W = 8,            // input columns
    parameter int K = 3,               // window size (K x K), >= 1
    parameter int STRIDE = 1,          // window step in rows and columns, >= 1
    parameter int PAD = 1,             // zero rows/columns on every side; Requires PAD < K
    parameter int SIMD = 1,            // channels per beat (a channel group)
    parameter int ELEM_W = 4,          // bits per code, >= 1
    parameter int ROWS = K + STRIDE    // row buffer depth in rows; Requires ROWS >= K
) (
    input  wire logic                         clk,
    input  wire logic                         rst,
    input  wire logic [SIMD*ELEM_W-1:0]       s_axis_tdata,
    input  wire logic                         s_axis_tvalid,
    output logic                              s_axis_tready,
    output logic [K*K*SIMD*ELEM_W-1:0]        m_axis_tdata,
    output logic                              m_axis_tvalid,
    input  wire logic                         m_axis_tready
);
    localparam int G = CH / SIMD;                              // channel groups per pixel
    localparam int OUT_H = (IN_H + 2 * PAD - K) / STRIDE + 1;
    localparam int OUT_W = (IN_W + 2 * PAD - K) / STRIDE + 1;
    localparam int WORD_W = SIMD * ELEM_W;                     // one bank word
    localparam int WIN_W = K * K * WORD_W;                     // one output beat
    localparam int NBLK = (IN_W + K - 1) / K;                  // column blocks per bank
    localparam int DEPTH = NBLK * G;                           // words per bank
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int GW = G > 1 ? $clog2(G) : 1;
    localparam int KW = K > 1 ? $clog2(K) : 1;
    localparam int RW = ROWS > 1 ? $clog2(ROWS) : 1;
    localparam int XW = $clog2(IN_W + 1);
    localparam int OXW = $clog2(OUT_W + 1);
    localparam int OYW = $clog2(OUT_H + 1);                    // output row, one ahead
    localparam int HW = $clog2(NBLK + 1) + 1;                  // signed blocks left in a bank
    localparam int CW = $clog2(IN_H + ROWS + K + 2) + 2;       // signed row counters
    localparam int M0_INIT = (K - PAD) % K;                    // x0 = -PAD: x0 mod K
    localparam int S_DIV = STRIDE / K, S_MOD = STRIDE % K;
    localparam int C0 = S_DIV * G - (G - 1);                   // bank address step to the next
    localparam int C1 = C0 + G;                                // window: its block + S_DIV or +1
    localparam int NEED0 = (K < IN_H + PAD ? K : IN_H + PAD) - PAD;  // rows window row 0 needs

    // ---- elaboration checks ----
    if (CH < 1 || SIMD < 1 || CH % SIMD != 0) begin : g_chk_simd
        $error("sat_swg: SIMD must divide CH");
    end
    if (K < 1 || STRIDE < 1 || ELEM_W < 1) begin : g_chk_k
        $error("sat_swg: K, STRIDE and ELEM_W must be >= 1");
    end
    if (PAD < 0 || PAD >= K) begin : g_chk_pad
        $error("sat_swg: PAD must be in 0..K-1");
    end
    if (IN_H + 2 * PAD < K || IN_W + 2 * PAD < K) begin : g_chk_size
        $error("sat_swg: the padded image must hold one window");
    end
    if (ROWS < K) begin : g_chk_rows
        $error("sat_swg: ROWS must be >= K");
    end

    // (a + c) mod ROWS, a in 0..ROWS-1: a table (no adder), one LUT per bit
    function automatic logic [RW-1:0] addmod(input logic [RW-1:0] a, input int c);
        addmod = '0;
        for (int v = 0; v < ROWS; v++)
            if (a == RW'(v)) addmod = RW'((v + c % ROWS) % ROWS);
    endfunction

    // (m + c) mod K, m in 0..K-1: a table
    function automatic logic [KW-1:0] kmod(input logic [KW-1:0] m, input int c);
        kmod = '0;
        for (int v = 0; v < K; v++)
            if (m == KW'(v)) kmod = KW'((v + c % K) % K);
    endfunction

    // Per output row o, what the reader loads when it moves to it: which = 0: rows released
    // after its last window - 1; 1: -(avail's drop at its end: hi(o+1) - hi(o), hi the last row
    // + 1 a window needs; after the image's last row, the rows left plus those the next image's
    // first window row needs); 2: it releases any; 3: the image's last; 4 + t: tap row t is
    // padding. Tables indexed by the row (row_tbl): no adder or compare after a row counter.
    function automatic int row_val(input int o, input int which);
        int y, lo, nxt, hi, room;
        logic last;
        y = o * STRIDE;                              // top row + PAD
        last = o == OUT_H - 1;
        lo = y > PAD ? y : PAD;
        nxt = y + STRIDE > PAD ? y + STRIDE : PAD;
        hi = y + K < IN_H + PAD ? y + K : IN_H + PAD;
        room = IN_H + PAD - K - y;
        case (which)
            0: row_val = (last ? IN_H + PAD - lo : nxt - lo) - 1;
            1: row_val = -(last ? IN_H + PAD - hi + NEED0
                                : room < 0 ? 0 : room > STRIDE ? STRIDE : room);
            2: row_val = (last ? IN_H + PAD - lo : nxt - lo) > 0 ? 1 : 0;
            3: row_val = last ? 1 : 0;
            default: row_val = !(y + which - 4 >= PAD && y + which - 4 < IN_H + PAD) ? 1 : 0;
        endcase
    endfunction

    // bit j of row_val(o, which) for o = 0..OUT_H (entry OUT_H unused)
    function automatic logic [OUT_H:0] row_tbl(input int which, input int j);
        for (int o = 0; o <= OUT_H; o++)
            row_tbl[o] = o < OUT_H ? 1'((row_val(o, which) >> j) & 1) : 1'b0;
    endfunction

    function automatic logic [K-1:0] row0_pad();
        for (int t = 0; t < K; t++) row0_pad[t] = row_val(0, 4 + t) != 0;
    endfunction

    localparam int REL0_M1 = row_val(0, 0), NDSUB0 = row_val(0, 1);  // row 0's entries
    localparam logic REL0_POS = row_val(0, 2) != 0;
    localparam logic [K-1:0] PAD0 = row0_pad();

    // ---- writer ----
    logic [GW-1:0] wg;        // channel group of the next input beat
    logic [XW-1:0] wx;        // its column
    logic wg_last, wx_last;   // wg == G-1, wx == IN_W-1
    logic w_end;              // both: the beat ends a row
    logic [K-1:0] wb;         // its column bank (wx mod K), one-hot
    logic [ROWS-1:0] ws;      // the row slot being written, one-hot
    logic [AW-1:0] waddr;     // its word: (wx / K) * G + wg

    logic wr, row_done, claim;
    logic signed [CW-1:0] fm;       // free row slots - 1 (slots claimed minus released)
    logic free;                     // fm >= 0: a slot is free
    // from the reader:
    logic step_row;                 // the last window of an output row issues now
    logic signed [CW-1:0] rel_m1;   // rows it releases - 1
    logic rel_pos;                  // it releases any

    assign wr = s_axis_tvalid && s_axis_tready;
    assign row_done = wr && w_end;
    assign free = !fm[CW-1];
    // claim the next row at the last beat of this one (or while idle) if a slot is free, or
    // one is released in this cycle (so a slot changes hands without a bubble)
    assign claim = (!s_axis_tready || row_done) && (free || (step_row && rel_pos));

    always_ff @(posedge clk) begin
        logic [CW:0] fm_sum;
        // fm + released - claimed, the claim as the carry in: fm + (rel - 1) + !claim
        fm_sum = {fm, 1'b1} + {step_row ? rel_m1 : {CW{1'b1}}, !claim};
        fm <= fm_sum[CW:1];
        if (claim) begin
            s_axis_tready <= 1'b1;
        end else if (row_done) begin
            // row complete and no free slot: wait for the reader
            s_axis_tready <= 1'b0;
        end
        if (wr) begin
            if (!wg_last) begin
                // next channel group of this pixel
                wg <= wg + 1'b1;
                wg_last <= int'(wg) == G - 2;
                w_end <= int'(wg) == G - 2 && wx_last;
                waddr <= waddr + 1'b1;
            end else if (!wx_last) begin
                // next column: the next bank, the next block after the last bank
                wg <= '0;
                wg_last <= G == 1;
                wx <= wx + 1'b1;
                wx_last <= int'(wx) == IN_W - 2;
                w_end <= G == 1 && int'(wx) == IN_W - 2;
                for (int b = 0; b < K; b++) wb[b] <= wb[(b + K - 1) % K];
                waddr <= waddr + (wb[K-1] ? AW'(1) : AW'(1 - G));
            end else begin
                // next row, next slot
                wg <= '0;
                wg_last <= G == 1;
                wx <= '0;
                wx_last <= IN_W == 1;
                w_end <= G == 1 && IN_W == 1;
                wb <= K'(1);
                waddr <= '0;
                for (int r = 0; r < ROWS; r++) ws[r] <= ws[(r + ROWS - 1) % ROWS];
            end
        end
        if (rst) begin
            fm <= CW'(ROWS - 1);
            s_axis_tready <= 1'b0;
            wg <= '0;
            wg_last <= G == 1;
            wx <= '0;
            wx_last <= IN_W == 1;
            w_end <= G == 1 && IN_W == 1;
            wb <= K'(1);
            waddr <= '0;
            ws <= ROWS'(1);
        end
    end

    // ---- reader ----
    logic en;                 // the output stage takes a beat: its skid is empty (a register)
    logic [GW-1:0] rg;        // channel group of the next window
    logic [OXW-1:0] ox;
    logic g_last, x_last;     // rg == G-1, ox == OUT_W-1
    logic r_end;              // both: the window ends an output row
    logic [KW-1:0] m0;        // left column mod K
    logic [OYW-1:0] on;       // the next output row (OUT_H after the last: unused)
    logic y_last;             // this output row is the image's last
    logic [K-1:0] vt;         // tap rows of this output row in the padding
    logic [RW-1:0] rs;        // slot of the top row
    logic [RW-1:0] rsi;       // slot of the next image's top row (row -PAD)
    logic signed [CW-1:0] avail;    // rows complete - rows the next window needs
    logic signed [CW-1:0] ndsub;    // -(drop of avail at the end of this output row)

    logic issue;
    // the tables' entries of output row `on`: rel - 1, -dsub, rel > 0, last, padding taps
    logic [CW-1:0] t_rel_m1, t_ndsub;
    logic t_rel_pos, t_last;
    logic [K-1:0] t_pad;
    for (genvar j = 0; j < CW; j++) begin : g_tbl_cw
        localparam logic [OUT_H:0] T_REL = row_tbl(0, j);
        localparam logic [OUT_H:0] T_DSUB = row_tbl(1, j);
        assign t_rel_m1[j] = T_REL[on];
        assign t_ndsub[j] = T_DSUB[on];
    end
    localparam logic [OUT_H:0] T_REL_POS = row_tbl(2, 0);
    localparam logic [OUT_H:0] T_LAST = row_tbl(3, 0);
    assign t_rel_pos = T_REL_POS[on];
    assign t_last = T_LAST[on];
    for (genvar t = 0; t < K; t++) begin : g_tbl_pad
        localparam logic [OUT_H:0] T_PAD = row_tbl(4 + t, 0);
        assign t_pad[t] = T_PAD[on];
    end

    assign issue = en && !avail[CW-1];
    assign step_row = issue && r_end;

    always_ff @(posedge clk) begin
        logic [CW:0] av_sum;
        // rows complete (+1 per row written) - rows needed (+ndsub at a row's end)
        av_sum = {avail, 1'b1} + {step_row ? ndsub : '0, row_done};
        avail <= av_sum[CW:1];
        if (issue) begin
            if (!g_last) begin
                // next channel group, same window
                rg <= rg + 1'b1;
                g_last <= int'(rg) == G - 2;
                r_end <= int'(rg) == G - 2 && x_last;
            end else begin
                rg <= '0;
                g_last <= G == 1;
                if (!x_last) begin
                    // window one STRIDE to the right
                    ox <= ox + 1'b1;
                    x_last <= int'(ox) == OUT_W - 2;
                    r_end <= G == 1 && int'(ox) == OUT_W - 2;
                    m0 <= kmod(m0, S_MOD);
                end else begin
                    ox <= '0;
                    x_last <= OUT_W == 1;
                    r_end <= G == 1 && OUT_W == 1;
                    m0 <= KW'(M0_INIT);
                    // window row one STRIDE down (row `on`), or the next image's row 0
                    if (y_last) begin
                        on <= OYW'(1);
                        y_last <= OUT_H == 1;
                        vt <= PAD0;
                        rel_m1 <= CW'(REL0_M1);
                        ndsub <= CW'(NDSUB0);
                        rel_pos <= REL0_POS;
                        rs <= rsi;
                        rsi <= addmod(rsi, IN_H);
                    end else begin
                        on <= on + 1'b1;
                        y_last <= t_last;
                        vt <= t_pad;
                        rel_m1 <= t_rel_m1;
                        ndsub <= t_ndsub;
                        rel_pos <= t_rel_pos;
                        rs <= addmod(rs, STRIDE);
                    end
                end
            end
        end
        if (rst) begin
            avail <= -CW'(NEED0);
            rg <= '0;
            g_last <= G == 1;
            ox <= '0;
            x_last <= OUT_W == 1;
            r_end <= G == 1 && OUT_W == 1;
            m0 <= KW'(M0_INIT);
            on <= OYW'(1);
            y_last <= OUT_H == 1;
            vt <= PAD0;
            rel_m1 <= CW'(REL0_M1);
            ndsub <= CW'(NDSUB0);
            rel_pos <= REL0_POS;
            rsi <= addmod('0, IN_H + ROWS - PAD);
            rs <= addmod('0, ROWS - PAD);
        end
    end

    // read address of each column bank (the window's column in it: block * G + group) and
    // whether that column is padding; stepped with the window, never computed from its position
    logic [K*AW-1:0] raddr;
    logic [K-1:0] zero_col;           // bank b holds no column of the window (padding): read 0
    for (genvar b = 0; b < K; b++) begin : g_bank
        localparam int R0 = (b + PAD) % K;          // the bank's tap column at x0 = -PAD
        localparam int B0 = R0 < PAD ? -1 : 0;      // the block of its column
        localparam int NB = b < IN_W ? (IN_W - b + K - 1) / K : 0;  // blocks of the image
        logic [AW-1:0] a;             // block * G + group (mod 2^AW)
        logic neg;                    // block < 0 (left of the image)
        logic signed [HW-1:0] hi;     // NB - 1 - block (< 0: right of the image)
        logic wrap;                   // the next window's column here is a block further
        always_comb begin
            // the bank's tap column (b - m0) mod K is below S_MOD: a table of m0
            wrap = 1'b0;
            for (int v = 0; v < K; v++)
                if (m0 == KW'(v) && (b - v + K) % K < S_MOD) wrap = 1'b1;
        end
        always_ff @(posedge clk) begin
            if (issue) begin
                if (!g_last) begin
                    a <= a + 1'b1;
                end else if (!x_last) begin
                    a <= a + (wrap ? AW'(C1) : AW'(C0));
                    neg <= neg && S_DIV == 0 && !wrap;
                    hi <= hi - (wrap ? HW'(S_DIV + 1) : HW'(S_DIV));
                end else begin
                    a <= AW'(B0 * G);
                    neg <= B0 < 0;
                    hi <= HW'(NB - 1 - B0);
                end
            end
            if (rst) begin
                a <= AW'(B0 * G);
                neg <= B0 < 0;
                hi <= HW'(NB - 1 - B0);
            end
        end
        assign raddr[b*AW +: AW] = a;
        assign zero_col[b] = neg || hi[HW-1];
    end

    // ---- row buffer: ROWS x K banks, read into registers, then registered again ----
    logic v1, vq, rd_valid;           // the read / bank / row registers hold a window
    logic [ROWS*K-1:0] zero1;         // bank (r, b) of the read registers reads 0 (padding)
    logic [K*RW-1:0] row_slot1;       // the rotation selects of the read registers' window
    logic [K*KW-1:0] col_bank1, colq;  // col_bank's value for the read / bank registers
    logic [ROWS-1:0] zero_row;        // slot r holds no row of the window (padding): read 0
    logic [ROWS*K*WORD_W-1:0] rd;     // bank (r, b) at (r*K + b)*WORD_W

    always_comb begin
        zero_row = '0;
        for (int t = 0; t < K; t++)
            for (int r = 0; r < ROWS; r++)
                if (addmod(rs, t) == RW'(r) && vt[t]) zero_row[r] = 1'b1;
    end

    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar b = 0; b < K; b++) begin : g_col
            logic [WORD_W-1:0] mem [0:DEPTH-1];
            logic [WORD_W-1:0] q1, q;         // the memory's read register; the bank register
            always_ff @(posedge clk) begin
                if (wr && ws[r] && wb[b]) mem[waddr] <= s_axis_tdata;
                if (en) begin
                    q1 <= mem[raddr[b*AW +: AW]];
                    zero1[r*K + b] <= zero_row[r] || zero_col[b];
                    q <= zero1[r*K + b] ? '0 : q1;
                end
            end
            assign rd[(r*K + b)*WORD_W +: WORD_W] = q;
        end
    end

    // ---- rotations: slot -> tap row (into row_q), bank -> tap column; the output stage ----
    // The skid's two-way choice is folded into the column rotation: output tap column tx takes
    // bank csel[tx], or csel[tx] = K, the parked beat (csel: a register, no logic level).
    localparam int CSW = $clog2(K + 1);
    logic [K*RW-1:0] row_slot;        // tap row t reads slot row_slot[t] (bank registers)
    logic [K*KW-1:0] col_bank;        // tap column t reads bank col_bank[t]
    logic [K*CSW-1:0] csel;           // the output register's tap column t: bank, or K (parked)
    logic [WIN_W-1:0] skid_q;         // the parked beat (valid while !en)

    always_ff @(posedge clk) begin
        logic en_n;
        logic [K*KW-1:0] cb_n;
        // the skid takes a beat when the output register is full and stays so; empties when the
        // output register takes the parked beat
        en_n = en ? !(m_axis_tvalid && !m_axis_tready && rd_valid) : m_axis_tready;
        cb_n = col_bank;
        if (en) begin
            v1 <= issue;
            vq <= v1;
            rd_valid <= vq;
            row_slot <= row_slot1;
            colq <= col_bank1;
            cb_n = colq;
            for (int t = 0; t < K; t++) begin
                row_slot1[t*RW +: RW] <= addmod(rs, t);
                col_bank1[t*KW +: KW] <= kmod(m0, t);
            end
        end
        col_bank <= cb_n;
        for (int t = 0; t < K; t++)
            csel[t*CSW +: CSW] <= en_n ? CSW'(cb_n[t*KW +: KW]) : CSW'(K);
        en <= en_n;
        if (rst) begin
            v1 <= 1'b0;
            vq <= 1'b0;
            rd_valid <= 1'b0;
            en <= 1'b1;
            for (int t = 0; t < K; t++) begin
                col_bank[t*KW +: KW] <= KW'((M0_INIT + t) % K);
                csel[t*CSW +: CSW] <= CSW'((M0_INIT + t) % K);
            end
        end
    end

    // Each bit through a mux indexed by the select register (LUTs and MUXF, no compare chain);
    // words set one at a time (a '0 over K*K*WORD_W bits passes the simulator's 8192-bit limit).
    logic [K*K*WORD_W-1:0] row_word, row_q;  // [(ty*K + b)*WORD_W]: bank b of tap row ty
    logic [WIN_W-1:0] win, out_d;     // the rotated window; the output register's next value
    always_comb begin
        for (int ty = 0; ty < K; ty++)
            for (int b = 0; b < K; b++)
                if (ROWS <= 4) begin
                    // one LUT6 a bit either way; Yosys packs this form tighter (measured)
                    row_word[(ty*K + b)*WORD_W +: WORD_W] = '0;
                    for (int r = 0; r < ROWS; r++)
                        if (row_slot[ty*RW +: RW] == RW'(r))
                            row_word[(ty*K + b)*WORD_W +: WORD_W] = rd[(r*K + b)*WORD_W +: WORD_W];
                end else begin
                    for (int i = 0; i < WORD_W; i++) begin : b_row
                        logic [(1 << RW)-1:0] v;  // bit i of bank b of every slot
                        v = '0;
                        for (int r = 0; r < ROWS; r++) v[r] = rd[(r*K + b)*WORD_W + i];
                        row_word[(ty*K + b)*WORD_W + i] = v[row_slot[ty*RW +: RW]];
                    end
                end
        for (int ty = 0; ty < K; ty++)
            for (int tx = 0; tx < K; tx++)
                for (int i = 0; i < WORD_W; i++) begin : b_col
                    logic [(1 << KW)-1:0] v;      // bit i of every bank of tap row ty
                    logic [(1 << CSW)-1:0] u;     // and of the parked beat
                    v = '0;
                    u = '0;
                    for (int b = 0; b < K; b++) v[b] = row_q[(ty*K + b)*WORD_W + i];
                    u[K-1:0] = v[K-1:0];
                    u[K] = skid_q[(ty*K + tx)*WORD_W + i];
                    win[(ty*K + tx)*WORD_W + i] = v[col_bank[tx*KW +: KW]];
                    out_d[(ty*K + tx)*WORD_W + i] = u[csel[tx*CSW +: CSW]];
                end
    end

    always_ff @(posedge clk) begin
        if (en) skid_q <= win;        // parked only when the output register stays full
        if (en) row_q <= row_word;
        if (en ? !m_axis_tvalid || m_axis_tready : m_axis_tready) begin
            m_axis_tdata <= out_d;
            m_axis_tvalid <= en ? rd_valid : 1'b1;
        end
        if (rst) m_axis_tvalid <= 1'b0;
    end
endmodule

`resetall
