"""One-pass CPU kernels for the activation and weight quantizers in training (issue 10's
speed-up).

:class:`sat_hw.nn.quant._ActQuant` computes its output, and in the backward its two gradient terms,
with a handful of eager passes over the activation tensor each. Here each is one C loop over the
tensor's storage, compiled once per machine with the system's C compiler and called through
ctypes: the forward reads ``x`` and writes ``out``; the backward reads ``g`` and ``x`` and writes
``dx`` and ``g * dout/dalpha`` (the alpha gradient's sum stays ATen's, so it adds in the same
order as before). The weight quantizer (:class:`sat_hw.nn.quant._WeightQuant`) does all but
``tanh``, its backward and one ATen sum in three more loops. The loops do the reference's IEEE
operations in the reference's order, with no contraction into fused multiply-adds, and
``nearbyintf`` rounds half to even as ``torch.round`` does: every value is the same
(tests/test_quant.py, tests/test_train.py).

The library is cached under ``$SAT_HW_CACHE/fused/<hash>`` (source, flags, compiler). Where
compiling fails, :data:`ENABLED` goes off with one warning and the eager path runs;
``SAT_HW_FUSED_QUANT=0`` turns the kernels off.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

from sat_hw.base.cache import cache_root

ENABLED = os.environ.get("SAT_HW_FUSED_QUANT", "1") != "0"
CC = os.environ.get("CC", "cc")
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fopenmp",
         "-shared", "-fPIC"]

SOURCE = r"""
#include <math.h>
#include <stdint.h>

/* clip(x, 0, a) as torch.clamp(x, min=0) then torch.minimum(., a): NaN stays NaN */
static inline float clip(float v, float a) {
    float c = v < 0.f ? 0.f : v;
    return c > a ? a : c;
}

void sat_act_out(const float *x, float *out, int64_t len, float a, float n, int threads) {
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < len; i++) {
        float q = nearbyintf(n * clip(x[i], a) / a) / n;
        out[i] = q * a;
    }
}

void sat_act_grads(const float *g, const float *x, float *gx, float *gda, int64_t len,
                   float a, float n, int calibrated, int threads) {
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < len; i++) {
        float v = x[i];
        float above = v >= a ? 1.f : 0.f;
        float inside = (v >= 0.f ? 1.f : 0.f) - above;
        float da = above;
        if (calibrated && !(v >= a)) {
            float xc = clip(v, a);
            da = nearbyintf(n * xc / a) / n - xc / a;
        }
        gx[i] = g[i] * inside;
        gda[i] = g[i] * da;
    }
}

/* DoReFa weights: m = max|t| (t = tanh(w), ATen's); q = 2*round(n*(t/m + 1)/2)/n - 1 */
float sat_w_levels(const float *t, float *q, int64_t len, float n) {
    float m = 0.f;
    for (int64_t i = 0; i < len; i++) {
        float v = fabsf(t[i]);
        m = v > m ? v : m;
    }
    for (int64_t i = 0; i < len; i++)
        q[i] = 2.f * nearbyintf(n * (t[i] / m + 1.f) / 2.f) / n - 1.f;
    return m;
}

/* autograd's terms for t/m: g' = ((g/n)*2/2)*n, gt = g'/m, prod = -g' * ((t/m)/m) */
void sat_w_grads(const float *g, const float *t, float *gt, float *prod, int64_t len, float n,
                 float m) {
    for (int64_t i = 0; i < len; i++) {
        float gp = g[i] / n * 2.f / 2.f * n;
        gt[i] = gp / m;
        prod[i] = -gp * (t[i] / m / m);
    }
}

/* max|t|'s gradient gm, split evenly among the maximal elements, times sgn(t), added to gt */
void sat_w_max_grad(const float *t, float *gt, int64_t len, float m, float gm) {
    int64_t count = 0;
    for (int64_t i = 0; i < len; i++)
        count += fabsf(t[i]) == m;
    float v = gm / (float)count;
    for (int64_t i = 0; i < len; i++) {
        float s = (float)((t[i] > 0.f) - (t[i] < 0.f));
        gt[i] = gt[i] + (fabsf(t[i]) == m ? v : 0.f) * s;
    }
}
"""

_lib = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        cc = subprocess.run([CC, "--version"], capture_output=True, text=True, check=True)
        key = hashlib.sha256("\0".join([SOURCE, *FLAGS, cc.stdout, platform.machine(),
                                        _cpu()]).encode()).hexdigest()[:16]
        so = cache_root() / "fused" / key / "sat_fused.so"
        if not so.is_file():
            so.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=so.parent) as tmp:
                src = Path(tmp) / "sat_fused.c"
                src.write_text(SOURCE)
                r = subprocess.run([CC, *FLAGS, str(src), "-o", str(Path(tmp) / so.name)],
                                   capture_output=True, text=True, check=False)
                if r.returncode:
                    raise RuntimeError((r.stderr.strip().splitlines() or ["?"])[0])
                (Path(tmp) / so.name).replace(so)
        lib = ctypes.CDLL(str(so))
        p, i64, f, i = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int
        lib.sat_act_out.argtypes = [p, p, i64, f, f, i]
        lib.sat_act_grads.argtypes = [p, p, p, p, i64, f, f, i, i]
        lib.sat_w_levels.argtypes = [p, p, i64, f]
        lib.sat_w_levels.restype = f
        lib.sat_w_grads.argtypes = [p, p, p, p, i64, f, f]
        lib.sat_w_max_grad.argtypes = [p, p, i64, f, f]
        _lib = lib
    return _lib


def _cpu() -> str:
    try:
        return next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("flags")), "")
    except OSError:
        return ""


def _dense(t: Tensor) -> bool:
    return t.dtype == torch.float32 and t.storage_offset() == 0 and (
        t.is_contiguous() or (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)))


def usable(x: Tensor) -> bool:
    """Whether the kernels are on and can run on ``x`` (float32, dense NCHW or channels-last)."""
    global ENABLED
    if not ENABLED or not _dense(x):
        return False
    try:
        _library()
    except Exception as e:  # noqa: BLE001 - no compiler, a failed compile: the eager path is exact
        ENABLED = False
        warnings.warn(f"sat_hw: fused activation quantizer off ({type(e).__name__}: {e}); "
                      "training runs the eager quantizers", stacklevel=3)
        return False
    return True


def quant_out(x: Tensor, alpha: Tensor, n: int) -> Tensor:
    """``alpha * round(n * clip(x, 0, alpha) / alpha) / n``, laid out as ``x``."""
    out = torch.empty_like(x)
    _library().sat_act_out(x.data_ptr(), out.data_ptr(), x.numel(), float(alpha), float(n),
                           torch.get_num_threads())
    return out


def quant_grads(g: Tensor, x: Tensor, alpha: Tensor, n: int, calibrated: bool):
    """``(g * inside, g * dout/dalpha)`` laid out as ``x``; None where ``g`` is laid out
    differently from ``x``."""
    if g.stride() != x.stride() or not _dense(g):
        return None
    gx, gda = torch.empty_like(x), torch.empty_like(x)
    _library().sat_act_grads(g.data_ptr(), x.data_ptr(), gx.data_ptr(), gda.data_ptr(),
                             x.numel(), float(alpha), float(n), int(calibrated),
                             torch.get_num_threads())
    return gx, gda


def weight_levels(t: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """``(2*round(n*(t/m + 1)/2)/n - 1, m)`` with ``m = max|t|`` (a 0-dim tensor)."""
    q = torch.empty_like(t)
    m = _library().sat_w_levels(t.data_ptr(), q.data_ptr(), t.numel(), float(n))
    return q, torch.tensor(m, dtype=t.dtype)


def weight_grad(g: Tensor, t: Tensor, m: Tensor, n: int) -> Tensor | None:
    """d loss/d t of the weight quantizer given ``g`` = d loss/d q (before ``tanh``'s backward);
    None where ``g`` is not dense like ``t``."""
    if g.stride() != t.stride() or not _dense(g):
        return None
    lib, mf = _library(), float(m)
    gt, prod = torch.empty_like(t), torch.empty_like(t)
    lib.sat_w_grads(g.data_ptr(), t.data_ptr(), gt.data_ptr(), prod.data_ptr(), t.numel(),
                    float(n), mf)
    gm = prod.sum(list(range(prod.dim())), keepdim=True)  # autograd's sum_to, ATen's order
    lib.sat_w_max_grad(t.data_ptr(), gt.data_ptr(), t.numel(), mf, float(gm))
    return gt
