// sat_hw HLS header library: the element type of constant tables (weights, thresholds, bias).
//
// The generated tables live in their own translation units (firmware/weights/<layer>.cpp), which
// include only this header: in C simulation they need no ap_types at all.
#pragma once

#include <stdint.h>

#ifdef __SYNTHESIS__
#include "ap_int.h"
#endif

namespace sat {

// Storage type of a table element of W bits (S: signed).
//
// In synthesis the tables are ap_int/ap_uint of the exact width, so each ROM is as wide as the
// RTL's. In C simulation they are the narrowest native integer that holds W bits: g++ builds an
// array of ap_uint with an initializer element by element at run time (a 200k-element
// ap_uint<3> table took 199 s and 5.7 GB to compile, the same table of unsigned char 2 s).
// Blocks convert every element to the exact-width type before using it, so the arithmetic is
// the same; the generator checks that every value fits W bits.
#ifdef __SYNTHESIS__
template <int W, bool S> struct rom { typedef ap_uint<W> t; };
template <int W> struct rom<W, true> { typedef ap_int<W> t; };
#else
template <int W, bool S, int C = (W <= 8 ? 8 : W <= 16 ? 16 : W <= 32 ? 32 : 64)> struct rom;
template <int W> struct rom<W, false, 8> { typedef uint8_t t; };
template <int W> struct rom<W, false, 16> { typedef uint16_t t; };
template <int W> struct rom<W, false, 32> { typedef uint32_t t; };
template <int W> struct rom<W, false, 64> { typedef uint64_t t; };
template <int W> struct rom<W, true, 8> { typedef int8_t t; };
template <int W> struct rom<W, true, 16> { typedef int16_t t; };
template <int W> struct rom<W, true, 32> { typedef int32_t t; };
template <int W> struct rom<W, true, 64> { typedef int64_t t; };
#endif

}  // namespace sat
