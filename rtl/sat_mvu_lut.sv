`resetall
`timescale 1ns / 1ps
`default_nettype none

// LUT products of sat_mvu (MULT "lut"): prod(p, i) = w(p, i) * a(i) for PE rows x SIMD columns,
// as shift-and-add logic (no `*`, so Yosys never maps them to DSPs).
//
// Input: the weights of lane (p, i) at w[(p*SIMD + i)*WB +: WB], the codes a(i) at
// a[i*ABITS +: ABITS]. ENCODING "k": w is SAT's code k = (w + 2^WBITS-1)/2 in WB = WBITS bits and
// the product k*a is unsigned, PW = bits((2^WBITS-1)*(2^ABITS-1)) bits; "signed": w is the odd
// weight in WB = WBITS+1 bits (two's complement) and the product signed, PW = that + 1 bits.
// Output: the product of lane (p, i) at prod[(p*SIMD + i)*PW +: PW].
//
// Latency: none (combinational): ABC merges each product with the first level of the adder tree
// that follows (sat_mvu_tree). Partial products are masked, not selected by an `if`: the same
// function, branch-free C++ under Verilator (the whole network simulates 1.9x faster), one
// source for simulation and synthesis. Yosys maps it differently: +1.1 % LUTs summed over
// W x A in {2,3,4,8}^2 at PE = SIMD = 8, -18 % to +25 % per pair (docs/hardware.md).
module sat_mvu_lut #(
    parameter int          PE = 2,              // rows
    parameter int          SIMD = 2,            // columns
    parameter int          WBITS = 4,           // weight bits, 1..8
    parameter int          ABITS = 4,           // activation code bits, 1..8
    parameter logic [63:0] ENCODING = "k",      // "k" (unsigned SAT codes) or "signed"
    localparam bit         ENC_K = ENCODING == 64'("k"),
    localparam int         WB = ENC_K ? WBITS : WBITS + 1,                  // stored weight bits
    localparam int         PW = $clog2(((64'd1 << WBITS) - 1) * ((64'd1 << ABITS) - 1) + 64'd1)
                                + (ENC_K ? 0 : 1)                          // product bits
) (
    input  wire logic [PE*SIMD*WB-1:0]    w,
    input  wire logic [SIMD*ABITS-1:0]    a,
    output logic [PE*SIMD*PW-1:0]         prod
);
    if (PE < 1 || SIMD < 1 || WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err
        $fatal(0, "PE, SIMD >= 1 and WBITS, ABITS 1..8 (instance %m)");
    end
    if (!ENC_K && ENCODING != 64'("signed")) begin : g_err_enc
        $fatal(0, "ENCODING must be \"k\" or \"signed\" (instance %m)");
    end

    function automatic logic [PW-1:0] mul_k(input logic [WB-1:0] k, input logic [ABITS-1:0] x);
        logic [PW-1:0] s;
        s = '0;
        for (int b = 0; b < WB; b = b + 1) s = s + ((PW'(x) << b) & {PW{k[b]}});
        mul_k = s;
    endfunction
    function automatic logic [PW-1:0] mul_s(input logic [WB-1:0] v, input logic [ABITS-1:0] x);
        logic [PW-1:0] s;
        s = '0;
        for (int b = 0; b < WB - 1; b = b + 1) s = s + ((PW'(x) << b) & {PW{v[b]}});
        s = s - ((PW'(x) << (WB - 1)) & {PW{v[WB-1]}});
        mul_s = s;
    endfunction

    for (genvar p = 0; p < PE; p++) begin : g_p
        for (genvar i = 0; i < SIMD; i++) begin : g_i
            if (ENC_K) begin : g_k
                assign prod[(p*SIMD + i)*PW +: PW] =
                    mul_k(w[(p*SIMD + i)*WB +: WB], a[i*ABITS +: ABITS]);
            end else begin : g_s
                assign prod[(p*SIMD + i)*PW +: PW] =
                    mul_s(w[(p*SIMD + i)*WB +: WB], a[i*ABITS +: ABITS]);
            end
        end
    end
endmodule

`resetall
