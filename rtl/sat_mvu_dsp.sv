`resetall
`timescale 1ns / 1ps
`default_nettype none

// Packed DSP products of sat_mvu (MULT "dsp", SAT codes k only): prod(p, i) = k(p, i) * a(i) for
// PE rows x SIMD columns, the products of one column (one activation a) and LANES rows sharing
// one wide multiply a * (k_0 + k_1*2^o_1 + ...), unsigned, on a DSP_A_W x DSP_B_W signed
// multiplier (27 x 18: DSP48E2, 25 x 18: DSP48E1): ceil(PE/LANES) multiplies per column.
//
// Fields of S = bits(max k*a) bits never carry into each other, so each product is a slice of
// the result. With DSP_OVERLAP, where it packs more lanes, fields start S-1 bits apart and
// overlap by one bit, made exact by a known LSB: k_j*a - (k_j[0] & a[0]) is even, so the
// multiply takes k_j with its LSB cleared and the post-adder adds (k_j[0] ? a>>1 : 0) << (o_j+1)
// (one AND per activation bit), which leaves bit o_j of field j zero for the top bit of field
// j-1; the product is {field bits, a[0] & k_j[0]}. Products per multiply on DSP48E2 (DSP48E1):
// 2x2 bits 9 (8), 3x3 5 (5), 4x4 4 (3), 8x8 2 (2).
//
// Input: k of lane (p, i) at w[(p*SIMD + i)*WBITS +: WBITS], a(i) at a[i*ABITS +: ABITS].
// Output: the product of lane (p, i) at prod[(p*SIMD + i)*PW +: PW], PW = S (unsigned).
// Latency: 3, free running (no enable, no reset): the operands (one copy per multiply: the
// DSP's A and B registers), the product (M) and the post-adder (P), so that Yosys packs all
// three into the DSP48E2/E1 (AREG/BREG, MREG, PREG); the post-adder's repair term takes the C
// port (its second register is CREG) and the LSBs stay in the fabric.
module sat_mvu_dsp #(
    parameter int          PE = 2,              // rows
    parameter int          SIMD = 2,            // columns
    parameter int          WBITS = 4,           // weight (code k) bits, 1..8
    parameter int          ABITS = 4,           // activation code bits, 1..8
    parameter int          DSP_A_W = 27,        // signed width of the wide port
    parameter int          DSP_B_W = 18,        // signed width of the narrow port
    parameter bit          DSP_OVERLAP = 1'b1,  // one-bit field overlap, LSB repair
    localparam int         PW = $clog2(((64'd1 << WBITS) - 1) * ((64'd1 << ABITS) - 1) + 64'd1)
) (
    input  wire logic                     clk,
    input  wire logic [PE*SIMD*WBITS-1:0] w,
    input  wire logic [SIMD*ABITS-1:0]    act,
    output logic [PE*SIMD*PW-1:0]         prod
);
    // packing: S-bit fields, STEP apart (S-1 with the LSB repair), LANES products per multiply
    localparam int S = PW;
    localparam int UA = DSP_A_W - 1;                        // unsigned bits of the wide port
    localparam int L_CLEAN = 1 + (UA - WBITS) / S;
    localparam int L_OVER = (WBITS >= 2 && S >= 3) ? 1 + (UA - WBITS) / (S - 1) : 0;
    localparam bit CORR = DSP_OVERLAP && L_OVER > L_CLEAN;
    localparam int STEP = CORR ? S - 1 : S;
    localparam int LMAX = CORR ? L_OVER : L_CLEAN;
    localparam int LANES = LMAX < PE ? LMAX : PE;           // products per multiply
    localparam int NG = (PE + LANES - 1) / LANES;           // multiplies per column

    if (PE < 1 || SIMD < 1 || WBITS < 1 || WBITS > 8 || ABITS < 1 || ABITS > 8) begin : g_err
        $error("sat_mvu_dsp: PE, SIMD >= 1 and WBITS, ABITS 1..8");
    end
    if (UA < WBITS || DSP_B_W <= ABITS) begin : g_err_port
        $error("sat_mvu_dsp: DSP_A_W/DSP_B_W too narrow for WBITS/ABITS");
    end

    for (genvar i = 0; i < SIMD; i++) begin : g_i
        for (genvar g = 0; g < NG; g++) begin : g_g
            localparam int NL = PE - g*LANES < LANES ? PE - g*LANES : LANES;
            localparam int BW = (NL - 1)*STEP + WBITS;   // packed operand
            localparam int TW = (NL - 1)*STEP + S;       // packed product
            logic [ABITS-1:0] a;
            logic [BW-1:0] bpk;
            logic [ABITS-1:0] a_r;
            logic [BW-1:0] b_r;
            logic [TW-1:0] cpk, c_r, m_q, c_q, p_q;
            logic [NL-1:0] lsb, lsb_r, lsb_q, lsb_qq;
            assign a = act[i*ABITS +: ABITS];
            always_comb begin
                logic [WBITS-1:0] kj;
                bpk = '0;
                cpk = '0;
                for (int j = 0; j < NL; j = j + 1) begin
                    kj = w[((g*LANES + j)*SIMD + i)*WBITS +: WBITS];
                    lsb[j] = a[0] & kj[0];
                    if (CORR && j > 0) begin
                        // LSB left out of the multiply, the rest of a*k_j[0] through C
                        if (kj[0]) cpk = cpk | (TW'(a >> 1) << (j*STEP + 1));
                        kj[0] = 1'b0;
                    end
                    // OR, not a part-select assignment: at ABITS 1 a field is WBITS bits
                    // (S = WBITS, STEP = WBITS-1), so k_j's cleared LSB shares its bit with
                    // k_(j-1)'s MSB, which an assignment to bpk[j*STEP +: WBITS] would clear
                    bpk = bpk | (BW'(kj) << (j*STEP));
                end
            end
            always_ff @(posedge clk) begin
                a_r <= a;
                b_r <= bpk;
                c_r <= cpk;
                lsb_r <= lsb;
                m_q <= TW'(a_r * b_r);
                c_q <= c_r;
                lsb_q <= lsb_r;
                p_q <= m_q + c_q;
                lsb_qq <= lsb_q;
            end
            for (genvar j = 0; j < NL; j++) begin : g_x
                if (CORR && j > 0) begin : g_rep
                    assign prod[((g*LANES + j)*SIMD + i)*PW +: PW] =
                        {p_q[j*STEP + 1 +: S - 1], lsb_qq[j]};
                end else begin : g_cut
                    assign prod[((g*LANES + j)*SIMD + i)*PW +: PW] = p_q[j*STEP +: S];
                end
            end
        end
    end
endmodule

`resetall
