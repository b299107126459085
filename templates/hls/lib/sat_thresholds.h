// sat_hw HLS header library: requantization by thresholds (docs/hardware.md, sat_thresholds).
//
// Input: PE accumulators per beat, channel groups in order (CH/PE beats per pixel), PIXELS
// pixels per image. Output: PE codes of OUT_BITS per beat. With NT = 2^OUT_BITS - 1 thresholds
// per channel (ascending): code = #{k : acc >= T_k}, or #{k : acc <= T_k} where the channel's
// direction flag is 1 (a negative slope); found by a binary search of OUT_BITS steps, one
// comparator each, as the RTL block does. Tables: thresholds[g][p][k] and down[g][p] for channel
// g*PE + p (sat_hw.codegen.layout.threshold_lanes).
#pragma once

#include "sat_common.h"

namespace sat {

// CFG: CH, PE, PIXELS, ACC_BITS, OUT_BITS.
template <class CFG>
void thresholds(hls::stream<vec<ap_int<CFG::ACC_BITS>, CFG::PE> > &in,
                hls::stream<vec<ap_uint<CFG::OUT_BITS>, CFG::PE> > &out,
                const typename rom<CFG::ACC_BITS, true>::t thresh[CFG::CH / CFG::PE][CFG::PE]
                                                           [levels(CFG::OUT_BITS)],
                const typename rom<1, false>::t down[CFG::CH / CFG::PE][CFG::PE]) {
#pragma HLS ARRAY_RESHAPE variable = thresh complete dim = 2
#pragma HLS ARRAY_RESHAPE variable = thresh complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = down complete dim = 2
    const unsigned NG = CFG::CH / CFG::PE, NT = levels(CFG::OUT_BITS);
    typedef ap_int<CFG::ACC_BITS> acc_t;
    unsigned g = 0;
thr_beats:
    for (unsigned b = 0; b < CFG::PIXELS * NG; b++) {
#pragma HLS PIPELINE II = 1
        const vec<acc_t, CFG::PE> x = in.read();
        vec<ap_uint<CFG::OUT_BITS>, CFG::PE> y;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            // The thresholds a code passes form a prefix of the ascending row (acc >= T_k, or
            // acc > T_k for the down direction, whose code counts the rest): a binary search,
            // one comparator per output bit.
            const bool dn = ap_uint<1>(down[g][p]) == 1;
            ap_uint<CFG::OUT_BITS> n = 0;  // thresholds passed so far
            for (int j = CFG::OUT_BITS - 1; j >= 0; j--) {
#pragma HLS UNROLL
                const ap_uint<CFG::OUT_BITS> k = n | (ap_uint<CFG::OUT_BITS>(1) << j);  // 1-based
                const acc_t t = thresh[g][p][k - 1];
                if (dn ? x[p] > t : x[p] >= t) n = k;
            }
            y[p] = dn ? ap_uint<CFG::OUT_BITS>(NT - n) : n;
        }
        out.write(y);
        g = (g == NG - 1) ? 0 : g + 1;
    }
}

}  // namespace sat
