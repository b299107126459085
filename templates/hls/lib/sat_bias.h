// sat_hw HLS header library: the last layer's output (docs/hardware.md, sat_bias).
//
// out = acc * 2^FRAC + bias, signed OUT_BITS (the graph's Linear.acc_bits, which holds
// out_bound = acc_bound * 2^FRAC + max|bias|). Input PE accumulators per beat, CH/PE beats per
// image; table bias[g][p] for output g*PE + p.
#pragma once

#include "sat_common.h"

namespace sat {

// CFG: CH, PE, IN_BITS, OUT_BITS, FRAC, BIAS_BITS.
template <class CFG>
void bias(hls::stream<vec<ap_int<CFG::IN_BITS>, CFG::PE> > &in,
          hls::stream<vec<ap_int<CFG::OUT_BITS>, CFG::PE> > &out,
          const typename rom<CFG::BIAS_BITS, true>::t b[CFG::CH / CFG::PE][CFG::PE]) {
#pragma HLS ARRAY_RESHAPE variable = b complete dim = 2
    typedef ap_int<CFG::OUT_BITS> out_t;
bias_beats:
    for (unsigned g = 0; g < CFG::CH / CFG::PE; g++) {
#pragma HLS PIPELINE II = 1
        const vec<ap_int<CFG::IN_BITS>, CFG::PE> x = in.read();
        vec<out_t, CFG::PE> y;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            out_t v = x[p];
            v <<= CFG::FRAC;
            y[p] = v + ap_int<CFG::BIAS_BITS>(b[g][p]);
        }
        out.write(y);
    }
}

}  // namespace sat
