// sat_hw HLS header library: the top's AXI4-Stream ports (TDATA, TKEEP, TSTRB, TLAST).
//
// Beats are ap_axiu<D, 0, 0, 0> from the vendor's ap_axi_sdata.h (Vitis HLS always has it).
// Where that header is absent -- the g++ C-simulation against hls4ml's ap_types, which ship
// none -- the small stand-in below declares the members these adapters use (data, keep, strb,
// last; user, id and dest at least one bit wide). SAT_AXIS_VENDOR says which one was taken.
//
// Packing (docs/hls.md, "Ports"): element i of a beat sits in lane i of TDATA, bits
// [i*LANE +: LANE], LANE the element's width rounded up to 8, 16, 32 or 64; input codes are
// read from the low bits of their lane (the rest ignored), outputs are sign-extended to it.
#pragma once

#include "sat_common.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define SAT_AXIS_VENDOR 1
#endif
#endif

#ifndef SAT_AXIS_VENDOR
#define SAT_AXIS_VENDOR 0
// Stand-in for the vendor's unsigned AXI4-Stream beat (C simulation only).
template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<(U > 0 ? U : 1)> user;
    ap_uint<1> last;
    ap_uint<(TI > 0 ? TI : 1)> id;
    ap_uint<(TD > 0 ? TD : 1)> dest;
};
#endif

namespace sat {

// Bits of one TDATA lane holding a `bits`-bit element: 8, 16, 32 or 64.
constexpr int lane_bits(int bits) { return bits <= 8 ? 8 : bits <= 16 ? 16 : bits <= 32 ? 32 : 64; }

// The status word the input adapter writes once per frame (docs/hls.md, "Control and status").
const unsigned STATUS_SHORT = 1;  // TLAST before the frame's last beat: the rest fed as zeros
const unsigned STATUS_LONG = 2;   // no TLAST on the last beat: beats dropped through the next TLAST
const int STATUS_COUNT_LSB = 16;  // bits 31..16: frames of the wrong length since reset (saturating)

// AXI4-Stream in -> beats of N codes of W bits, BEATS per frame. The frame ends at TLAST: an
// early TLAST ends it short (the missing beats are zeros), a frame whose beat BEATS carries no
// TLAST is long (its extra beats are read and dropped through the next TLAST); either way one
// frame in gives one image downstream, the next frame starts aligned, and `status` says so.
template <int W, unsigned N, unsigned BEATS, int LANE>
void unpack(hls::stream<ap_axiu<N * LANE, 0, 0, 0> > &in, hls::stream<vec<ap_uint<W>, N> > &out,
            ap_uint<32> &status) {
    static_assert(W <= LANE, "unpack: a code wider than its lane");
    static ap_uint<16> wrong_frames = 0;
    bool ended = false, early = false;
unpack_beats:
    for (unsigned b = 0; b < BEATS; b++) {
#pragma HLS PIPELINE II = 1
        ap_uint<N * LANE> word = 0;
        if (!ended) {
            const ap_axiu<N * LANE, 0, 0, 0> t = in.read();
            word = t.data;
            ended = t.last;
            early = ended && b + 1 < BEATS;
        }
        vec<ap_uint<W>, N> y;
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            y[i] = word.range(i * LANE + W - 1, i * LANE);
        }
        out.write(y);
    }
    const bool late = !ended;
unpack_drop:
    while (!ended) {
#pragma HLS PIPELINE II = 1
        ended = in.read().last;
    }
    if ((early || late) && wrong_frames != 0xffff) wrong_frames++;
    ap_uint<32> s = 0;
    s.range(31, STATUS_COUNT_LSB) = wrong_frames;
    s[0] = early;
    s[1] = late;
    status = s;
}

// Beats of N elements (ap_int or ap_uint of W bits) -> AXI4-Stream, BEATS per image: each
// element sign- or zero-extended to its lane, TKEEP and TSTRB all ones, TLAST on the last beat.
template <int W, unsigned N, unsigned BEATS, int LANE, typename T>
void pack(hls::stream<vec<T, N> > &in, hls::stream<ap_axiu<N * LANE, 0, 0, 0> > &out) {
    static_assert(W <= LANE, "pack: an element wider than its lane");
pack_beats:
    for (unsigned b = 0; b < BEATS; b++) {
#pragma HLS PIPELINE II = 1
        const vec<T, N> x = in.read();
        ap_axiu<N * LANE, 0, 0, 0> t;
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            const ap_int<LANE> e = x[i];  // T is W bits: sign-extends ap_int, zero-extends ap_uint
            t.data.range(i * LANE + LANE - 1, i * LANE) = ap_uint<LANE>(e);
        }
        t.keep = -1;
        t.strb = -1;
        t.last = b == BEATS - 1;
        out.write(t);
    }
}

}  // namespace sat
