`resetall
`timescale 1ns / 1ps
`default_nettype none

// Weight loader: one AXI4-Stream of 32-bit beats carries the weights of the N run-time layers
// (MEM_STYLE "uram" or "external": memories a bitstream does not initialise) and this block
// writes them into the layers' memories (sat_wmem, through the write port of sat_mvu/sat_vvu).
//
// Stream, per layer, in any order of layers (docs/vivado.md, "Weight loading"):
//   header  one beat: bits [7:0] the layer's index l (0..N-1, the run-time layers in stream
//           order), bits [31:8] its memory's word count (must equal DEPTHS[l]);
//   words   then its DEPTHS[l] memory words in address order, each in BEATS[l] beats, LSB
//           first (beat k carries bits [32k+31:32k] of the word, zeros above its width);
//   TLAST   on the last beat of the layer's words (and nowhere else).
// A layer is loaded when its section ended with TLAST exactly on its last beat; `loaded` is high
// once every layer has been (registered; low after reset). A header names its layer unloaded
// until its section ends. A wrong header (unknown index, wrong count, or TLAST on the header) or
// a TLAST anywhere but on the last beat sets `error` (sticky until reset) and leaves that layer
// unloaded; the loader then skips to the next TLAST and expects a header after it (a section
// cut short by an early TLAST: the next beat is a header). s_axis_tready is high except in and
// just after reset: the loader takes one beat per cycle, so the stream never waits.
//
// Writes: a word's last beat is followed, three cycles later, by we[l] (one-hot, registered),
// waddr (the word address, registered) and wdata: a shift register of MAXB beats into which each
// beat enters at the top, so layer l's word is wdata[(MAXB - BEATS[l])*32 +: width] (a constant
// slice per layer, chosen by the generated top). The write lands before the next word's last
// beat can shift it out. Reloading a layer while images flow overwrites weights in use: load
// only while the accelerator is idle (it refuses images from a header until `loaded` again).
// Pipeline: the beat registered (stage 1); per layer its header match against constants and the
// beat registered again (stage 2); the state machine. Longest path: a down counter's zero test
// (24 bits) and the state's next value, or the one-hot select of BEATS[l] - 1 (an OR over N).
module sat_wload #(
    parameter int              N = 1,          // run-time layers; Requires 1..256
    parameter int              MAXB = 1,       // beats of the widest word; Requires >= 1
    parameter logic [N*32-1:0] DEPTHS = {N{32'd1}},  // layer l's words at [32l +: 32]; 1 .. 2^24-1
    parameter logic [N*16-1:0] BEATS = {N{16'd1}}   // layer l's beats per word at [16l +: 16]; 1..MAXB
) (
    input  wire logic                 clk,
    input  wire logic                 rst,
    input  wire logic [31:0]          s_axis_tdata,
    input  wire logic                 s_axis_tvalid,
    input  wire logic                 s_axis_tlast,
    output logic                      s_axis_tready,
    output logic [N-1:0]              we,      // write layer l's memory (one-hot)
    output logic [31:0]               waddr,   // at this word
    output logic [MAXB*32-1:0]        wdata,   // layer l's word: see the header
    output logic                      loaded,  // every layer loaded since reset
    output logic                      error    // a malformed section since reset
);
    if (N < 1 || N > 256 || MAXB < 1) begin : g_err_n
        $error("sat_wload: N must be 1..256 and MAXB >= 1");
    end
    for (genvar l = 0; l < N; l++) begin : g_chk
        if (DEPTHS[32*l +: 32] < 1 || DEPTHS[32*l +: 32] >= 32'h0100_0000) begin : g_err_depth
            $error("sat_wload: every DEPTHS entry must be 1 .. 2^24-1");
        end
        if (BEATS[16*l +: 16] < 16'd1 || 32'(BEATS[16*l +: 16]) > MAXB) begin : g_err_beats
            $error("sat_wload: every BEATS entry must be 1..MAXB");
        end
    end

    // ---------------------------------------------------------------- stages 1 and 2
    logic v1, l1, v2, l2;
    logic [31:0] d1, d2;
    logic [N-1:0] hit2;          // stage 2: the beat is a good header of layer l
    always_ff @(posedge clk) begin
        s_axis_tready <= 1'b1;
        v1 <= s_axis_tvalid && s_axis_tready;
        d1 <= s_axis_tdata;
        l1 <= s_axis_tlast;
        v2 <= v1;
        d2 <= d1;
        l2 <= l1;
        for (int l = 0; l < N; l++)
            hit2[l] <= d1[7:0] == 8'(l) && d1[31:8] == DEPTHS[32*l +: 24];
        if (rst) begin
            s_axis_tready <= 1'b0;
            v1 <= 1'b0;
            v2 <= 1'b0;
        end
    end

    // beats per word less one of the layer a header names (an OR of constants per bit)
    logic [15:0] nbm1;
    always_comb begin
        nbm1 = '0;
        for (int l = 0; l < N; l++)
            if (hit2[l]) nbm1 = nbm1 | (BEATS[16*l +: 16] - 16'd1);
    end

    // the shift register with the stage-2 beat entered at the top
    logic [MAXB*32-1:0] shifted;
    if (MAXB == 1) begin : g_one
        assign shifted = d2;
    end else begin : g_shift
        assign shifted = {d2, wdata[MAXB*32-1:32]};
    end

    // ---------------------------------------------------------------- the sections
    typedef enum logic [1:0] {HEAD, DATA, SKIP} state_t;
    state_t state;
    logic [N-1:0] sel;           // the layer being written (one-hot)
    logic [N-1:0] done;          // layers loaded
    logic [15:0] bleft, bm1;     // beats left in the word (less one), beats per word less one
    logic [23:0] wleft;          // words left in the section (less one)
    logic [31:0] wa;             // address of the word being received

    always_ff @(posedge clk) begin
        we <= '0;
        loaded <= &done;
        if (v2) begin
            case (state)
                HEAD: begin
                    if (|hit2 && !l2) begin
                        // a good header: its layer is unloaded until its section ends
                        state <= DATA;
                        sel <= hit2;
                        done <= done & ~hit2;
                        bleft <= nbm1;
                        bm1 <= nbm1;
                        wleft <= d2[31:8] - 24'd1;
                        wa <= '0;
                    end else begin
                        // unknown layer, wrong count or a lone TLAST: skip to the next TLAST
                        error <= 1'b1;
                        if (!l2) state <= SKIP;
                    end
                end
                DATA: begin
                    wdata <= shifted;
                    if (bleft == '0) begin
                        // the word's last beat: write it
                        bleft <= bm1;
                        we <= sel;
                        waddr <= wa;
                        wa <= wa + 1'b1;
                        wleft <= wleft - 1'b1;
                        if (wleft == '0) begin
                            // the section's last word: TLAST must be here
                            if (l2) begin
                                done <= done | sel;
                                state <= HEAD;
                            end else begin
                                error <= 1'b1;
                                state <= SKIP;
                            end
                        end else if (l2) begin
                            error <= 1'b1;
                            state <= HEAD;
                        end
                    end else begin
                        bleft <= bleft - 1'b1;
                        if (l2) begin
                            // cut short: the next beat is a header
                            error <= 1'b1;
                            state <= HEAD;
                        end
                    end
                end
                default: begin
                    // skip to the next TLAST
                    if (l2) state <= HEAD;
                end
            endcase
        end
        if (rst) begin
            state <= HEAD;
            we <= '0;
            done <= '0;
            loaded <= 1'b0;
            error <= 1'b0;
        end
    end
endmodule

`resetall
