// sat_hw HLS header library: pooling on codes (docs/hardware.md, sat_avgpool and sat_maxpool).
#pragma once

#include "sat_common.h"

namespace sat {

// Global sum: input PE codes per beat (CH/PE beats per pixel, PIXELS pixels); after the last
// pixel, CH/PE beats of PE sums (unsigned values in signed ACC_BITS fields, for thresholds).
// The sums of the last pixel leave as its beats arrive.
// CFG: CH, PE, PIXELS, ABITS, ACC_BITS.
template <class CFG>
void avgpool(hls::stream<vec<ap_uint<CFG::ABITS>, CFG::PE> > &in,
             hls::stream<vec<ap_int<CFG::ACC_BITS>, CFG::PE> > &out) {
    const unsigned NG = CFG::CH / CFG::PE;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    acc_t sums[NG][CFG::PE];
#pragma HLS ARRAY_PARTITION variable = sums complete dim = 2
    unsigned g = 0, pix = 0;
avg_beats:
    for (unsigned b = 0; b < CFG::PIXELS * NG; b++) {
#pragma HLS PIPELINE II = 1
        const vec<ap_uint<CFG::ABITS>, CFG::PE> x = in.read();
        vec<acc_t, CFG::PE> y;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            y[p] = (pix == 0 ? acc_t(0) : sums[g][p]) + x[p];
            sums[g][p] = y[p];
        }
        if (pix == CFG::PIXELS - 1) out.write(y);
        if (g == NG - 1) {
            g = 0;
            pix++;
        } else {
            g++;
        }
    }
}

// Max over a window: input the window beats of sat::swg (K2*PE codes, element t*PE + p), output
// PE codes, the maximum over the taps (padding is code 0 and never exceeds a real code).
// CFG: CH, PE, K2, PIXELS (output pixels), ABITS.
template <class CFG>
void maxpool(hls::stream<vec<ap_uint<CFG::ABITS>, CFG::K2 * CFG::PE> > &in,
             hls::stream<vec<ap_uint<CFG::ABITS>, CFG::PE> > &out) {
max_beats:
    for (unsigned b = 0; b < CFG::PIXELS * (CFG::CH / CFG::PE); b++) {
#pragma HLS PIPELINE II = 1
        const vec<ap_uint<CFG::ABITS>, CFG::K2 * CFG::PE> x = in.read();
        vec<ap_uint<CFG::ABITS>, CFG::PE> y;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            ap_uint<CFG::ABITS> m = x[p];
            for (unsigned t = 1; t < CFG::K2; t++) {
#pragma HLS UNROLL
                if (x[t * CFG::PE + p] > m) m = x[t * CFG::PE + p];
            }
            y[p] = m;
        }
        out.write(y);
    }
}

}  // namespace sat
