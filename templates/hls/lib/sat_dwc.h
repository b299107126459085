// sat_hw HLS header library: stream width conversion (docs/hardware.md, sat_dwc).
#pragma once

#include "sat_common.h"

namespace sat {

// IN_N elements per beat in, OUT_N out, BEATS input beats per image. IN_N % OUT_N == 0 splits
// (element 0 leaves first), OUT_N % IN_N == 0 packs (the first input beat fills elements
// 0..IN_N-1). Two in a row through the least common multiple convert any other pair.
template <typename T, unsigned IN_N, unsigned OUT_N, unsigned BEATS>
void dwc(hls::stream<vec<T, IN_N> > &in, hls::stream<vec<T, OUT_N> > &out) {
    static_assert(IN_N % OUT_N == 0 || OUT_N % IN_N == 0, "dwc: one width must divide the other");
    if (IN_N >= OUT_N) {
        const unsigned PARTS = IN_N / OUT_N;
        vec<T, IN_N> x;
    dwc_split:
        for (unsigned i = 0; i < BEATS * PARTS; i++) {
#pragma HLS PIPELINE II = 1
            const unsigned part = i % PARTS;
            if (part == 0) x = in.read();
            vec<T, OUT_N> y;
            for (unsigned e = 0; e < OUT_N; e++) {
#pragma HLS UNROLL
                y[e] = x[part * OUT_N + e];
            }
            out.write(y);
        }
    } else {
        const unsigned PARTS = OUT_N / IN_N;
        vec<T, OUT_N> y;
    dwc_pack:
        for (unsigned i = 0; i < BEATS; i++) {
#pragma HLS PIPELINE II = 1
            const unsigned part = i % PARTS;
            const vec<T, IN_N> x = in.read();
            for (unsigned e = 0; e < IN_N; e++) {
#pragma HLS UNROLL
                y[part * IN_N + e] = x[e];
            }
            if (part == PARTS - 1) out.write(y);
        }
    }
}

}  // namespace sat
