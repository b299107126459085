`resetall
`timescale 1ns / 1ps
`default_nettype none

// FIFO: holds up to DEPTH beats, one beat in and one beat out per cycle. The beats wait in a
// memory of DEPTH-1 entries (RAM_STYLE picks registers, LUTRAM or BRAM) whose synchronous read
// port is the output register: m_axis_tdata comes straight from a flip-flop (the BRAM's own
// output latch when RAM_STYLE = "block"). `count` is the number of beats held (memory plus output
// register); s_axis_tready is the registered `count < DEPTH` (exact: DEPTH beats are held), so
// m_axis_tready never reaches s_axis_tready in the same cycle. The register's input is one LUT
// from m_axis_tready and s_axis_tvalid (`pop || count <= DEPTH-2 || count == DEPTH-1 && !push`,
// the compares of the count register alone), not the adder of the count, so a combinational
// ready of the consumer (sat_dwc's pack) adds one LUT level before it. The memory never reads and writes one address in the same
// cycle, so any read-during-write mode of the target memory is safe. DEPTH 2 is a skid buffer
// (sat_skid, registers whatever RAM_STYLE says).
//
// Latency: a beat taken in cycle t is offered in cycle t+2 (t+1 at DEPTH 2). Throughput: one
// beat per cycle on both sides; only a full FIFO costs its input one idle cycle after an output
// beat.
// Longest path: a pointer's or a count's increment (a LUT and a carry chain of $clog2(DEPTH)
// bits); m_axis_tready reaches s_axis_tready through one LUT and the memory's read enable through
// one LUT (`memory not empty` is a register too). Measured alone (benchmarks/block_timing.py,
// DATA_W 64, DEPTH 32): xcup 2+2, ECP5 85k ~200 MHz.
module sat_fifo #(
    parameter int DATA_W = 8,        // beat width in bits
    parameter int DEPTH = 16,        // capacity in beats; Requires DEPTH >= 2 (any value, not
                                     // only powers of two)
    parameter RAM_STYLE = "auto"     // memory: "auto" (the tool decides), "registers" (FFs),
                                     // "distributed" (LUTRAM) or "block" (BRAM); becomes the
                                     // (* ram_style *) attribute of Yosys and Vivado
) (
    input  wire logic                       clk,
    input  wire logic                       rst,
    input  wire logic [DATA_W-1:0]          s_axis_tdata,
    input  wire logic                       s_axis_tvalid,
    output logic                            s_axis_tready,
    output logic [DATA_W-1:0]               m_axis_tdata,
    output logic                            m_axis_tvalid,
    input  wire logic                       m_axis_tready,
    output logic [$clog2(DEPTH+1)-1:0]      count     // beats held, 0..DEPTH
);
    localparam int MEM_D = DEPTH > 2 ? DEPTH - 1 : 2;   // memory entries (DEPTH > 2)
    localparam int AW = $clog2(MEM_D);                  // memory address width
    localparam int CW = $clog2(DEPTH + 1);              // width of count

    // elaboration checks
    if (DATA_W < 1) begin : g_bad_data_w
        $error("sat_fifo: DATA_W must be >= 1");
    end
    if (DEPTH < 2) begin : g_bad_depth
        $error("sat_fifo: DEPTH must be >= 2");
    end
    // verilator lint_off WIDTHEXPAND
    // verilator lint_off WIDTHTRUNC
    if (RAM_STYLE != "auto" && RAM_STYLE != "registers" && RAM_STYLE != "distributed"
        && RAM_STYLE != "block") begin : g_bad_ram_style
        $error("sat_fifo: RAM_STYLE must be auto, registers, distributed or block");
    end
    // verilator lint_on WIDTHTRUNC
    // verilator lint_on WIDTHEXPAND

    if (DEPTH == 2) begin : g_skid
        // two beats: a skid buffer has full throughput where the memory below would need a
        // third entry (a beat spends a cycle in the memory before the output register)
        sat_skid #(.DATA_W(DATA_W)) u_skid (
            .clk, .rst, .s_axis_tdata, .s_axis_tvalid, .s_axis_tready,
            .m_axis_tdata, .m_axis_tvalid, .m_axis_tready);
        // the skid holds a second beat exactly while it refuses input
        assign count = CW'(m_axis_tvalid) + CW'(!s_axis_tready);
    end else begin : g_mem
        (* ram_style = RAM_STYLE *) logic [DATA_W-1:0] mem [MEM_D];
        logic [AW-1:0] wr_ptr, rd_ptr;
        logic [CW-1:0] mem_count;        // beats in the memory (not counting the output register)
        logic          push, pop, rd;
        logic          mem_nz;           // mem_count != 0, registered
        logic          room2, room1;     // count <= DEPTH-2, count == DEPTH-1 (of the register)

        assign push = s_axis_tvalid && s_axis_tready;
        assign pop = m_axis_tvalid && m_axis_tready;
        // the output register is empty or leaves now, and the memory has the next beat
        assign rd = mem_nz && (!m_axis_tvalid || m_axis_tready);
        assign room2 = count <= CW'(DEPTH - 2);
        assign room1 = count == CW'(DEPTH - 1);

        // memory: write port and synchronous read port, nothing else (so every RAM_STYLE maps)
        always_ff @(posedge clk) begin
            if (push) mem[wr_ptr] <= s_axis_tdata;
            if (rd) m_axis_tdata <= mem[rd_ptr];
        end

        always_ff @(posedge clk) begin
            if (push) wr_ptr <= wr_ptr == AW'(MEM_D - 1) ? '0 : wr_ptr + 1'b1;
            if (rd) rd_ptr <= rd_ptr == AW'(MEM_D - 1) ? '0 : rd_ptr + 1'b1;
            mem_count <= mem_count + CW'(push) - CW'(rd);
            // mem_count + push - rd != 0, without the adder (a push never meets rd of an
            // empty memory)
            mem_nz <= push || mem_count > CW'(1) || (mem_count == CW'(1) && !rd);
            if (rd) begin
                // the next beat moves into the output register
                m_axis_tvalid <= 1'b1;
            end else if (pop) begin
                // the last beat left and the memory is empty
                m_axis_tvalid <= 1'b0;
            end
            count <= count + CW'(push) - CW'(pop);
            // count + push - pop < DEPTH, without the adder: a beat leaves, or there is room
            // for this cycle's beat and one more (one LUT from m_axis_tready, whose pop always
            // frees a place: s_axis_tready is low while the FIFO is full)
            s_axis_tready <= pop || room2 || (room1 && !push);
            if (rst) begin
                wr_ptr <= '0;
                rd_ptr <= '0;
                mem_count <= '0;
                mem_nz <= 1'b0;
                m_axis_tvalid <= 1'b0;
                count <= '0;
                s_axis_tready <= 1'b1;
            end
        end
    end
endmodule

`resetall
