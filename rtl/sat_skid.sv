`resetall
`timescale 1ns / 1ps
`default_nettype none

// Skid buffer: a two-entry register slice that cuts every combinational path between its
// input and output streams. Full throughput (one beat per cycle); s_axis_tready is a register,
// so m_axis_tready never reaches s_axis_tready in the same cycle.
module sat_skid #(
    parameter int DATA_W = 8    // beat width in bits
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [DATA_W-1:0] s_axis_tdata,
    input  wire logic              s_axis_tvalid,
    output logic                   s_axis_tready,
    output logic [DATA_W-1:0]      m_axis_tdata,
    output logic                   m_axis_tvalid,
    input  wire logic              m_axis_tready
);
    logic [DATA_W-1:0] skid_reg;     // the beat taken while the output was stalled
    logic              skid_valid_reg;

    always_ff @(posedge clk) begin
        if (s_axis_tready) begin
            if (!m_axis_tvalid || m_axis_tready) begin
                // output free: the input goes straight to the output register
                m_axis_tdata <= s_axis_tdata;
                m_axis_tvalid <= s_axis_tvalid;
            end else if (s_axis_tvalid) begin
                // output stalled: park the beat, stop taking more
                skid_reg <= s_axis_tdata;
                skid_valid_reg <= 1'b1;
                s_axis_tready <= 1'b0;
            end
        end else if (m_axis_tready) begin
            // the output moved on: the parked beat takes its place
            m_axis_tdata <= skid_reg;
            m_axis_tvalid <= 1'b1;
            skid_valid_reg <= 1'b0;
            s_axis_tready <= 1'b1;
        end
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            skid_valid_reg <= 1'b0;
            s_axis_tready <= 1'b1;
        end
    end
endmodule

`resetall
