`resetall
`timescale 1ns / 1ps
`default_nettype none

// Partial products of sat_mvu (MULT "lut"): for PE rows x SIMD columns, the WB partial products
// of each product u(p, i) * a(i), u the weight taken as unsigned, for sat_mvu_tree to sum.
//
// u is SAT's code k itself (ENCODING "k", WB = WBITS bits) or the odd weight w + 2^WBITS, i.e. w
// (two's complement, WB = WBITS+1 bits) with its sign bit flipped ("signed"); the caller makes
// sum w*a out of sum u*a and sum a (sat_mvu: 2*sum k*a - (2^WBITS-1)*sum a, or
// sum u*a - 2^WBITS*sum a). Partial product (b, i) = a(i) if bit b of u(p, i), else 0, shifted
// left by b: TW = ABITS + WB - 1 bits, 0 .. (2^ABITS-1)*2^(WB-1).
//
// Input: the weights of lane (p, i) at w[(p*SIMD + i)*WB +: WB], the codes a(i) at
// a[i*ABITS +: ABITS]. Output: lane p's SIMD*WB partial products at
// pp[p*SIMD*WB*TW +: SIMD*WB*TW], term (b, i) at index b*SIMD + i (the terms of one shift side by
// side, so the tree's first level adds terms of equal shift).
// Latency: none (combinational, one AND per bit): the mask merges with the first adder level of
// the tree that follows, which is registered. No `*`, so Yosys never maps them to DSPs.
module sat_mvu_lut #(
    parameter int          PE = 2,              // rows
    parameter int          SIMD = 2,            // columns
    parameter int          WBITS = 4,           // weight bits, 1..8
    parameter int          ABITS = 4,           // activation code bits, 1..8
    parameter logic [63:0] ENCODING = "k",      // "k" (unsigned SAT codes) or "signed"
    localparam bit         ENC_K = ENCODING == 64'("k"),
    localparam int         WB = ENC_K ? WBITS : WBITS + 1,                  // stored weight bits
    localparam int         TW = ABITS + WB - 1                             // partial product bits
) (
    input  wire logic [PE*SIMD*WB-1:0]    w,
    input  wire logic [SIMD*ABITS-1:0]    a,
    output logic [PE*SIMD*WB*TW-1:0]      pp
);
    if (PE < 1 || SIMD < 1 || WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err
        $error("sat_mvu_lut: PE, SIMD >= 1 and WBITS, ABITS 1..8");
    end
    if (!ENC_K && ENCODING != 64'("signed")) begin : g_err_enc
        $error("sat_mvu_lut: ENCODING must be \"k\" or \"signed\"");
    end

    always_comb begin
        for (int p = 0; p < PE; p++) begin
            for (int i = 0; i < SIMD; i++) begin
                logic [WB-1:0] u;
                u = w[(p*SIMD + i)*WB +: WB];
                if (!ENC_K) u[WB-1] = !u[WB-1];
                for (int b = 0; b < WB; b++)
                    pp[(p*SIMD*WB + b*SIMD + i)*TW +: TW] =
                        TW'(a[i*ABITS +: ABITS] & {ABITS{u[b]}}) << b;
            end
        end
    end
endmodule

`resetall
