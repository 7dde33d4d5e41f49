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

/* exp(x) before the range clamps (those of fl_expf and fl_expf_nonpos below). */
FL_INLINE float FL_CAT2(fl_expf_core, FL_PATH)(float x)
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
    return res;
}

FL_INLINE float FL_CAT2(fl_expf, FL_PATH)(float x)
{
    const float res = FL_CAT2(fl_expf_core, FL_PATH)(x);
    return x > 88.72283f ? (float)INFINITY : x < -87.33654f ? 0.0f : res;
}

/* exp(x) for x <= 0 or NaN (the losses' exp(-|x|)): no overflow clamp to pay for. */
FL_INLINE float FL_CAT2(fl_expf_nonpos, FL_PATH)(float x)
{
    const float res = FL_CAT2(fl_expf_core, FL_PATH)(x);
    return x < -87.33654f ? 0.0f : res;
}

FL_INLINE double FL_CAT2(fl_exp_core, FL_PATH)(double x)
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
    return res;
}

FL_INLINE double FL_CAT2(fl_exp, FL_PATH)(double x)
{
    const double res = FL_CAT2(fl_exp_core, FL_PATH)(x);
    return x > 709.782712893384 ? (double)INFINITY : x < -708.3964185322641 ? 0.0 : res;
}

FL_INLINE double FL_CAT2(fl_exp_nonpos, FL_PATH)(double x)
{
    const double res = FL_CAT2(fl_exp_core, FL_PATH)(x);
    return x < -708.3964185322641 ? 0.0 : res;
}

/* Vectorisable natural log for double, for x > 0 normal or +inf (the kernels call it on
 * sums of exponentials, which lie in [1, c]; other inputs give unspecified results
 * except NaN -> NaN). x = 2^k * f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(u),
 * u = (f - 1) / (f + 1), |u| <= 0.1716, summed as the odd series to u^23, whose
 * truncation error is below 1e-19 relative. Within 2 ulp of libm's log for normal
 * x > 0 (tested); +inf -> +inf, 0 -> -inf, negative or NaN -> NaN. */
FL_INLINE double FL_CAT2(fl_log, FL_PATH)(double x)
{
    FL_CAT2(fl_f64bits, FL_PATH) b;
    double f, u, u2, p, k, res;
    int32_t e;
    b.f = x;
    /* Exponent relative to sqrt(1/2), from the high word (32-bit lanes convert to
     * double on AVX2; 64-bit ones do not): subtracting the bits of sqrt(1/2) puts the
     * mantissa window [sqrt(1/2), sqrt(2)) into one exponent bucket. */
    e = (int32_t)((uint32_t)((uint64_t)b.i >> 32) - 0x3FE6A09Eu);
    e = e >> 20; /* arithmetic shift: the unbiased exponent k, sign included */
    k = (double)e;
    b.i = (int64_t)((uint64_t)b.i - ((uint64_t)(int64_t)e << 52));
    f = b.f;
    u = (f - 1.0) / (f + 1.0);
    u2 = u * u;
    p = 1.0 / 23;
    p = p * u2 + 1.0 / 21;
    p = p * u2 + 1.0 / 19;
    p = p * u2 + 1.0 / 17;
    p = p * u2 + 1.0 / 15;
    p = p * u2 + 1.0 / 13;
    p = p * u2 + 1.0 / 11;
    p = p * u2 + 1.0 / 9;
    p = p * u2 + 1.0 / 7;
    p = p * u2 + 1.0 / 5;
    p = p * u2 + 1.0 / 3;
    /* k ln2 split in a high part with trailing zeros (k * hi exact) and a low part. */
    res = k * 6.93147180369123816490e-01
          + (2.0 * u + (2.0 * u * u2 * p + k * 1.90821492927058770002e-10));
    res = x == (double)INFINITY ? x : res;
    res = x == 0.0 ? -(double)INFINITY : res;
    return x < 0.0 || x != x ? (double)NAN : res;
}

/* Vectorisable natural log for float (Cephes logf): x = 2^e * f, f in
 * [sqrt(1/2), sqrt(2)), log f = t - t^2/2 + t^3 P(t) with t = f - 1. For x > 0 normal
 * or +inf; 0 gives -inf; NaN and negatives give NaN. Within 2 ulp (tested). */
FL_INLINE float FL_CAT2(fl_logf, FL_PATH)(float x)
{
    FL_CAT2(fl_f32bits, FL_PATH) b;
    float f, t, z, y, e, res;
    int32_t ei;
    b.f = x;
    ei = (int32_t)((uint32_t)b.i - 0x3F3504F3u) >> 23; /* exponent vs sqrt(1/2) */
    e = (float)ei;
    b.i = (int32_t)((uint32_t)b.i - ((uint32_t)ei << 23));
    f = b.f;
    t = f - 1.0f;
    z = t * t;
    y = 7.0376836292E-2f;
    y = y * t - 1.1514610310E-1f;
    y = y * t + 1.1676998740E-1f;
    y = y * t - 1.2420140846E-1f;
    y = y * t + 1.4249322787E-1f;
    y = y * t - 1.6668057665E-1f;
    y = y * t + 2.0000714765E-1f;
    y = y * t - 2.4999993993E-1f;
    y = y * t + 3.3333331174E-1f;
    y = y * t * z;
    y = y + e * -2.12194440e-4f;
    y = y - 0.5f * z;
    res = t + y + e * 0.693359375f;
    res = x == (float)INFINITY ? x : res;
    res = x == 0.0f ? -(float)INFINITY : res;
    return x < 0.0f || x != x ? (float)NAN : res;
}

/* log(1 + t) for t > -1, accurate for tiny t (Goldberg: with u = 1 + t rounded,
 * log(u) * t / (u - 1) cancels the rounding of u). */
FL_INLINE float FL_CAT2(fl_log1pf, FL_PATH)(float t)
{
    const float u = 1.0f + t, d = u - 1.0f;
    return d == 0.0f ? t : FL_CAT2(fl_logf, FL_PATH)(u) * (t / d);
}

FL_INLINE double FL_CAT2(fl_log1p, FL_PATH)(double t)
{
    const double u = 1.0 + t, d = u - 1.0;
    return d == 0.0 ? t : FL_CAT2(fl_log, FL_PATH)(u) * (t / d);
}

/* log(1 + t) for float t in [0, 1] (the losses' log1p(exp(-|x|))), in one division
 * and no range reduction: log(1 + t) = 2 atanh(w), w = t / (2 + t) in [0, 1/3],
 *   2 atanh(w) = 2w + 2w w^2 P(w^2),   2w = t - t w (exact algebra),
 * P a degree-3 fit (Chebyshev nodes on [0, 1/9]) to (atanh(w)/w - 1)/w^2, whose error
 * is 1.5e-8 relative (a quarter of float32's ulp). t - t w rather than 2w: the
 * division's rounding then enters through t w <= t / 3 only (1.4 ulp at most in
 * all, against 1.9). No cancellation: t w <= t / 3 and the polynomial's term is >= 0,
 * so tiny t keeps its relative accuracy (the result -> t). Within 2 ulp on [0, 1]
 * (tested in tests/test_ew_fastpaths.py); 0 -> 0, NaN -> NaN. Inputs outside [0, 1]
 * give unspecified results. */
FL_INLINE float FL_CAT2(fl_log1pf01, FL_PATH)(float t)
{
    const float w = t / (2.0f + t), z = w * w;
    float p = 2 * 0.134337742303888f; /* 2 P: the factor 2 folded in exactly */
    p = p * z + 2 * 0.14116978045681525f;
    p = p * z + 2 * 0.2000383542618125f;
    p = p * z + 2 * 0.3333331983287616f;
    return (t - t * w) + (w * z) * p;
}

/* The same for double t in [0, 1]: log(1 + t) = (t - t w) + 2 w w^2 P(w^2),
 * w = t / (2 + t), P of degree 9 interpolating (atanh(w)/w - 1)/w^2 at Chebyshev
 * nodes of [0, 1/9] (relative error 1.9e-16; the P term is at most 4 % of the
 * result, so it adds 0.07 ulp). One division, against two and a range reduction
 * through fl_log1p. Within 2 ulp of the correctly rounded log1p on [0, 1]
 * (checked against mpmath at 40 000 points); 0 -> 0, tiny t -> t, NaN -> NaN. */
FL_INLINE double FL_CAT2(fl_log1p01, FL_PATH)(double t)
{
    const double w = t / (2.0 + t), z = w * w;
    double p = 2 * 0.08082022805971766; /* 2 P: the factor 2 folded in exactly */
    p = p * z + 2 * 0.04400369243072337;
    p = p * z + 2 * 0.06000536404795356;
    p = p * z + 2 * 0.06657072104827468;
    p = p * z + 2 * 0.07692785032479312;
    p = p * z + 2 * 0.09090894718066429;
    p = p * z + 2 * 0.11111111358713932;
    p = p * z + 2 * 0.1428571428355438;
    p = p * z + 2 * 0.20000000000007292;
    p = p * z + 2 * 0.3333333333333333;
    return (t - t * w) + (w * z) * p;
}
