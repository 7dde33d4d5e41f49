/* The softmax row engine's hand-vectorised AVX2 sweeps: included by the softmax
 * kernel bodies inside the AVX2 instantiation only (FL_PATH_VBYTES == 32), once per
 * dtype, with FL_FN, FL_T and FL_F64 defined; no include guard on purpose. The other
 * paths keep the compiler-vectorised loops.
 *
 * Why by hand: the compiler's `omp simd reduction` of sum exp(x - m) into a float64
 * sum keeps one accumulator per half vector, a chain of dependent adds that bounds
 * the loop (3 cycles per 8 floats on Zen 3), and its exp pays a compare and a blend
 * per clamp. Here:
 *   exp      for x <= 0, -inf or NaN only (x - m with m the row maximum): the range
 *            reduction's input is clamped with one max (no overflow, no special
 *            lanes), and the lanes below the underflow threshold are cleared with one
 *            compare and one and-not; NaN passes through both (max returns its second
 *            operand when one is NaN; NaN < t is false). float: the Cephes reduction
 *            and polynomial of fl_math_impl.h, evaluated by Estrin; double: an
 *            8-entry table in registers and a degree-8 polynomial in place of the
 *            Pade form, whose division alone costs about a cycle per double on
 *            Zen 3 (under 1 ulp against expl on [-708.39, 0], 9 M points).
 *   sum      float: fixed blocks of 128 entries summed in a float vector (a lane adds
 *            16 terms in [0, 1]), each block's sum added to float64 vectors; double:
 *            two vector accumulators. The order depends only on the length, never
 *            on the thread count or on whether the gradient is stored (the store is
 *            the only difference between loss-only and fused).
 *   max      four accumulators (the order of a max does not change its value). */

#include <immintrin.h>

#ifndef FL_SM_BLOCK
#define FL_SM_BLOCK 128 /* float entries a block: 16 a lane */
#endif

#if !FL_F64
#define FL_SM_W 8 /* lanes */
typedef __m256 FL_FN(smv);
#define FL_SMV_LOADU _mm256_loadu_ps
#define FL_SMV_LOAD _mm256_load_ps
#define FL_SMV_STORE _mm256_store_ps
#define FL_SMV_STOREU _mm256_storeu_ps
#define FL_SMV_SET1 _mm256_set1_ps
#define FL_SMV_ZERO _mm256_setzero_ps
#define FL_SMV_ADD _mm256_add_ps
#define FL_SMV_SUB _mm256_sub_ps
#define FL_SMV_MUL _mm256_mul_ps
#define FL_SMV_MAX _mm256_max_ps
#define FL_SMV_AND _mm256_and_ps
#define FL_SMV_MASKLOAD(p, k) _mm256_maskload_ps(p, k)
#define FL_SMV_MASKSTORE(p, k, v) _mm256_maskstore_ps(p, k, v)
#define FL_SMV_CASTI _mm256_castsi256_ps
#else
#define FL_SM_W 4
typedef __m256d FL_FN(smv);
#define FL_SMV_LOADU _mm256_loadu_pd
#define FL_SMV_LOAD _mm256_load_pd
#define FL_SMV_STORE _mm256_store_pd
#define FL_SMV_STOREU _mm256_storeu_pd
#define FL_SMV_SET1 _mm256_set1_pd
#define FL_SMV_ZERO _mm256_setzero_pd
#define FL_SMV_ADD _mm256_add_pd
#define FL_SMV_SUB _mm256_sub_pd
#define FL_SMV_MUL _mm256_mul_pd
#define FL_SMV_MAX _mm256_max_pd
#define FL_SMV_AND _mm256_and_pd
#define FL_SMV_MASKLOAD(p, k) _mm256_maskload_pd(p, k)
#define FL_SMV_MASKSTORE(p, k, v) _mm256_maskstore_pd(p, k, v)
#define FL_SMV_CASTI _mm256_castsi256_pd
#endif

/* exp(x) for every lane x <= 0, -inf or NaN (see the top). */
FL_INLINE FL_FN(smv) FL_FN(sm_vexp)(FL_FN(smv) x)
{
#ifdef FL_STUB
    return FL_SMV_MUL(x, x);
#endif
#if !FL_F64
    const __m256 magic = _mm256_set1_ps(12582912.0f); /* 1.5 * 2^23 */
    const __m256 xc = _mm256_max_ps(_mm256_set1_ps(-87.5f), x);
    const __m256 t = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), magic);
    const __m256 n = _mm256_sub_ps(t, magic);
    __m256 r, r2, r4, q0, q1, q2, p, s;
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    /* exp(r) = 1 + r + r^2 q(r), q of degree 5 by Estrin (pairs, then r^2, r^4):
     * a dependency chain of 4 operations instead of Horner's 6, so that more exps
     * are in flight (the loop is bound by latency, not throughput, on Zen 3) */
    r2 = _mm256_mul_ps(r, r);
    r4 = _mm256_mul_ps(r2, r2);
    q0 = _mm256_fmadd_ps(_mm256_set1_ps(1.6666665459e-1f), r,
                         _mm256_set1_ps(5.0000001201e-1f));
    q1 = _mm256_fmadd_ps(_mm256_set1_ps(8.3334519073e-3f), r,
                         _mm256_set1_ps(4.1665795894e-2f));
    q2 = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r,
                         _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(q2, r4, _mm256_fmadd_ps(q1, r2, q0));
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n in the exponent bits: n in [-126, 0] after the clamp (a normal number) */
    s = _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127 - 0x4B400000)),
        23));
    p = _mm256_mul_ps(p, s);
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ),
                            p);
#else
    /* exp(x) = 2^(k/8) exp(r), k = round(8 x / ln 2), r = x - k ln2 / 8, |r| <=
     * ln2 / 16: 2^(j/8), j = k mod 8, from an 8-entry table held in two registers
     * (lane permutes, no gather), times 2^floor(k/8) in its exponent bits; exp(r) - 1
     * = r + r^2 q(r), q of degree 6 by Estrin (truncation 1.5e-18 relative); the
     * result T + T (exp(r) - 1) in one multiply-add. 12 multiply-adds against the 17
     * of a degree-13 polynomial on |r| <= ln2 / 2. */
    const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    const __m256d xc = _mm256_max_pd(_mm256_set1_pd(-708.5), x);
    const __m256d t = _mm256_fmadd_pd(xc, _mm256_set1_pd(11.541560327111707), magic);
    const __m256d kf = _mm256_sub_pd(t, magic);
    const __m256i ti = _mm256_castpd_si256(t);
    __m256d r, r2, r4, q, tab, lo, hi;
    __m256i idx;
    /* ln2 / 8 in a high part exact in few bits (kf * hi exact) and a low part */
    r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(6.93145751953125E-1 / 8), xc);
    r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(1.42860682030941723212E-6 / 8), r);
    r2 = _mm256_mul_pd(r, r);
    r4 = _mm256_mul_pd(r2, r2);
    q = _mm256_fmadd_pd(
        _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 40320), r2,
                        _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 5040), r,
                                        _mm256_set1_pd(1.0 / 720))),
        r4,
        _mm256_fmadd_pd(_mm256_fmadd_pd(_mm256_set1_pd(1.0 / 120), r,
                                        _mm256_set1_pd(1.0 / 24)),
                        r2,
                        _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 6), r,
                                        _mm256_set1_pd(0.5))));
    q = _mm256_fmadd_pd(q, r2, r); /* exp(r) - 1 */
    /* the table entry: the dword pair (2 (j mod 4), +1) of the low or high half */
    idx = _mm256_shuffle_epi32(_mm256_slli_epi32(ti, 1), 0xA0);
    idx = _mm256_add_epi32(idx, _mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1));
    lo = _mm256_castps_pd(_mm256_permutevar8x32_ps(
        _mm256_castpd_ps(_mm256_setr_pd(1.0, 1.0905077326652577, 1.189207115002721,
                                        1.2968395546510096)),
        idx));
    hi = _mm256_castps_pd(_mm256_permutevar8x32_ps(
        _mm256_castpd_ps(_mm256_setr_pd(1.4142135623730951, 1.5422108254079407,
                                        1.681792830507429, 1.8340080864093424)),
        idx));
    tab = _mm256_blendv_pd(lo, hi, _mm256_castsi256_pd(_mm256_slli_epi64(ti, 61)));
    /* times 2^floor(k / 8): (k - j) << 49 is floor(k / 8) << 52 (t's low bits are
     * k's, two's complement); a normal number for every x not cleared below */
    tab = _mm256_castsi256_pd(_mm256_add_epi64(
        _mm256_castpd_si256(tab),
        _mm256_and_si256(_mm256_slli_epi64(ti, 49),
                         _mm256_set1_epi64x((long long)0xFFF0000000000000ULL))));
    return _mm256_andnot_pd(
        _mm256_cmp_pd(x, _mm256_set1_pd(-708.3964185322641), _CMP_LT_OQ),
        _mm256_fmadd_pd(tab, q, tab));
#endif
}

/* out[0, W) = exp(x[0, W)), every x <= 0 or NaN (fl_vexp, for the tests). */
FL_INLINE void FL_FN(sm_vstore_exp)(const FL_T *x, FL_T *out)
{
    FL_SMV_STOREU(out, FL_FN(sm_vexp)(FL_SMV_LOADU(x)));
}

/* The mask of lanes [0, rem), rem in [1, FL_SM_W). */
FL_INLINE __m256i FL_FN(sm_vmask)(int64_t rem)
{
#if !FL_F64
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), idx);
#else
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), idx);
#endif
}

/* The sum of a float64 vector's lanes, in a fixed order. */
FL_INLINE double FL_FN(sm_vsum_d)(__m256d d)
{
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

/* The sum of a vector's lanes in float64, in a fixed order. */
FL_INLINE double FL_FN(sm_vsum)(FL_FN(smv) v)
{
#if !FL_F64
    return FL_FN(sm_vsum_d)(_mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                          _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
#else
    return FL_FN(sm_vsum_d)(v);
#endif
}

/* max over [0, len), len >= 1; NaN is never picked (as sm_max). */
FL_INLINE FL_T FL_FN(sm_max_avx2)(const FL_T *x, int64_t len)
{
    FL_FN(smv) a0 = FL_SMV_SET1(-(FL_T)INFINITY), a1 = a0, a2 = a0, a3 = a0;
    FL_T m, lane[FL_SM_W];
    int64_t k = 0;
    int j;
    /* max(x, a) returns a when x is NaN */
    for (; k + 4 * FL_SM_W <= len; k += 4 * FL_SM_W) {
        a0 = FL_SMV_MAX(FL_SMV_LOADU(x + k), a0);
        a1 = FL_SMV_MAX(FL_SMV_LOADU(x + k + FL_SM_W), a1);
        a2 = FL_SMV_MAX(FL_SMV_LOADU(x + k + 2 * FL_SM_W), a2);
        a3 = FL_SMV_MAX(FL_SMV_LOADU(x + k + 3 * FL_SM_W), a3);
    }
    for (; k + FL_SM_W <= len; k += FL_SM_W)
        a0 = FL_SMV_MAX(FL_SMV_LOADU(x + k), a0);
    a0 = FL_SMV_MAX(FL_SMV_MAX(a0, a1), FL_SMV_MAX(a2, a3));
    FL_SMV_STOREU(lane, a0);
    m = lane[0];
    for (j = 1; j < FL_SM_W; j++)
        m = lane[j] > m ? lane[j] : m;
    for (; k < len; k++)
        m = x[k] > m ? x[k] : m;
    return m;
}

/* exp(x[k, k + W) - m) into g there when `store` */
FL_INLINE FL_FN(smv) FL_FN(sm_vexp_at)(const FL_T *x, FL_T *g, int64_t k,
                                       FL_FN(smv) vm, const int store)
{
    const FL_FN(smv) e = FL_FN(sm_vexp)(FL_SMV_SUB(FL_SMV_LOADU(x + k), vm));
    if (store)
        FL_SMV_STOREU(g + k, e);
    return e;
}

/* e = exp(x - m) over [0, len), stored into g when `store` (a constant at each call
 * site), and sum e in float64, in an order fixed by len alone. float: blocks of
 * FL_SM_BLOCK entries summed in one float vector, each block's sum added to two
 * float64 vectors; double: two vector accumulators. Then the rest, whole vectors and
 * a masked one last, into one more vector, and the lanes in a fixed order. More
 * accumulators, or an unrolled block, measured slower (the loop is bound by the
 * exp; 64-entry blocks cost 6%, 256 saved 3% but add 32 terms a float lane). */
FL_INLINE double FL_FN(sm_expsum_avx2)(const FL_T *x, FL_T *g, int64_t len, FL_T m,
                                       const int store)
{
    const FL_FN(smv) vm = FL_SMV_SET1(m);
    FL_FN(smv) a, e;
    int64_t k = 0;
#if !FL_F64
    __m256d d0 = _mm256_setzero_pd(), d1 = d0;
    while (k + FL_SM_BLOCK <= len) {
        const int64_t kb = k + FL_SM_BLOCK;
        a = FL_SMV_ZERO();
        for (; k < kb; k += FL_SM_W)
            a = FL_SMV_ADD(a, FL_FN(sm_vexp_at)(x, g, k, vm, store));
        d0 = _mm256_add_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
        d1 = _mm256_add_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
    }
#else
    __m256d d0 = _mm256_setzero_pd(), d1 = d0;
    for (; k + 2 * FL_SM_W <= len; k += 2 * FL_SM_W) {
        d0 = FL_SMV_ADD(d0, FL_FN(sm_vexp_at)(x, g, k, vm, store));
        d1 = FL_SMV_ADD(d1, FL_FN(sm_vexp_at)(x, g, k + FL_SM_W, vm, store));
    }
#endif
    a = FL_SMV_ZERO();
    for (; k + FL_SM_W <= len; k += FL_SM_W)
        a = FL_SMV_ADD(a, FL_FN(sm_vexp_at)(x, g, k, vm, store));
    if (k < len) {
        const __m256i mk = FL_FN(sm_vmask)(len - k);
        /* masked-off lanes read as 0 and are not accessed; their exp is cleared */
        e = FL_FN(sm_vexp)(FL_SMV_SUB(FL_SMV_MASKLOAD(x + k, mk), vm));
        e = FL_SMV_AND(e, FL_SMV_CASTI(mk));
        if (store)
            FL_SMV_MASKSTORE(g + k, mk, e);
        a = FL_SMV_ADD(a, e);
    }
    return FL_FN(sm_vsum)(a) + FL_FN(sm_vsum_d)(_mm256_add_pd(d0, d1));
}

/* ---- tiles of short rows, one row per lane (CE's tiny_rows) ----------------------
 * A W x W block transposed in registers (its own inverse): unpacks, then shuffles
 * (float), then 128-bit lane swaps. */
FL_INLINE void FL_FN(sm_tr)(FL_FN(smv) *v)
{
#if !FL_F64
    __m256 t[8], u[8];
    int j;
    for (j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(v[j], v[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(v[j], v[j + 1]);
    }
    for (j = 0; j < 8; j += 4) {
        u[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
        u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
        u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
    }
    for (j = 0; j < 4; j++) {
        v[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        v[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
#else
    const __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]);
    const __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
    v[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    v[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
#endif
}

/* t[k * ld + r] = x[r c + k] for rows r < nr (< lanes, a multiple of W), k < c;
 * the other lanes get 0, and rows k in [c, W-block end) of t get unspecified
 * values. A row's W entries are one plain load where they stay inside the nr rows,
 * else a masked load (masked-off entries are not accessed). t is 32-byte aligned
 * and ld a multiple of W. */
FL_INLINE void FL_FN(sm_tile_load)(FL_T *t, int64_t ld, const FL_T *x, int64_t c,
                                   int nr, int lanes)
{
    FL_FN(smv) v[FL_SM_W];
    const int64_t end = (int64_t)nr * c;
    int64_t j0;
    int r, h;
    for (h = 0; h < lanes; h += FL_SM_W)
        for (j0 = 0; j0 < c; j0 += FL_SM_W) {
            const __m256i mk =
                c - j0 >= FL_SM_W ? _mm256_set1_epi32(-1) : FL_FN(sm_vmask)(c - j0);
            for (r = 0; r < FL_SM_W; r++) {
                const int64_t at = (int64_t)(h + r) * c + j0;
                if (h + r >= nr)
                    v[r] = FL_SMV_ZERO();
                else if (at + FL_SM_W <= end)
                    v[r] = FL_SMV_LOADU(x + at);
                else
                    v[r] = FL_SMV_MASKLOAD(x + at, mk);
            }
            FL_FN(sm_tr)(v);
            for (r = 0; r < FL_SM_W; r++)
                FL_SMV_STORE(t + (j0 + r) * ld + h, v[r]);
        }
}

/* g[r c + k] = t[k * ld + r] for rows r < nr, k < c (reads rows of t up to the
 * W-block end); writes nothing else in the end. Masked stores cost ~20 cycles each
 * on Zen 3, so a row's last partial vector is a whole store that spills into the
 * next row's first entries, which are written after it (the last blocks first, then
 * the others, rows in order): only a store that would pass the group's last row is
 * masked. */
FL_INLINE void FL_FN(sm_tile_store)(FL_T *g, const FL_T *t, int64_t ld, int64_t c,
                                    int nr)
{
    FL_FN(smv) v[FL_SM_W];
    const int64_t jl = (c - 1) / FL_SM_W * FL_SM_W; /* the last block */
    const __m256i mk = FL_FN(sm_vmask)(c - jl);     /* its entries of a row */
    const int64_t end = (int64_t)nr * c;
    int64_t j0, jb;
    int r, h;
    for (h = 0; h < nr; h += FL_SM_W)
        for (jb = 0; jb <= jl; jb += FL_SM_W) {
            j0 = jb == 0 ? jl : jb - FL_SM_W; /* jl, 0, W, ..., jl - W */
            for (r = 0; r < FL_SM_W; r++)
                v[r] = FL_SMV_LOAD(t + (j0 + r) * ld + h);
            FL_FN(sm_tr)(v);
            for (r = 0; r < FL_SM_W && h + r < nr; r++) {
                FL_T *at = g + (int64_t)(h + r) * c + j0;
                if (j0 == jl && (h + r) * c + jl + FL_SM_W > end)
                    FL_SMV_MASKSTORE(at, mk, v[r]);
                else
                    FL_SMV_STOREU(at, v[r]);
            }
        }
}

/* mx[r] = max_k t[k * ld + r] (NaN never picked) for the lanes < lanes. */
FL_INLINE void FL_FN(sm_tile_max)(const FL_T *t, int64_t ld, int64_t c, int lanes,
                                  FL_T *mx)
{
    int64_t k;
    int h;
    for (h = 0; h < lanes; h += FL_SM_W) {
        FL_FN(smv) m = FL_SMV_SET1(-(FL_T)INFINITY);
        for (k = 0; k < c; k++)
            m = FL_SMV_MAX(FL_SMV_LOAD(t + k * ld + h), m);
        FL_SMV_STORE(mx + h, m);
    }
}

/* t[k * ld + r] = e = exp(t[k * ld + r] - mx[r]) and s[r] = sum_k e in float64
 * (float: blocks of 16 entries summed in the dtype first, as sm_expsum_avx2). */
FL_INLINE void FL_FN(sm_tile_expsum)(FL_T *t, int64_t ld, int64_t c, int lanes,
                                     const FL_T *mx, double *s)
{
    int64_t k, kb;
    int h;
    for (h = 0; h < lanes; h += FL_SM_W) {
        const FL_FN(smv) vm = FL_SMV_LOAD(mx + h);
#if !FL_F64
        __m256d d0 = _mm256_setzero_pd(), d1 = d0;
        for (k = 0; k < c; k = kb) {
            __m256 a = _mm256_setzero_ps();
            kb = k + 16 < c ? k + 16 : c;
            for (; k < kb; k++) {
                const __m256 e =
                    FL_FN(sm_vexp)(_mm256_sub_ps(_mm256_load_ps(t + k * ld + h), vm));
                _mm256_store_ps(t + k * ld + h, e);
                a = _mm256_add_ps(a, e);
            }
            d0 = _mm256_add_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
            d1 = _mm256_add_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
        }
        _mm256_store_pd(s + h, d0);
        _mm256_store_pd(s + h + 4, d1);
#else
        __m256d a = _mm256_setzero_pd();
        (void)kb;
        for (k = 0; k < c; k++) {
            const __m256d e =
                FL_FN(sm_vexp)(_mm256_sub_pd(_mm256_load_pd(t + k * ld + h), vm));
            _mm256_store_pd(t + k * ld + h, e);
            a = _mm256_add_pd(a, e);
        }
        _mm256_store_pd(s + h, a);
#endif
    }
}

/* t[k * ld + r] *= a[r] for k < c and the lanes < lanes. */
FL_INLINE void FL_FN(sm_tile_scale)(FL_T *t, int64_t ld, int64_t c, int lanes,
                                    const FL_T *a)
{
    int64_t k;
    int h;
    for (h = 0; h < lanes; h += FL_SM_W) {
        const FL_FN(smv) va = FL_SMV_LOAD(a + h);
        for (k = 0; k < c; k++)
            FL_SMV_STORE(t + k * ld + h, FL_SMV_MUL(va, FL_SMV_LOAD(t + k * ld + h)));
    }
}

/* ---- KL with teacher logits (fl_rw_softmax.h's kl_sum and its sweep 3) ---------
 * Sweep 2 over [0, len): A = exp((s - ms) it) -> g when `store`, B = exp((t - mt)
 * it); part[0] += sum A, part[1] += sum B, part[2] += sum B ((t - mt) - (s - ms)),
 * the differences in float64 and a term 0 where B == 0. Vector by vector into
 * float64 vectors (the last one masked), lanes summed in a fixed order. */
FL_INLINE void FL_FN(sm_klsum_avx2)(const FL_T *s, const FL_T *t, FL_T *g,
                                    int64_t len, FL_T ms, FL_T mt, FL_T it,
                                    double *part, const int store)
{
    const FL_FN(smv) vms = FL_SMV_SET1(ms), vmt = FL_SMV_SET1(mt), vit = FL_SMV_SET1(it);
    const __m256d msd = _mm256_set1_pd((double)ms), mtd = _mm256_set1_pd((double)mt);
    const __m256d zero = _mm256_setzero_pd();
    __m256d da = zero, db = zero, dh = zero;
    int64_t k;
    for (k = 0; k < len; k += FL_SM_W) {
        const int full = k + FL_SM_W <= len;
        const __m256i mk = full ? _mm256_set1_epi32(-1) : FL_FN(sm_vmask)(len - k);
        const FL_FN(smv) sv = full ? FL_SMV_LOADU(s + k) : FL_SMV_MASKLOAD(s + k, mk);
        const FL_FN(smv) tv = full ? FL_SMV_LOADU(t + k) : FL_SMV_MASKLOAD(t + k, mk);
        FL_FN(smv) ea = FL_FN(sm_vexp)(FL_SMV_MUL(FL_SMV_SUB(sv, vms), vit));
        FL_FN(smv) eb = FL_FN(sm_vexp)(FL_SMV_MUL(FL_SMV_SUB(tv, vmt), vit));
        int h;
        if (!full) {
            ea = FL_SMV_AND(ea, FL_SMV_CASTI(mk));
            eb = FL_SMV_AND(eb, FL_SMV_CASTI(mk));
        }
        if (store) {
            if (full)
                FL_SMV_STOREU(g + k, ea);
            else
                FL_SMV_MASKSTORE(g + k, mk, ea);
        }
        for (h = 0; h < (FL_F64 ? 1 : 2); h++) {
#if !FL_F64
            const __m256d a = _mm256_cvtps_pd(h ? _mm256_extractf128_ps(ea, 1)
                                                : _mm256_castps256_ps128(ea));
            const __m256d b = _mm256_cvtps_pd(h ? _mm256_extractf128_ps(eb, 1)
                                                : _mm256_castps256_ps128(eb));
            const __m256d sd = _mm256_cvtps_pd(h ? _mm256_extractf128_ps(sv, 1)
                                                 : _mm256_castps256_ps128(sv));
            const __m256d td = _mm256_cvtps_pd(h ? _mm256_extractf128_ps(tv, 1)
                                                 : _mm256_castps256_ps128(tv));
#else
            const __m256d a = ea, b = eb, sd = sv, td = tv;
#endif
            const __m256d dl = _mm256_sub_pd(_mm256_sub_pd(td, mtd), _mm256_sub_pd(sd, msd));
            const __m256d term = _mm256_andnot_pd(_mm256_cmp_pd(b, zero, _CMP_EQ_OQ),
                                                  _mm256_mul_pd(b, dl));
            da = _mm256_add_pd(da, a);
            db = _mm256_add_pd(db, b);
            dh = _mm256_add_pd(dh, term);
        }
    }
    part[0] += FL_FN(sm_vsum_d)(da);
    part[1] += FL_FN(sm_vsum_d)(db);
    part[2] += FL_FN(sm_vsum_d)(dh);
}

/* Sweep 3 over [0, len): g = ca g - cb exp((t - mt) it). */
FL_INLINE void FL_FN(sm_klgrad_avx2)(FL_T *g, const FL_T *t, int64_t len, FL_T mt,
                                     FL_T it, FL_T ca, FL_T cb)
{
    const FL_FN(smv) vmt = FL_SMV_SET1(mt), vit = FL_SMV_SET1(it);
    const FL_FN(smv) vca = FL_SMV_SET1(ca), vcb = FL_SMV_SET1(cb);
    int64_t k;
    for (k = 0; k + FL_SM_W <= len; k += FL_SM_W) {
        const FL_FN(smv) eb =
            FL_FN(sm_vexp)(FL_SMV_MUL(FL_SMV_SUB(FL_SMV_LOADU(t + k), vmt), vit));
        FL_SMV_STOREU(g + k, FL_SMV_SUB(FL_SMV_MUL(vca, FL_SMV_LOADU(g + k)),
                                        FL_SMV_MUL(vcb, eb)));
    }
    if (k < len) {
        const __m256i mk = FL_FN(sm_vmask)(len - k);
        const FL_FN(smv) eb = FL_FN(sm_vexp)(
            FL_SMV_MUL(FL_SMV_SUB(FL_SMV_MASKLOAD(t + k, mk), vmt), vit));
        FL_SMV_MASKSTORE(g + k, mk,
                         FL_SMV_SUB(FL_SMV_MUL(vca, FL_SMV_MASKLOAD(g + k, mk)),
                                    FL_SMV_MUL(vcb, eb)));
    }
}

#undef FL_SM_W
#undef FL_SMV_LOADU
#undef FL_SMV_LOAD
#undef FL_SMV_STORE
#undef FL_SMV_STOREU
#undef FL_SMV_SET1
#undef FL_SMV_ZERO
#undef FL_SMV_ADD
#undef FL_SMV_SUB
#undef FL_SMV_MUL
#undef FL_SMV_MAX
#undef FL_SMV_AND
#undef FL_SMV_MASKLOAD
#undef FL_SMV_MASKSTORE
#undef FL_SMV_CASTI
