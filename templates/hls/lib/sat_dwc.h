// sat_hw HLS header library: stream width conversion (docs/hardware.md, sat_dwc) and the
// packed-bus adapters of the top-level ports.
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

// Packed bus -> beats: element i of a beat from bits [i*W +: W] of the word (unsigned codes).
template <int W, unsigned N, unsigned BEATS>
void unpack(hls::stream<ap_uint<W * N> > &in, hls::stream<vec<ap_uint<W>, N> > &out) {
unpack_beats:
    for (unsigned b = 0; b < BEATS; b++) {
#pragma HLS PIPELINE II = 1
        const ap_uint<W * N> word = in.read();
        vec<ap_uint<W>, N> y;
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            y[i] = word.range(i * W + W - 1, i * W);
        }
        out.write(y);
    }
}

// Beats -> packed bus: element i of a beat (T: ap_int or ap_uint of W bits) at bits [i*W +: W].
template <int W, unsigned N, unsigned BEATS, typename T>
void pack(hls::stream<vec<T, N> > &in, hls::stream<ap_uint<W * N> > &out) {
pack_beats:
    for (unsigned b = 0; b < BEATS; b++) {
#pragma HLS PIPELINE II = 1
        const vec<T, N> x = in.read();
        ap_uint<W * N> word = 0;
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            word.range(i * W + W - 1, i * W) = ap_uint<W>(x[i].range(W - 1, 0));
        }
        out.write(word);
    }
}

}  // namespace sat
