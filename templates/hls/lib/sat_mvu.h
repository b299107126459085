// sat_hw HLS header library: matrix-vector unit (docs/hardware.md, sat_mvu) for kxk conv,
// pointwise conv and the fully connected layer.
//
// Input: SIMD codes per beat, MW/SIMD beats per vector, PIXELS vectors per image. Output: MH/PE
// beats per vector, beat f holding acc[r] = sum_j w[r][j] * a[j] of rows f*PE .. f*PE+PE-1.
// Weights are SAT's k = (w + 2^WBITS - 1)/2 (WBITS bits); each row computes
//     acc = sum_j w*a = 2 * sum_j k*a - (2^WBITS - 1) * sum_j a
// accumulating the unsigned sum_j k*a per PE lane and sum_j a once per vector (shared by every
// lane and every row), and applying the correction when the row's last beat arrives. Table word
// f*(MW/SIMD) + s, lane (p, i) = row f*PE + p, column s*SIMD + i
// (sat_hw.codegen.layout.mvu_lanes). Every intermediate has an exact width from its bound; acc
// itself fits ACC_BITS (the graph's acc_bits_for(acc_bound)).
#pragma once

#include "sat_common.h"

namespace sat {

// CFG: MH, MW, PE, SIMD, PIXELS, WBITS, ABITS, ACC_BITS, DSP (bool: the k*a multiplies on DSPs,
// else in fabric; BIND_OP on the product).
template <class CFG>
void mvu(hls::stream<vec<ap_uint<CFG::ABITS>, CFG::SIMD> > &in,
         hls::stream<vec<ap_int<CFG::ACC_BITS>, CFG::PE> > &out,
         const typename rom<CFG::WBITS, false>::t weights[(CFG::MH / CFG::PE) * (CFG::MW / CFG::SIMD)]
                                                        [CFG::PE][CFG::SIMD]) {
#pragma HLS ARRAY_RESHAPE variable = weights complete dim = 2
#pragma HLS ARRAY_RESHAPE variable = weights complete dim = 3
    const unsigned NF = CFG::MH / CFG::PE, SF = CFG::MW / CFG::SIMD;
    const unsigned long long L = levels(CFG::WBITS), AMAX = levels(CFG::ABITS);
    typedef ap_uint<ubits(CFG::SIMD * AMAX)> bsum_t;            // sum of a over one beat
    typedef ap_uint<ubits(CFG::MW * AMAX)> asum_t;              // sum of a over the vector
    typedef ap_uint<ubits(CFG::MW * L * AMAX)> ksum_t;          // sum of k*a over the vector
    typedef ap_int<ubits(2 * CFG::MW * L * AMAX) + 1> wide_t;   // 2*ksum - L*asum
    typedef ap_int<CFG::ACC_BITS> acc_t;
    const ap_uint<CFG::WBITS> lv = L;  // 2^WBITS - 1

    vec<ap_uint<CFG::ABITS>, CFG::SIMD> inbuf[SF];  // the vector, reused by every f > 0
    asum_t asum = 0;                                 // its sum, from the pass f == 0
    ksum_t ksum[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = ksum complete
    unsigned s = 0, f = 0;
mvu_beats:
    for (unsigned b = 0; b < CFG::PIXELS * NF * SF; b++) {
#pragma HLS PIPELINE II = 1
        vec<ap_uint<CFG::ABITS>, CFG::SIMD> x;
        if (f == 0) {
            x = in.read();
            inbuf[s] = x;
            bsum_t bsum = 0;
            for (unsigned i = 0; i < CFG::SIMD; i++) {
#pragma HLS UNROLL
                bsum += x[i];
            }
            asum = (s == 0 ? asum_t(0) : asum) + bsum;
        } else {
            x = inbuf[s];
        }
        const unsigned tile = f * SF + s;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            ksum_t acc = s == 0 ? ksum_t(0) : ksum[p];
            for (unsigned i = 0; i < CFG::SIMD; i++) {
#pragma HLS UNROLL
                const ap_uint<CFG::WBITS> k = weights[tile][p][i];
                if (CFG::DSP) {
                    const ap_uint<CFG::WBITS + CFG::ABITS> prod = k * x[i];
#pragma HLS BIND_OP variable = prod op = mul impl = dsp
                    acc += prod;
                } else {
                    const ap_uint<CFG::WBITS + CFG::ABITS> prod = k * x[i];
#pragma HLS BIND_OP variable = prod op = mul impl = fabric
                    acc += prod;
                }
            }
            ksum[p] = acc;
        }
        if (s == SF - 1) {
            const wide_t lsum = asum * lv;  // shared by the PE lanes
            vec<acc_t, CFG::PE> y;
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                y[p] = acc_t(wide_t(ksum[p] + ksum[p]) - lsum);
            }
            out.write(y);
            s = 0;
            f = (f == NF - 1) ? 0 : f + 1;
        } else {
            s++;
        }
    }
}

}  // namespace sat
