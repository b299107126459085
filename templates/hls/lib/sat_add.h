// sat_hw HLS header library: residual graphs (docs/residual.md "The add"; docs/hls.md
// "Residual graphs"): the stream fork and the add.
#pragma once

#include "sat_common.h"

namespace sat {

// One stream in, two out: every beat of `in` is written to `main` and to `skip`, BEATS beats
// per image. Under DATAFLOW each stream has one producer and one consumer, so a tensor read by
// two layers goes through a fork; the skip stream's depth (the top's STREAM pragma) is the
// hardware plan's skip FIFO.
template <typename T, unsigned N, unsigned BEATS>
void fork(hls::stream<vec<T, N> > &in, hls::stream<vec<T, N> > &main,
          hls::stream<vec<T, N> > &skip) {
fork_beats:
    for (unsigned b = 0; b < BEATS; b++) {
#pragma HLS PIPELINE II = 1
        const vec<T, N> x = in.read();
        main.write(x);
        skip.write(x);
    }
}

// acc[c] = mul_a[c] * a[c] + mul_b[c] * b[c] per element (exact integers), PE channels a beat,
// channel groups in order (CH/PE beats per pixel), PIXELS pixels per image; the thresholds
// block (sat::thresholds) turns acc into codes. Codes a (ABITS) and b (BBITS) are unsigned;
// the multipliers signed MUL_BITS (tables mul[g][p] of channel g*PE + p); every product fits
// MUL_BITS + max(ABITS, BBITS) + 1 bits and the sum ACC_BITS, the graph's bound on |acc|.
// CFG: CH, PE, PIXELS, ABITS, BBITS, MUL_BITS, ACC_BITS.
template <class CFG>
void add(hls::stream<vec<ap_uint<CFG::ABITS>, CFG::PE> > &a,
         hls::stream<vec<ap_uint<CFG::BBITS>, CFG::PE> > &b,
         hls::stream<vec<ap_int<CFG::ACC_BITS>, CFG::PE> > &out,
         const typename rom<CFG::MUL_BITS, true>::t mul_a[CFG::CH / CFG::PE][CFG::PE],
         const typename rom<CFG::MUL_BITS, true>::t mul_b[CFG::CH / CFG::PE][CFG::PE]) {
#pragma HLS ARRAY_RESHAPE variable = mul_a complete dim = 2
#pragma HLS ARRAY_RESHAPE variable = mul_b complete dim = 2
    const unsigned NG = CFG::CH / CFG::PE;
    const int OPB = CFG::ABITS > CFG::BBITS ? CFG::ABITS : CFG::BBITS;
    typedef ap_int<CFG::MUL_BITS> mul_t;
    typedef ap_int<OPB + 1> op_t;                    // a code as a signed operand
    typedef ap_int<CFG::MUL_BITS + OPB + 1> prod_t;  // |mul * code| < 2^(MUL_BITS-1) * 2^OPB
    typedef ap_int<CFG::ACC_BITS> acc_t;
    unsigned g = 0;
add_beats:
    for (unsigned i = 0; i < CFG::PIXELS * NG; i++) {
#pragma HLS PIPELINE II = 1
        const vec<ap_uint<CFG::ABITS>, CFG::PE> x = a.read();
        const vec<ap_uint<CFG::BBITS>, CFG::PE> y = b.read();
        vec<acc_t, CFG::PE> s;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            const prod_t pa = prod_t(mul_t(mul_a[g][p]) * op_t(x[p]));
            const prod_t pb = prod_t(mul_t(mul_b[g][p]) * op_t(y[p]));
            s[p] = acc_t(pa + pb);
        }
        out.write(s);
        g = (g == NG - 1) ? 0 : g + 1;
    }
}

}  // namespace sat
