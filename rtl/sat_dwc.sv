`resetall
`timescale 1ns / 1ps
`default_nettype none

// Width converter between streams of IN_N and OUT_N elements of ELEM_W bits per beat (element
// i at [i*ELEM_W +: ELEM_W]).
//
// - Split (IN_N = R*OUT_N, R > 1): each input beat leaves as R output beats, elements 0..OUT_N-1
//   first. An input register takes the next beat while a shift register sends the current one,
//   so s_axis_tready is a register (high while the input register is empty), and the output
//   (the narrow side) sends one beat per cycle while the input delivers one beat per R cycles.
//   Latency: an input beat taken in cycle t is offered from cycle t+2.
// - Pack (OUT_N = R*IN_N, R > 1): R input beats make one output beat, the first filling elements
//   0..IN_N-1. The input (the narrow side) takes one beat per cycle; it waits only when the
//   R-th beat arrives while the previous output beat is still there. s_axis_tready is a
//   register (next cycle's !(last && m_axis_tvalid), one LUT from m_axis_tready), so no ready
//   chain passes through a converter. Latency: the output beat is offered the cycle after its
//   last input beat.
// - IN_N == OUT_N: a wire (no register, both handshakes pass straight through).
// Longest path: a handshake LUT into a register (ready, valid, the piece counter's enable), or
// the piece/beat counter's increment.
module sat_dwc #(
    parameter int ELEM_W = 4,    // element width in bits
    parameter int IN_N = 4,      // elements per input beat
    parameter int OUT_N = 1      // elements per output beat; Requires IN_N % OUT_N == 0 or
                                 // OUT_N % IN_N == 0
) (
    input  wire logic                    clk,
    input  wire logic                    rst,
    input  wire logic [IN_N*ELEM_W-1:0]  s_axis_tdata,
    input  wire logic                    s_axis_tvalid,
    output logic                         s_axis_tready,
    output logic [OUT_N*ELEM_W-1:0]      m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  wire logic                    m_axis_tready
);
    localparam int IN_W = IN_N * ELEM_W;
    localparam int OUT_W = OUT_N * ELEM_W;

    // elaboration checks
    if (ELEM_W < 1 || IN_N < 1 || OUT_N < 1) begin : g_bad_widths
        $error("sat_dwc: ELEM_W, IN_N and OUT_N must be >= 1");
    end
    if (IN_N % OUT_N != 0 && OUT_N % IN_N != 0) begin : g_bad_ratio
        $error("sat_dwc: IN_N and OUT_N must divide one another");
    end

    if (IN_N == OUT_N) begin : g_wire
        assign m_axis_tdata = s_axis_tdata;
        assign m_axis_tvalid = s_axis_tvalid;
        assign s_axis_tready = m_axis_tready;
    end else if (IN_N > OUT_N) begin : g_split
        localparam int R = IN_N / OUT_N;
        localparam int CW = $clog2(R);
        logic [IN_W-1:0] next_reg;       // the input beat waiting for the shift register
                                         // (held while s_axis_tready, a register, is low)
        logic [IN_W-1:0] shift_reg;      // the beat being sent, current piece at the bottom
        logic [CW-1:0]   piece_reg;      // index of the piece on the output
        logic            push, load;

        assign push = s_axis_tvalid && s_axis_tready;
        // the shift register is empty, or its last piece leaves now
        assign load = !m_axis_tvalid || (m_axis_tready && piece_reg == CW'(R - 1));
        assign m_axis_tdata = shift_reg[OUT_W-1:0];

        always_ff @(posedge clk) begin
            if (load) begin
                // the waiting beat (if any) starts
                shift_reg <= next_reg;
                piece_reg <= '0;
                m_axis_tvalid <= !s_axis_tready;
            end else if (m_axis_tready) begin
                // a piece left, not the last: the next one moves down
                shift_reg <= shift_reg >> OUT_W;
                piece_reg <= piece_reg + 1'b1;
            end
            if (push) begin
                next_reg <= s_axis_tdata;
                s_axis_tready <= 1'b0;
            end else if (load) begin
                s_axis_tready <= 1'b1;
            end
            if (rst) begin
                piece_reg <= '0;
                m_axis_tvalid <= 1'b0;
                s_axis_tready <= 1'b1;
            end
        end
    end else begin : g_pack
        localparam int R = OUT_N / IN_N;
        localparam int CW = $clog2(R);
        localparam int HOLD_W = (R - 1) * IN_W;
        logic [HOLD_W-1:0] hold_reg;     // input beats 0..n-1 of the output beat being built
        logic [CW-1:0]     beat_reg;     // input beats held
        logic              last;         // beat_reg == R-1, registered
        logic              push, last_next;

        assign push = s_axis_tvalid && s_axis_tready;
        // the next cycle's `last`: the beat before the closing one arrives, or none does
        assign last_next = push ? beat_reg == CW'(R - 2) : last;

        always_ff @(posedge clk) begin
            // the closing beat waits while the previous output beat is still offered: the
            // registered !(last && m_axis_tvalid) of the next cycle (a closing beat taken now
            // leaves last_next low)
            s_axis_tready <= !(last_next && m_axis_tvalid && !m_axis_tready);
            last <= last_next;
            if (m_axis_tready) m_axis_tvalid <= 1'b0;
            if (push) begin
                if (last) begin
                    // the R-th beat completes the output beat
                    m_axis_tdata <= {s_axis_tdata, hold_reg};
                    m_axis_tvalid <= 1'b1;
                    beat_reg <= '0;
                end else begin
                    // the beat enters at the top; earlier beats move down
                    hold_reg <= HOLD_W'({s_axis_tdata, hold_reg} >> IN_W);
                    beat_reg <= beat_reg + 1'b1;
                end
            end
            if (rst) begin
                beat_reg <= '0;
                last <= 1'b0;
                m_axis_tvalid <= 1'b0;
                s_axis_tready <= 1'b1;
            end
        end
    end
endmodule

`resetall
