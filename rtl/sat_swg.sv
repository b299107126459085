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
    localparam int QW = $clog2((NBLK + 2) * G + 1) + 1;        // column address base (+G)
    localparam int GW = G > 1 ? $clog2(G) : 1;
    localparam int KW = K > 1 ? $clog2(K) : 1;
    localparam int RW = ROWS > 1 ? $clog2(ROWS) : 1;
    localparam int XW = $clog2(IN_W + 1);
    localparam int OXW = $clog2(OUT_W + 1);
    localparam int OYW = $clog2(OUT_H + 1);
    localparam int YPW = $clog2(IN_H + 2 * PAD + K + STRIDE + 1);  // y0 + PAD and taps
    localparam int XPW = $clog2(IN_W + 2 * PAD + K + STRIDE + 1);  // x0 + PAD and taps
    localparam int CW = $clog2(IN_H + ROWS + K + 2) + 2;       // signed row counters
    localparam int M0_INIT = (K - PAD) % K;                    // x0 = -PAD: x0 + K = q*K + m0
    localparam int QP_INIT = (K - PAD) / K * G;                // (q + 1) * G at x0 = -PAD
    localparam int S_DIV = STRIDE / K, S_MOD = STRIDE % K;

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

    // rows the window with top row y0 = y0p - PAD needs beyond those released before it
    function automatic logic signed [CW-1:0] need_of(input int y0p);
        int hi, lo;
        hi = y0p + K < IN_H + PAD ? y0p + K : IN_H + PAD;
        lo = y0p > PAD ? y0p : PAD;
        need_of = CW'(hi - lo);
    endfunction

    // rows released after the last window of the output row with top row y0p - PAD
    function automatic logic signed [CW-1:0] rel_of(input int y0p, input logic last);
        int lo, nxt;
        lo = y0p > PAD ? y0p : PAD;
        nxt = y0p + STRIDE > PAD ? y0p + STRIDE : PAD;
        rel_of = CW'(last ? IN_H + PAD - lo : nxt - lo);
    endfunction

    function automatic logic [RW-1:0] addmod(input logic [RW-1:0] a, input int c);
        int s;
        s = int'(a) + c % ROWS;
        addmod = RW'(s >= ROWS ? s - ROWS : s);
    endfunction

    // ---- writer ----
    logic [GW-1:0] wg;        // channel group of the next input beat
    logic [XW-1:0] wx;        // its column
    logic [KW-1:0] wb;        // its column bank (wx mod K)
    logic [AW-1:0] wbase;     // (wx / K) * G
    logic [RW-1:0] ws;        // the row slot being written
    logic signed [CW-1:0] held, ready;

    logic wr, row_done, claim;
    logic signed [CW-1:0] rel_now, held_eff;

    assign wr = s_axis_tvalid && s_axis_tready;
    assign row_done = wr && wg == GW'(G - 1) && wx == XW'(IN_W - 1);
    assign held_eff = held - rel_now;
    // claim the next row at the last beat of this one (or while idle) if a slot is free
    assign claim = (!s_axis_tready || row_done) && held_eff < CW'(ROWS);

    always_ff @(posedge clk) begin
        held <= held_eff + (claim ? CW'(1) : CW'(0));
        ready <= ready - rel_now + (row_done ? CW'(1) : CW'(0));
        if (claim) begin
            s_axis_tready <= 1'b1;
        end else if (row_done) begin
            // row complete and no free slot: wait for the reader
            s_axis_tready <= 1'b0;
        end
        if (wr) begin
            if (wg != GW'(G - 1)) begin
                // next channel group of this pixel
                wg <= wg + 1'b1;
            end else if (wx != XW'(IN_W - 1)) begin
                // next column
                wg <= '0;
                wx <= wx + 1'b1;
                if (wb == KW'(K - 1)) begin
                    wb <= '0;
                    wbase <= wbase + AW'(G);
                end else begin
                    wb <= wb + 1'b1;
                end
            end else begin
                // next row, next slot
                wg <= '0;
                wx <= '0;
                wb <= '0;
                wbase <= '0;
                ws <= addmod(ws, 1);
            end
        end
        if (rst) begin
            held <= '0;
            ready <= '0;
            s_axis_tready <= 1'b0;
            wg <= '0;
            wx <= '0;
            wb <= '0;
            wbase <= '0;
            ws <= '0;
        end
    end

    // ---- reader ----
    logic [GW-1:0] rg;        // channel group of the next window
    logic [OXW-1:0] ox;
    logic [OYW-1:0] oy;
    logic [XPW-1:0] x0p;      // left column + PAD
    logic [KW-1:0] m0;        // left column mod K
    logic [QW-1:0] qp;        // (left column div K + 1) * G
    logic [YPW-1:0] y0p;      // top row + PAD
    logic [RW-1:0] rs;        // slot of the top row
    logic [RW-1:0] base;      // slot of row 0 of the image
    logic signed [CW-1:0] need, rel;  // rows this output row needs / releases at its end

    logic adv, issue, last_g, last_x, last_y, s_carry;
    logic [KW:0] s_sum;
    logic [RW-1:0] base_next;

    assign issue = adv && ready >= need;
    assign last_g = rg == GW'(G - 1);
    assign last_x = ox == OXW'(OUT_W - 1);
    assign last_y = oy == OYW'(OUT_H - 1);
    assign rel_now = issue && last_g && last_x ? rel : '0;
    assign s_sum = (KW + 1)'(m0) + (KW + 1)'(S_MOD);
    assign s_carry = s_sum >= (KW + 1)'(K);
    assign base_next = addmod(base, IN_H);

    always_ff @(posedge clk) begin
        if (issue) begin
            if (!last_g) begin
                // next channel group, same window
                rg <= rg + 1'b1;
            end else if (!last_x) begin
                // window one STRIDE to the right
                rg <= '0;
                ox <= ox + 1'b1;
                x0p <= x0p + XPW'(STRIDE);
                m0 <= KW'(s_carry ? s_sum - (KW + 1)'(K) : s_sum);
                qp <= qp + QW'((S_DIV + (s_carry ? 1 : 0)) * G);
            end else begin
                rg <= '0;
                ox <= '0;
                x0p <= '0;
                m0 <= KW'(M0_INIT);
                qp <= QW'(QP_INIT);
                if (!last_y) begin
                    // window row one STRIDE down
                    oy <= oy + 1'b1;
                    y0p <= y0p + YPW'(STRIDE);
                    rs <= addmod(rs, STRIDE);
                    need <= need_of(int'(y0p) + STRIDE);
                    rel <= rel_of(int'(y0p) + STRIDE, oy == OYW'(OUT_H - 2));
                end else begin
                    // next image
                    oy <= '0;
                    y0p <= '0;
                    base <= base_next;
                    rs <= addmod(base_next, ROWS - PAD);
                    need <= need_of(0);
                    rel <= rel_of(0, OUT_H == 1);
                end
            end
        end
        if (rst) begin
            rg <= '0;
            ox <= '0;
            oy <= '0;
            x0p <= '0;
            m0 <= KW'(M0_INIT);
            qp <= QW'(QP_INIT);
            y0p <= '0;
            base <= '0;
            rs <= addmod('0, ROWS - PAD);
            need <= need_of(0);
            rel <= rel_of(0, OUT_H == 1);
        end
    end

    // read address of each column bank: the column of the window that falls in it
    logic [K*AW-1:0] raddr;
    logic [K*QW-1:0] qb;            // (block of bank b + 1) * G
    always_comb begin
        for (int b = 0; b < K; b++) begin
            qb[b*QW +: QW] = qp + (b < int'(m0) ? QW'(G) : QW'(0));
            // outside the stored columns (padding): any address, the tap is zeroed
            raddr[b*AW +: AW] = qb[b*QW +: QW] >= QW'(G) && qb[b*QW +: QW] <= QW'(DEPTH)
                ? AW'(qb[b*QW +: QW] - QW'(G) + QW'(rg)) : '0;
        end
    end

    // ---- row buffer: ROWS x K banks, read into registers ----
    logic rd_valid;                   // the bank registers hold a window
    logic [ROWS-1:0] zero_row;        // slot r holds no row of the window (padding): read 0
    logic [K-1:0] zero_col;           // bank b holds no column of the window (padding): read 0
    logic [ROWS*K*WORD_W-1:0] rd;     // bank (r, b) at (r*K + b)*WORD_W
    logic out_adv;                    // the output register takes a new beat (or none)

    assign out_adv = !m_axis_tvalid || m_axis_tready;
    assign adv = !rd_valid || out_adv;

    always_comb begin
        zero_row = '0;
        zero_col = '0;
        for (int t = 0; t < K; t++) begin
            for (int r = 0; r < ROWS; r++)
                if (addmod(rs, t) == RW'(r) && !(int'(y0p) + t >= PAD && int'(y0p) + t < IN_H + PAD))
                    zero_row[r] = 1'b1;
            for (int b = 0; b < K; b++)
                if ((int'(m0) + t) % K == b && !(int'(x0p) + t >= PAD && int'(x0p) + t < IN_W + PAD))
                    zero_col[b] = 1'b1;
        end
    end

    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar b = 0; b < K; b++) begin : g_col
            logic [WORD_W-1:0] mem [0:DEPTH-1];
            logic [WORD_W-1:0] q;
            always_ff @(posedge clk) begin
                if (wr && ws == RW'(r) && wb == KW'(b)) mem[AW'(wbase + AW'(wg))] <= s_axis_tdata;
                if (adv) q <= zero_row[r] || zero_col[b] ? '0 : mem[raddr[b*AW +: AW]];
            end
            assign rd[(r*K + b)*WORD_W +: WORD_W] = q;
        end
    end

    // ---- rotations: slot -> tap row, bank -> tap column; then the output register ----
    logic [K*RW-1:0] row_slot;        // tap row t reads slot row_slot[t]
    logic [K*KW-1:0] col_bank;        // tap column t reads bank col_bank[t]

    always_ff @(posedge clk) begin
        if (adv) begin
            rd_valid <= issue;
            for (int t = 0; t < K; t++) begin
                row_slot[t*RW +: RW] <= addmod(rs, t);
                col_bank[t*KW +: KW] <= KW'((int'(m0) + t) % K);
            end
        end
        if (rst) rd_valid <= 1'b0;
    end

    logic [K*K*WORD_W-1:0] row_word;  // [(ty*K + b)*WORD_W]: bank b of tap row ty
    logic [WIN_W-1:0] win;
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
                for (int b = 0; b < K; b++)
                    if (col_bank[tx*KW +: KW] == KW'(b))
                        win[(ty*K + tx)*WORD_W +: WORD_W] = row_word[(ty*K + b)*WORD_W +: WORD_W];
            end
    end

    always_ff @(posedge clk) begin
        if (out_adv) begin
            // output free or taken: the rotated window (if any) moves in
            m_axis_tdata <= win;
            m_axis_tvalid <= rd_valid;
        end
        if (rst) m_axis_tvalid <= 1'b0;
    end
endmodule

`resetall
