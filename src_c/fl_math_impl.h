/* Vectorisable exp for float and double; included once per SIMD path with FL_PATH
 * defined (no include guard on purpose): helpers must be compiled with the same target
 * as the kernels that inline them.
 *
 * Method (Cephes): exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 with
 * ln 2 split in a high part exact in few bits and a low part, so r is exact-ish and
 * |r| <= ln2/2. exp(r) is a degree-6 minimax polynomial (float) or a (2,3) Pade form
 * (double); 2^n is built in the exponent bits. n = round(.) uses the 1.5*2^k "magic
 * number" add, which is exact IEEE rounding and vectorises on SSE2 (no floor/rint).
 * Accuracy: within 2 ulp of the correctly rounded exp on the domain (tested in
 * tests/test_vexp.py). Underflow (x below the smallest normal result) returns 0, which
 * makes -inf inputs exact zeros: masked logits get exactly zero probability. NaN
 * propagates (no min/max clamp, whose x86 semantics would swallow a NaN). */

#ifndef FL_PATH
#error "define FL_PATH before including fl_math_impl.h"
#endif

#include <math.h>

typedef union { float f; int32_t i; } FL_CAT2(fl_f32bits, FL_PATH);
typedef union { double f; int64_t i; } FL_CAT2(fl_f64bits, FL_PATH);

FL_INLINE float FL_CAT2(fl_expf, FL_PATH)(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    FL_CAT2(fl_f32bits, FL_PATH) t, s;
    float n, r, p, res;
    t.f = x * 1.44269504088896341f + magic;
    n = t.f - magic;
    r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n in the exponent bits; unsigned so out-of-range lanes (masked below) are
     * defined behaviour. */
    s.i = (int32_t)(((uint32_t)t.i - 0x4B400000u + 127u) << 23);
    res = p * s.f;
    res = x < -87.33654f ? 0.0f : res;
    res = x > 88.72283f ? (float)INFINITY : res;
    return res;
}

FL_INLINE double FL_CAT2(fl_exp, FL_PATH)(double x)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    FL_CAT2(fl_f64bits, FL_PATH) t, s;
    double n, r, rr, px, qx, res;
    t.f = x * 1.4426950408889634074 + magic;
    n = t.f - magic;
    r = x - n * 6.93145751953125E-1;
    r = r - n * 1.42860682030941723212E-6;
    rr = r * r;
    px = r * ((1.26177193074810590878E-4 * rr + 3.02994407707441961300E-2) * rr
              + 9.99999999999999999910E-1);
    qx = ((3.00198505138664455042E-6 * rr + 2.52448340349684104192E-3) * rr
          + 2.27265548208155028766E-1) * rr + 2.00000000000000000009E0;
    res = 1.0 + 2.0 * (px / (qx - px));
    s.i = (int64_t)(((uint64_t)t.i - 0x4338000000000000ULL + 1023u) << 52);
    res = res * s.f;
    res = x < -708.3964185322641 ? 0.0 : res;
    res = x > 709.782712893384 ? (double)INFINITY : res;
    return res;
}
