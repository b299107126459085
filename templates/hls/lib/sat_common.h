// sat_hw HLS header library: common types.
//
// Streams carry sat::vec<T, N> beats: N elements of T, element 0 first (docs/hardware.md
// "Streams": element i of a beat is tdata[i*B +: B] on the RTL bus). Codes are ap_uint of the
// activation bits; accumulators ap_int of the graph's acc_bits. Every block processes one image
// per call and knows the image's shape from its config struct.
#pragma once

#include "ap_int.h"
#include "hls_stream.h"
#include "sat_rom.h"

namespace sat {

// One stream beat: N elements of T.
template <typename T, unsigned N>
struct vec {
    T v[N];
    T &operator[](unsigned i) { return v[i]; }
    const T &operator[](unsigned i) const { return v[i]; }
};

// Bits of an unsigned integer that holds 0..max.
constexpr int ubits(unsigned long long max) { return max == 0 ? 1 : 1 + (max > 1 ? ubits(max >> 1) : 0); }

// Largest code at `bits`: 2^bits - 1.
constexpr unsigned long long levels(int bits) { return (1ULL << bits) - 1; }

}  // namespace sat
