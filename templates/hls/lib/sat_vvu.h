// sat_hw HLS header library: vector unit of a depthwise conv (docs/hardware.md, sat_vvu).
//
// Input per output pixel: for each channel group g (CH/PE), for each tap group s (K2/SIMD), one
// beat of SIMD x PE codes, element i*PE + p = tap s*SIMD + i of channel g*PE + p. Output: CH/PE
// beats per pixel, PE accumulators acc[c] = sum_t w[c][t] * a[c][t]. Weights are SAT's k
// (WBITS bits): per channel the unsigned sums of k*a and of a over the taps, then
// acc = 2 * sum k*a - (2^WBITS - 1) * sum a; table word g*(K2/SIMD) + s, lane (i, p)
// (sat_hw.codegen.layout.vvu_lanes).
#pragma once

#include "sat_common.h"

namespace sat {

// CFG: CH, K2, PE, SIMD, PIXELS, WBITS, ABITS, ACC_BITS.
template <class CFG>
void vvu(hls::stream<vec<ap_uint<CFG::ABITS>, CFG::SIMD * CFG::PE> > &in,
         hls::stream<vec<ap_int<CFG::ACC_BITS>, CFG::PE> > &out,
         const typename rom<CFG::WBITS, false>::t weights[(CFG::CH / CFG::PE) * (CFG::K2 / CFG::SIMD)]
                                                        [CFG::SIMD][CFG::PE]) {
#pragma HLS ARRAY_RESHAPE variable = weights complete dim = 2
#pragma HLS ARRAY_RESHAPE variable = weights complete dim = 3
    const unsigned NG = CFG::CH / CFG::PE, SF = CFG::K2 / CFG::SIMD;
    const unsigned long long L = levels(CFG::WBITS), AMAX = levels(CFG::ABITS);
    typedef ap_uint<ubits(CFG::K2 * AMAX)> asum_t;              // sum of a over the taps
    typedef ap_uint<ubits(CFG::K2 * L * AMAX)> ksum_t;          // sum of k*a over the taps
    typedef ap_int<ubits(2 * CFG::K2 * L * AMAX) + 1> wide_t;   // 2*ksum - L*asum
    typedef ap_int<CFG::ACC_BITS> acc_t;
    const ap_uint<CFG::WBITS> lv = L;  // 2^WBITS - 1

    asum_t asum[CFG::PE];
    ksum_t ksum[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = asum complete
#pragma HLS ARRAY_PARTITION variable = ksum complete
    unsigned s = 0, g = 0;
vvu_beats:
    for (unsigned b = 0; b < CFG::PIXELS * NG * SF; b++) {
#pragma HLS PIPELINE II = 1
        const vec<ap_uint<CFG::ABITS>, CFG::SIMD * CFG::PE> x = in.read();
        const unsigned tile = g * SF + s;
        vec<acc_t, CFG::PE> y;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            asum_t as = s == 0 ? asum_t(0) : asum[p];
            ksum_t ks = s == 0 ? ksum_t(0) : ksum[p];
            for (unsigned i = 0; i < CFG::SIMD; i++) {
#pragma HLS UNROLL
                const ap_uint<CFG::WBITS> k = weights[tile][i][p];
                const ap_uint<CFG::ABITS> a = x[i * CFG::PE + p];
                as += a;
                ks += k * a;
            }
            asum[p] = as;
            ksum[p] = ks;
            y[p] = acc_t(wide_t(ks + ks) - wide_t(as * lv));
        }
        if (s == SF - 1) {
            out.write(y);
            s = 0;
            g = (g == NG - 1) ? 0 : g + 1;
        } else {
            s++;
        }
    }
}

}  // namespace sat
