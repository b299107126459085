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
// Flow control by whole rows. `held` counts rows the writer has claimed minus rows the reader
// has released; the writer claims the next row (eagerly, at the last beat of the current one)
// while fewer than ROWS are held. `ready` counts rows written completely minus rows released;
// output row oy starts once the rows it needs (through min(oy*STRIDE-PAD+K-1, IN_H-1)) are
// complete. After its last window the reader releases the rows no later window of the image
// needs, and after the image's last window all the rest, possibly before the writer has
// written them (rows no window uses): both counters are signed. The eager claim sees the
// release of the same cycle, so a row slot is handed from reader to writer without a bubble;
// the first write into a released slot lands on the edge after the slot's last read.
//
// Output pipeline: issue (read address) -> bank registers (zeroed where the slot or bank holds
// padding) -> row and column rotation -> output register. Both registers advance when the next
// one is empty or moving, so m_axis_tready reaches the read enables and the row release, but
// s_axis_tready is a register (the row claim) and m_axis_tdata/tvalid are registers: there is
// no combinational path from m_axis_tready to s_axis_tready, nor from any input to an output.
//
// Timing (one beat per cycle on both sides when the neighbours allow):
//   latency, first input beat taken to first output beat: R*IN_W*CH/SIMD + 2 cycles, with
//   R = min(K-PAD, IN_H) the rows the first window needs, input one beat per cycle;
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
    localparam int YPW = $clog2(IN_H + 2 * PAD + K + STRIDE + 1);  // top row + PAD, one ahead
    localparam int HW = $clog2(NBLK + 1) + 1;                  // signed blocks left in a bank
    localparam int CW = $clog2(IN_H + ROWS + K + 2) + 2;       // signed row counters
    localparam int M0_INIT = (K - PAD) % K;                    // x0 = -PAD: x0 mod K
    localparam int S_DIV = STRIDE / K, S_MOD = STRIDE % K;
    localparam int C0 = S_DIV * G - (G - 1);                   // bank address step to the next
    localparam int C1 = C0 + G;                                // window: its block + S_DIV or +1
    localparam int YL = (OUT_H - 1) * STRIDE;                  // top row + PAD of the last row
    localparam int NEED0 = (K < IN_H + PAD ? K : IN_H + PAD) - PAD;  // rows window row 0 needs
    localparam int HI_L = YL + K < IN_H + PAD ? YL + K : IN_H + PAD;  // last row's bottom + PAD
    localparam int LO_L = YL > PAD ? YL : PAD;                 // last row's first image row + PAD
    localparam int REL_END = IN_H + PAD - LO_L;                // released after an image
    localparam int DSUB_END = IN_H + PAD - HI_L + NEED0;       // avail drop into the next image

    // ---- elaboration checks ----
    if (CH < 1 || SIMD < 1 || CH % SIMD != 0) begin : g_chk_simd
        $fatal(0, "SIMD must divide CH (instance %m)");
    end
    if (K < 1 || STRIDE < 1 || ELEM_W < 1) begin : g_chk_k
        $fatal(0, "K, STRIDE and ELEM_W must be >= 1 (instance %m)");
    end
    if (PAD < 0 || PAD >= K) begin : g_chk_pad
        $fatal(0, "PAD must be in 0..K-1 (instance %m)");
    end
    if (IN_H + 2 * PAD < K || IN_W + 2 * PAD < K) begin : g_chk_size
        $fatal(0, "the padded image must hold one window (instance %m)");
    end
    if (ROWS < K) begin : g_chk_rows
        $fatal(0, "ROWS must be >= K (instance %m)");
    end

    function automatic logic [RW-1:0] addmod(input logic [RW-1:0] a, input int c);
        int s;
        s = int'(a) + c % ROWS;
        addmod = RW'(s >= ROWS ? s - ROWS : s);
    endfunction

    // Per output row with top row y - PAD (y = top row + PAD), `last` the image's last row:
    // rows released after its last window, and the rows the next window row needs beyond its
    // own (hi(y + STRIDE) - hi(y), hi the last row + 1 + PAD a window needs; after an image's
    // last row, the rows left of it plus the first window row's of the next image).
    function automatic logic signed [CW-1:0] rel_of(input int y, input logic last);
        int lo, nxt;
        lo = y > PAD ? y : PAD;
        nxt = y + STRIDE > PAD ? y + STRIDE : PAD;
        rel_of = CW'(last ? REL_END : nxt - lo);
    endfunction

    function automatic logic signed [CW-1:0] dsub_of(input int y, input logic last);
        int room;
        room = IN_H + PAD - K - y;
        dsub_of = CW'(last ? DSUB_END : room < 0 ? 0 : room > STRIDE ? STRIDE : room);
    endfunction

    // tap rows of the output row with top row y - PAD that fall in the padding
    function automatic logic [K-1:0] pad_of(input int y);
        for (int t = 0; t < K; t++) pad_of[t] = !(y + t >= PAD && y + t < IN_H + PAD);
    endfunction

    // ---- writer ----
    logic [GW-1:0] wg;        // channel group of the next input beat
    logic [XW-1:0] wx;        // its column
    logic wg_last, wx_last;   // wg == G-1, wx == IN_W-1
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
    assign row_done = wr && wg_last && wx_last;
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
                waddr <= waddr + 1'b1;
            end else if (!wx_last) begin
                // next column: the next bank, the next block after the last bank
                wg <= '0;
                wg_last <= G == 1;
                wx <= wx + 1'b1;
                wx_last <= int'(wx) == IN_W - 2;
                for (int b = 0; b < K; b++) wb[b] <= wb[(b + K - 1) % K];
                waddr <= waddr + (wb[K-1] ? AW'(1) : AW'(1 - G));
            end else begin
                // next row, next slot
                wg <= '0;
                wg_last <= G == 1;
                wx <= '0;
                wx_last <= IN_W == 1;
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
            wb <= K'(1);
            waddr <= '0;
            ws <= ROWS'(1);
        end
    end

    // ---- reader ----
    logic en;                 // the output stage takes a beat (a register: sat_skid's ready)
    logic [GW-1:0] rg;        // channel group of the next window
    logic [OXW-1:0] ox;
    logic g_last, x_last;     // rg == G-1, ox == OUT_W-1
    logic [KW-1:0] m0;        // left column mod K
    logic [YPW-1:0] yn;       // top row + PAD of the next output row
    logic y_last;             // this output row is the image's last
    logic [K-1:0] vt;         // tap rows of this output row in the padding
    logic [RW-1:0] rs;        // slot of the top row
    logic [RW-1:0] base;      // slot of row 0 of the image
    logic signed [CW-1:0] avail;    // rows complete - rows the next window needs
    logic signed [CW-1:0] ndsub;    // -(drop of avail at the end of this output row)

    logic issue, step_x, last_new;
    logic [YPW-1:0] y_new;
    logic [RW-1:0] base_next;

    assign issue = en && !avail[CW-1];
    assign step_row = issue && g_last && x_last;
    assign step_x = issue && g_last && !x_last;
    assign base_next = addmod(base, IN_H);
    // the output row after this one: top row + PAD, and whether it is the image's last
    assign y_new = y_last ? '0 : yn;
    assign last_new = y_last ? OUT_H == 1 : int'(yn) == YL;

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
            end else begin
                rg <= '0;
                g_last <= G == 1;
                if (!x_last) begin
                    // window one STRIDE to the right
                    ox <= ox + 1'b1;
                    x_last <= int'(ox) == OUT_W - 2;
                    m0 <= KW'(int'(m0) + S_MOD >= K ? int'(m0) + S_MOD - K : int'(m0) + S_MOD);
                end else begin
                    ox <= '0;
                    x_last <= OUT_W == 1;
                    m0 <= KW'(M0_INIT);
                    // window row one STRIDE down, or the next image
                    yn <= y_last ? YPW'(STRIDE) : yn + YPW'(STRIDE);
                    y_last <= last_new;
                    vt <= pad_of(int'(y_new));
                    rel_m1 <= rel_of(int'(y_new), last_new) - CW'(1);
                    rel_pos <= rel_of(int'(y_new), last_new) != '0;
                    ndsub <= -dsub_of(int'(y_new), last_new);
                    if (y_last) begin
                        base <= base_next;
                        rs <= addmod(base_next, ROWS - PAD);
                    end else begin
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
            m0 <= KW'(M0_INIT);
            yn <= YPW'(STRIDE);
            y_last <= OUT_H == 1;
            vt <= pad_of(0);
            rel_m1 <= rel_of(0, OUT_H == 1) - CW'(1);
            rel_pos <= rel_of(0, OUT_H == 1) != '0;
            ndsub <= -dsub_of(0, OUT_H == 1);
            base <= '0;
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
        int tb;
        always_comb begin
            tb = b - int'(m0);
            if (tb < 0) tb = tb + K;
            wrap = tb < S_MOD;
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

    // ---- row buffer: ROWS x K banks, read into registers ----
    logic rd_valid;                   // the bank registers hold a window
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
            logic [WORD_W-1:0] q;
            always_ff @(posedge clk) begin
                if (wr && ws[r] && wb[b]) mem[waddr] <= s_axis_tdata;
                if (en) q <= zero_row[r] || zero_col[b] ? '0 : mem[raddr[b*AW +: AW]];
            end
            assign rd[(r*K + b)*WORD_W +: WORD_W] = q;
        end
    end

    // ---- rotations: slot -> tap row, bank -> tap column; the output stage ----
    // The output stage is a skid buffer (sat_skid's) with its two-way choice folded into the
    // column rotation: tap column tx of the output register takes bank csel[tx] of the rotated
    // rows, or csel[tx] = K, the parked beat. csel is a register (col_bank while the skid is
    // empty, K while it holds a beat), so the choice costs no logic level.
    localparam int CSW = $clog2(K + 1);
    logic [K*RW-1:0] row_slot;        // tap row t reads slot row_slot[t]
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
            rd_valid <= issue;
            for (int t = 0; t < K; t++) begin
                row_slot[t*RW +: RW] <= addmod(rs, t);
                cb_n[t*KW +: KW] = KW'((int'(m0) + t) % K);
            end
        end
        col_bank <= cb_n;
        for (int t = 0; t < K; t++)
            csel[t*CSW +: CSW] <= en_n ? CSW'(cb_n[t*KW +: KW]) : CSW'(K);
        en <= en_n;
        if (rst) begin
            rd_valid <= 1'b0;
            en <= 1'b1;
            for (int t = 0; t < K; t++) begin
                col_bank[t*KW +: KW] <= KW'((M0_INIT + t) % K);
                csel[t*CSW +: CSW] <= CSW'((M0_INIT + t) % K);
            end
        end
    end

    logic [K*K*WORD_W-1:0] row_word;  // [(ty*K + b)*WORD_W]: bank b of tap row ty
    logic [WIN_W-1:0] win, out_d;     // the rotated window; the output register's next value
    always_comb begin
        // cleared one word at a time: a '0 over all K*K*WORD_W bits is a replication past the
        // limit of Verilator (8192 bits) for wide folds (K 3, SIMD 128, 8 bits: 9,216 bits).
        // (No comment line may start with that tool's name: it reads one as a pragma.)
        for (int ty = 0; ty < K; ty++)
            for (int b = 0; b < K; b++) begin
                row_word[(ty*K + b)*WORD_W +: WORD_W] = '0;
                for (int r = 0; r < ROWS; r++)
                    if (row_slot[ty*RW +: RW] == RW'(r))
                        row_word[(ty*K + b)*WORD_W +: WORD_W] = rd[(r*K + b)*WORD_W +: WORD_W];
            end
        for (int ty = 0; ty < K; ty++)
            for (int tx = 0; tx < K; tx++) begin
                win[(ty*K + tx)*WORD_W +: WORD_W] = '0;
                out_d[(ty*K + tx)*WORD_W +: WORD_W] = skid_q[(ty*K + tx)*WORD_W +: WORD_W];
                for (int b = 0; b < K; b++) begin
                    if (col_bank[tx*KW +: KW] == KW'(b))
                        win[(ty*K + tx)*WORD_W +: WORD_W] = row_word[(ty*K + b)*WORD_W +: WORD_W];
                    if (csel[tx*CSW +: CSW] == CSW'(b))
                        out_d[(ty*K + tx)*WORD_W +: WORD_W] = row_word[(ty*K + b)*WORD_W +: WORD_W];
                end
            end
    end

    always_ff @(posedge clk) begin
        if (en) skid_q <= win;        // parked only when the output register stays full
        if (en ? !m_axis_tvalid || m_axis_tready : m_axis_tready) begin
            m_axis_tdata <= out_d;
            m_axis_tvalid <= en ? rd_valid : 1'b1;
        end
        if (rst) m_axis_tvalid <= 1'b0;
    end
endmodule

`resetall
