`resetall
`timescale 1ns / 1ps
`default_nettype none

// Global sum pool (the integer half of a global average pool; thresholds follow).
//
// Input: PE codes per beat, pixel after pixel (PIXELS = H*W per image), CH/PE beats per pixel in
// ascending channel order. Output, after each image: CH/PE beats of PE sums acc[c] = sum over the
// image's pixels of code[c], unsigned values in signed ACC_BITS fields, lane p at
// [p*ACC_BITS +: ACC_BITS]. The running sums live in a memory of CH/PE words (one per channel
// group, read one cycle ahead, written one cycle later); the first pixel of an image overwrites
// them, and the last pixel's sums leave as its beats arrive, so images follow each other without
// a gap and no second buffer is needed.
//
// Pipeline: the edge that takes a beat also holds its group's running sum (read one take ahead
// and registered twice where CH/PE > 2); the next stage adds and writes back (with a bypass when
// CH == PE and the same word is read and written at once), and on the last pixel hands the sum
// to a sat_skid. The pipeline advances whenever the skid's
// registered s_axis_tready is high, and that is s_axis_tready: no combinational path from
// m_axis_tready to s_axis_tready. Throughput: one input beat per cycle; cycles per image
// PIXELS*CH/PE. Latency: a last-pixel beat taken in cycle n gives its output beat in cycle n+2.
module sat_avgpool #(
    parameter int CH = 8,          // channels; Requires CH % PE == 0
    parameter int PIXELS = 16,     // pixels per image (H*W)
    parameter int PE = 2,          // channels per beat
    parameter int ABITS = 4,       // code bits, 1..8
    parameter int ACC_BITS = 10    // sum bits (signed); Requires >= acc_bits_for(PIXELS*(2^A-1))
) (
    input  wire logic                     clk,
    input  wire logic                     rst,
    input  wire logic [PE*ABITS-1:0]      s_axis_tdata,
    input  wire logic                     s_axis_tvalid,
    output logic                          s_axis_tready,
    output logic [PE*ACC_BITS-1:0]        m_axis_tdata,
    output logic                          m_axis_tvalid,
    input  wire logic                     m_axis_tready
);
    localparam int G = CH / PE;                              // channel groups (memory words)
    localparam int GW = G > 1 ? $clog2(G) : 1;
    localparam int PW = PIXELS > 1 ? $clog2(PIXELS) : 1;
    localparam longint BOUND = longint'(PIXELS) * ((64'd1 << ABITS) - 1);
    localparam int NEED = $clog2(BOUND + 2) + 1;             // sat_hw.graph.ir.acc_bits_for

    // elaboration checks: $error with a constant message (sat_mvu: what each tool prints)
    if (CH < 1 || PE < 1 || CH % PE != 0) begin : g_err_pe
        $error("sat_avgpool: PE must divide CH");
    end
    if (PIXELS < 1) begin : g_err_pixels
        $error("sat_avgpool: PIXELS must be >= 1");
    end
    if (ABITS < 1 || ABITS > 8) begin : g_err_abits
        $error("sat_avgpool: ABITS must be 1..8");
    end
    if (ACC_BITS < NEED || ACC_BITS > 62) begin : g_err_acc
        $error("sat_avgpool: ACC_BITS must be acc_bits_for(PIXELS*(2^ABITS-1))..62");
    end

    // An empty initial block where the parameter checks' initial block was (they are generate
    // blocks now): Yosys numbers the processes it meets, and ABC's LUT mapping follows that
    // numbering; without it Yosys maps some configurations a LUT differently (issue 22 keeps the
    // netlists that committed measurements rest on).
    initial begin
    end

    logic ce, take;
    assign s_axis_tready = ce;
    assign take = s_axis_tvalid && ce;

    // ---- position of the next input beat ----
    logic [GW-1:0] grp;
    logic [PW-1:0] pix;
    always_ff @(posedge clk) begin
        if (take) begin
            grp <= (grp == GW'(G - 1)) ? '0 : grp + 1'b1;
            if (grp == GW'(G - 1)) pix <= (pix == PW'(PIXELS - 1)) ? '0 : pix + 1'b1;
        end
        if (rst) begin
            grp <= '0;
            pix <= '0;
        end
    end

    // ---- running sums: written back from stage 1 ----
    // G > 2 words: the sum of the next beat's group is read one take ahead (address from the
    // register grp1) and registered again at the take, so a block RAM's slow output meets only a
    // wire (on ECP5 that register becomes the DP16KD's own output register). A group's word is
    // written at the first ce after its take, before the read-ahead of its next use (G - 1
    // takes later, G > 2): no write meets a read of the same word (no_rw_check). G <= 2: the word
    // is read as its beat is taken, with a bypass when G == 1.
    (* no_rw_check *) logic [PE*ACC_BITS-1:0] mem [0:G-1];
    logic [PE*ACC_BITS-1:0] rd_q, sum, fwd_q, prev_q;
    logic [PE*ABITS-1:0] a_q;
    logic [GW-1:0] g_q;
    logic v_q, first_q, last_q, use_fwd_q;

    always_comb begin
        for (int p = 0; p < PE; p++)
            sum[p*ACC_BITS +: ACC_BITS] = (first_q ? '0 : prev_q[p*ACC_BITS +: ACC_BITS])
                                        + ACC_BITS'(a_q[p*ABITS +: ABITS]);
    end

    if (G > 2) begin : g_ahead
        logic [GW-1:0] grp1;                    // the group of the beat after the next one
        logic [PE*ACC_BITS-1:0] rd1;
        always_ff @(posedge clk) begin
            if (take) begin
                grp1 <= (grp1 == GW'(G - 1)) ? '0 : grp1 + 1'b1;
                rd1 <= mem[grp1];
                rd_q <= rd1;
            end
            if (rst) grp1 <= GW'(1);
        end
        assign prev_q = rd_q;
    end else begin : g_near
        always_ff @(posedge clk) if (take) rd_q <= mem[grp];
        assign prev_q = use_fwd_q ? fwd_q : rd_q;
    end

    always_ff @(posedge clk) begin
        if (ce && v_q) mem[g_q] <= sum;
        if (ce) begin
            // stage 1 takes the beat (or a bubble)
            v_q <= take;
            a_q <= s_axis_tdata;
            g_q <= grp;
            first_q <= pix == '0;
            last_q <= pix == PW'(PIXELS - 1);
            // one group: the word read now is the one stage 1 writes now
            use_fwd_q <= G == 1 && v_q;
            fwd_q <= sum;
        end
        if (rst) v_q <= 1'b0;
    end

    sat_skid #(.DATA_W(PE*ACC_BITS)) u_out (
        .clk, .rst,
        .s_axis_tdata(sum), .s_axis_tvalid(v_q && last_q), .s_axis_tready(ce),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
endmodule

`resetall
