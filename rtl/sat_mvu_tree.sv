`resetall
`timescale 1ns / 1ps
`default_nettype none

// Pipelined adder tree of sat_mvu: y = sum of the N values of x, mod 2^R.
//
// Input: N values of W = bits(VMAX) (+1 when SIGNED) bits, value i at [i*W +: W], unsigned
// codes or products (0..VMAX) or signed products (two's complement, |x| <= VMAX). Output: their
// sum, sign-extended (SIGNED) or zero-extended to R bits, or its R low bits where R is narrower.
// Each level adds pairs (a lone last node passes through with 0); a level's nodes are just wide
// enough for the sum of the inputs beneath them (sum of c inputs: bits(c*VMAX) (+1) bits).
//
// Latency (enabled cycles, one enable for every register): L = ceil(log2(N)) levels, registered
// after every odd level and at the root: TS = floor(L/2) + 1 stages (0 for N = 1, a wire), then
// DELAY more registers (what the caller's path still needs). x of an enabled cycle reaches y
// TS + DELAY enabled cycles later; no reset (the caller's valid flags say which sums count).
module sat_mvu_tree #(
    parameter int          N = 2,               // values summed; Requires N >= 1
    parameter logic [63:0] VMAX = 64'd225,      // max |value|; Requires 1 <= VMAX < 2^56
    parameter bit          SIGNED = 1'b0,       // values are signed (two's complement)
    parameter int          R = 16,              // output bits (the sum mod 2^R)
    parameter int          DELAY = 0,           // registers after the root
    localparam int         W = $clog2(VMAX + 64'd1) + (SIGNED ? 1 : 0)   // bits per value
) (
    input  wire logic             clk,
    input  wire logic             en,           // every register moves
    input  wire logic [N*W-1:0]   x,
    output logic [R-1:0]          y
);
    // bits that hold 0..v
    function automatic int ubits(input logic [63:0] v);
        int n;
        logic [63:0] t;
        n = 0;
        t = v;
        while (t != 0) begin
            n = n + 1;
            t = t >> 1;
        end
        ubits = n == 0 ? 1 : n;
    endfunction

    localparam int LEVELS = $clog2(N);                      // adder tree levels
    localparam int TS = LEVELS == 0 ? 0 : LEVELS / 2 + 1;   // tree stages (odd levels, root)
    localparam int SG = SIGNED ? 1 : 0;

    if (N < 1 || VMAX < 64'd1 || VMAX >= 64'd1 << 56 || R < 1 || DELAY < 0) begin : g_err
        $error("sat_mvu_tree: N, VMAX, R or DELAY out of range");
    end

    // tree geometry: nodes at level l, their width, their offset in the tree's flat vector
    function automatic int nodes(input int l);
        int n;
        n = N;
        for (int m = 0; m < l; m = m + 1) n = (n + 1) / 2;
        nodes = n;
    endfunction
    function automatic int lvl_w(input logic [63:0] vmax, input int sgn, input int l);
        logic [63:0] c;
        c = (l >= 20 || (64'd1 << l) >= 64'(N)) ? 64'(N) : 64'd1 << l;
        lvl_w = ubits(c * vmax) + sgn;
    endfunction
    function automatic int lvl_off(input logic [63:0] vmax, input int sgn, input int l);
        int o;
        o = 0;
        for (int m = 0; m < l; m = m + 1) o = o + nodes(m) * lvl_w(vmax, sgn, m);
        lvl_off = o;
    endfunction

    localparam int W0 = lvl_w(VMAX, SG, 0);                 // = W
    localparam int WR = lvl_w(VMAX, SG, LEVELS);
    localparam int OR_ = lvl_off(VMAX, SG, LEVELS);
    localparam int TOT = lvl_off(VMAX, SG, LEVELS + 1);
    wire [TOT-1:0] tv;                    // every level's nodes, level 0 (the inputs) first
    assign tv[0 +: N*W0] = x;
    for (genvar l = 1; l <= LEVELS; l++) begin : g_l
        localparam int NP = nodes(l - 1);
        localparam int NN = nodes(l);
        localparam int WP = lvl_w(VMAX, SG, l - 1);
        localparam int WL = lvl_w(VMAX, SG, l);
        localparam int OP = lvl_off(VMAX, SG, l - 1);
        localparam int OL = lvl_off(VMAX, SG, l);
        wire [NN*WL-1:0] s;
        for (genvar n = 0; n < NN; n++) begin : g_n
            wire [WL-1:0] a, b;
            if (SG != 0) begin : g_s
                assign a = WL'($signed(tv[OP + 2*n*WP +: WP]));
                if (2*n + 1 < NP) begin : g_y
                    assign b = WL'($signed(tv[OP + (2*n + 1)*WP +: WP]));
                end else begin : g_0
                    assign b = '0;
                end
            end else begin : g_u
                assign a = WL'(tv[OP + 2*n*WP +: WP]);
                if (2*n + 1 < NP) begin : g_y
                    assign b = WL'(tv[OP + (2*n + 1)*WP +: WP]);
                end else begin : g_0
                    assign b = '0;
                end
            end
            assign s[n*WL +: WL] = a + b;
        end
        if (l % 2 == 1 || l == LEVELS) begin : g_r
            logic [NN*WL-1:0] r;
            always_ff @(posedge clk) begin
                if (en) r <= s;
            end
            assign tv[OL +: NN*WL] = r;
        end else begin : g_c
            assign tv[OL +: NN*WL] = s;
        end
    end

    // the root, extended to R bits (mod 2^R), then DELAY registers
    wire [R-1:0] rv;
    if (SG != 0) begin : g_rs
        assign rv = R'($signed(tv[OR_ +: WR]));
    end else begin : g_ru
        assign rv = R'(tv[OR_ +: WR]);
    end
    if (DELAY > 0) begin : g_d
        logic [R-1:0] d [DELAY];
        always_ff @(posedge clk) begin
            if (en) begin
                d[0] <= rv;
                for (int k = 1; k < DELAY; k = k + 1) d[k] <= d[k-1];
            end
        end
        assign y = d[DELAY-1];
    end else begin : g_nod
        assign y = rv;
    end
endmodule

`resetall
