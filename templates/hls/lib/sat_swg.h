// sat_hw HLS header library: sliding-window generator (docs/hardware.md, sat_swg).
//
// Input: a CH x IN_H x IN_W feature map in raster order, SIMD channels per beat (CH/SIMD beats
// per pixel). Output: for each output pixel (oy, ox) in raster order, for each channel group g in
// 0..CH/SIMD-1, one beat of K*K*SIMD codes; element t*SIMD + c (t = ky*K + kx) is the code at row
// oy*STRIDE - PAD + ky, column ox*STRIDE - PAD + kx, channel g*SIMD + c, or 0 outside the image.
//
// A buffer of K rows holds the input (row r in slot r % K). Before the windows of output row oy
// leave, the rows up to oy*STRIDE - PAD + K - 1 are read; rows no window needs (past the last
// window) are read and dropped, so the block consumes exactly one image. Reading and emitting
// alternate per output row (the RTL block overlaps them; the order of beats is the same).
#pragma once

#include "sat_common.h"

namespace sat {

// CFG: CH, IN_H, IN_W, OUT_H, OUT_W, K, STRIDE, PAD, SIMD, BITS (of the codes).
template <class CFG>
void swg(hls::stream<vec<ap_uint<CFG::BITS>, CFG::SIMD> > &in,
         hls::stream<vec<ap_uint<CFG::BITS>, CFG::K * CFG::K * CFG::SIMD> > &out) {
    typedef ap_uint<CFG::BITS> code_t;
    const int GROUPS = CFG::CH / CFG::SIMD;
    vec<code_t, CFG::SIMD> buf[CFG::K][CFG::IN_W][GROUPS];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1
    int rows = 0;  // input rows read so far
swg_rows:
    for (int oy = 0; oy < CFG::OUT_H; oy++) {
        int need = oy * CFG::STRIDE - CFG::PAD + CFG::K;
        if (need > CFG::IN_H) need = CFG::IN_H;
    swg_read:
        for (; rows < need; rows++) {
            for (int x = 0; x < CFG::IN_W; x++) {
                for (int g = 0; g < GROUPS; g++) {
#pragma HLS PIPELINE II = 1
                    buf[rows % CFG::K][x][g] = in.read();
                }
            }
        }
    swg_emit:
        for (int ox = 0; ox < CFG::OUT_W; ox++) {
            for (int g = 0; g < GROUPS; g++) {
#pragma HLS PIPELINE II = 1
                vec<code_t, CFG::K * CFG::K * CFG::SIMD> w;
                for (int ky = 0; ky < CFG::K; ky++) {
#pragma HLS UNROLL
                    for (int kx = 0; kx < CFG::K; kx++) {
#pragma HLS UNROLL
                        const int y = oy * CFG::STRIDE - CFG::PAD + ky;
                        const int x = ox * CFG::STRIDE - CFG::PAD + kx;
                        const bool inside = y >= 0 && y < CFG::IN_H && x >= 0 && x < CFG::IN_W;
                        const int t = ky * CFG::K + kx;
                        for (int c = 0; c < CFG::SIMD; c++) {
#pragma HLS UNROLL
                            w[t * CFG::SIMD + c] = inside ? buf[y % CFG::K][x][g][c] : code_t(0);
                        }
                    }
                }
                out.write(w);
            }
        }
    }
swg_drain:
    for (; rows < CFG::IN_H; rows++) {
        for (int x = 0; x < CFG::IN_W; x++) {
            for (int g = 0; g < GROUPS; g++) {
#pragma HLS PIPELINE II = 1
                in.read();
            }
        }
    }
}

}  // namespace sat
