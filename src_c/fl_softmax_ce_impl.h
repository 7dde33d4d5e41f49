/* Softmax cross-entropy kernel body. Included once per (dtype, SIMD path) by
 * fl_instance.h, which defines FL_T (float/double), FL_TS (f32/f64), FL_PATH, FL_EXP
 * and FL_DLOG (the float64 log); no include guard on purpose.
 *
 * Per row (x = logits, m = max x, s = sum exp(x - m), lse = m + log s):
 *   sweep 1  m = max_c x_c                      (read the row: brings it into cache)
 *   sweep 2  e_c = exp(x_c - m) -> grad, s += e_c, plus the smoothing / soft-target sums
 *   sweep 3  grad_c = alpha * e_c - beta_c      (rescale in cache; exp computed once)
 * Writing exp(x - m) rather than exp(x) keeps every exponent <= 0: no overflow for any
 * finite input, and log s is in [0, log c]. Loss terms are formed from (m - x_c) and
 * log s in float64, never from lse - x_c with lse ~ x_c ~ 1e30 (which would cancel). */

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

#include "fl_sm_engine.h"

/* Sweep 2 loop, specialised at each call site on the constants mode, has_g and
 * has_w: a run-time `if (w)` / `if (g)` inside a vector loop becomes an AVX masked
 * load/store through a NULL base, and each such access with masked-off lanes on an
 * unmapped page costs a microcode assist (measured: 8x slower soft targets). */
FL_INLINE void FL_FN(sum_loop)(const FL_T *x, const FL_T *p, const FL_T *w, FL_T *g,
                               int64_t len, FL_T m, FL_T pa, FL_T pb, const int mode,
                               const int has_g, const int has_w, double *sums)
{
    double s = 0.0, a = 0.0, d = 0.0;
    const double md = (double)m;
    int64_t k;
    if (mode == FL_MODE_HARD) {
#pragma omp simd reduction(+ : s)
        for (k = 0; k < len; k++) {
            const FL_T e = FL_EXP(x[k] - m);
            if (has_g)
                g[k] = e;
            s += (double)e;
        }
    } else if (mode == FL_MODE_HARD_SMOOTH) {
        /* sum_c w_c (lse - x_c) = sum_c w_c (m - x_c) + W log s: each term >= 0. A
         * class of weight 0 adds 0 even where x_c = -inf (no 0 * inf = NaN). */
#pragma omp simd reduction(+ : s, d)
        for (k = 0; k < len; k++) {
            const FL_T xk = x[k];
            const FL_T e = FL_EXP(xk - m);
            const double mx = md - (double)xk;
            if (has_g)
                g[k] = e;
            s += (double)e;
            d += has_w ? (w[k] == 0 ? 0.0 : (double)w[k] * mx) : mx;
        }
    } else {
        /* -sum_c w p' (x_c - lse) = sum w p' (m - x_c) + (sum w p') log s. A term with
         * w p' == 0 is 0 even where x_c = -inf (no 0 * inf = NaN). */
#pragma omp simd reduction(+ : s, a, d)
        for (k = 0; k < len; k++) {
            const FL_T xk = x[k];
            const FL_T e = FL_EXP(xk - m);
            const FL_T wp = has_w ? (pa * p[k] + pb) * w[k] : pa * p[k] + pb;
            const double t = (double)wp * (md - (double)xk);
            if (has_g)
                g[k] = e;
            s += (double)e;
            a += (double)wp;
            d += wp == 0 ? 0.0 : t;
        }
    }
    sums[0] += s;
    sums[1] += a;
    sums[2] += d;
}

/* Sweep 2 over [0, len). sums[0] += sum e, sums[1] += sum w p' (soft) and
 * sums[2] += sum w p' (m - x) (soft) or sum w (m - x) (smoothing). p' = pa * p + pb. */
FL_INLINE void FL_FN(sum_body)(const FL_T *x, const FL_T *p, const FL_T *w, FL_T *g,
                               int64_t len, FL_T m, FL_T pa, FL_T pb, int mode,
                               double *sums)
{
    if (mode == FL_MODE_HARD) {
#if FL_PATH_VBYTES == 32
        sums[0] += g ? FL_FN(sm_expsum_avx2)(x, g, len, m, 1)
                     : FL_FN(sm_expsum_avx2)(x, g, len, m, 0);
        return;
#endif
        if (g)
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD, 1, 0, sums);
        else
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD, 0, 0, sums);
        return;
    }
    if (mode == FL_MODE_HARD_SMOOTH) {
        if (g && w)
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD_SMOOTH, 1, 1, sums);
        else if (g)
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD_SMOOTH, 1, 0, sums);
        else if (w)
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD_SMOOTH, 0, 1, sums);
        else
            FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_HARD_SMOOTH, 0, 0, sums);
        return;
    }
    if (g && w)
        FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_SOFT, 1, 1, sums);
    else if (g)
        FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_SOFT, 1, 0, sums);
    else if (w)
        FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_SOFT, 0, 1, sums);
    else
        FL_FN(sum_loop)(x, p, w, g, len, m, pa, pb, FL_MODE_SOFT, 0, 0, sums);
}

/* Sweep 3 over [0, len): hard g = alpha e - beta w (w = 1 when NULL);
 * soft g = alpha e - beta w p'. */
FL_INLINE void FL_FN(grad_body)(FL_T *g, const FL_T *p, const FL_T *w, int64_t len,
                                FL_T alpha, FL_T beta, FL_T pa, FL_T pb, int soft)
{
    int64_t k;
    if (alpha - alpha != 0 && alpha == alpha) {
        /* alpha is +-inf: it overflowed the dtype (a gradient beyond its range, e.g.
         * z_loss on logits ~1e37 in float32). Keep entries of zero probability at
         * exactly 0 rather than inf * 0 = NaN. Rare, so a plain loop. (A NaN alpha,
         * from a NaN or +inf logit, takes the normal path: the row is NaN.) */
        for (k = 0; k < len; k++) {
            FL_T wk = w ? w[k] : (FL_T)1;
            FL_T wp = soft ? (pa * p[k] + pb) * wk : wk;
            FL_T a = g[k] == 0 ? (FL_T)0 : alpha * g[k];
            g[k] = beta == 0 ? a : a - beta * wp;
        }
    } else if (soft && w) {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = alpha * g[k] - beta * ((pa * p[k] + pb) * w[k]);
    } else if (soft) {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = alpha * g[k] - beta * (pa * p[k] + pb);
    } else if (beta == 0) {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = alpha * g[k];
    } else if (w) {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = alpha * g[k] - beta * w[k];
    } else {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = alpha * g[k] - beta;
    }
}

/* Constants shared by every row of a call. */
typedef struct {
    const FL_T *x, *p, *w, *sw;
    const int64_t *y;
    FL_T *g, *loss_rows;
    int64_t c, ignore_index;
    double eps, z, den, wsum; /* den: D dk for "mean" (0 when D == 0), else 1 */
    double dk; /* 2^600 for a tiny D (below 2^-500), else 1 */
    FL_T pa, pb; /* p' = pa p + pb = (1 - eps) p + eps / c */
    int mode;
} FL_FN(fl_ctx);

/* The row's scale rs = s_i / D ("mean") or s_i, s_i its sample weight, is
 * sm_row_scale(cx->den, s_i). For a tiny D, D itself would make s_i / D overflow
 * where the products with the class weights that the gradient needs, w_y / D for
 * one, are finite: den is then D dk, dk = 2^600, and row_loss multiplies those
 * weight terms by dk too. A power of two, and 1 for every D above 2^-500: no bit
 * changes there. */

/* After sweep 2: the row loss, and the sweep-3 coefficients alpha, beta and (hard
 * targets) gamma, the amount taken off the target entry, from the sums of sweep 2:
 * s = sum e, sa and sd (see sum_body). swi is the row's sample weight, rs its
 * sm_row_scale and wy its target's class weight (hard targets); `mode` is cx->mode,
 * passed as a constant where the caller knows it. */
FL_INLINE double FL_FN(row_loss)(const FL_FN(fl_ctx) * cx, const int mode, FL_T m,
                                 double xy, double s, double sa, double sd,
                                 double log_s, double swi, double rs, double wy,
                                 double *alpha, double *beta, double *gamma)
{
    const double lse = (double)m + log_s;
    /* the weight terms times dk (1 but for a tiny D: see sm_row_scale), so that the
     * row loss and alpha, beta, gamma are those of D dk; the loss total is divided
     * by D dk */
    const double dk = cx->dk;
    double loss, coef;
    if (mode == FL_MODE_SOFT) {
        loss = sd * dk + (sa * dk) * log_s;
        coef = sa * dk;
        *beta = rs * dk;
        *gamma = 0.0;
    } else {
        const double eps = cx->eps, wyk = wy * dk;
        /* (1 - eps) w_y (lse - x_y), with lse - x_y = (m - x_y) + log s; a zero
         * coefficient (label_smoothing = 1, or the target's class weight 0) is a
         * zero term even where x_y = -inf makes lse - x_y infinite (0 * inf). */
        coef = (1.0 - eps) * wyk;
        loss = coef == 0 ? 0.0 : coef * (((double)m - xy) + log_s);
        if (eps > 0) {
            loss += eps / (double)cx->c * (sd * dk + (cx->wsum * dk) * log_s);
            coef += eps * (cx->wsum * dk) / (double)cx->c;
        }
        *beta = rs * dk * eps / (double)cx->c;
        *gamma = rs * (1.0 - eps) * wyk;
    }
    if (cx->z > 0) {
        loss += (cx->z * dk) * lse * lse;
        coef += 2.0 * (cx->z * dk) * lse;
    }
    *alpha = rs * coef / s;
    /* a row of sample weight 0 contributes exactly 0, even where its loss
     * overflows (z_loss = 1e300: inf * 0 was NaN) */
    return swi == 0 ? 0.0 : swi * loss;
}

FL_INLINE double FL_FN(row_finish)(const FL_FN(fl_ctx) * cx, int64_t i, FL_T m,
                                   double xy, const double *sums, double log_s,
                                   double *alpha, double *beta, double *gamma)
{
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    const double wy = cx->y && cx->w ? (double)cx->w[cx->y[i]] : 1.0;
    return FL_FN(row_loss)(cx, cx->mode, m, xy, sums[0], sums[1], sums[2], log_s, swi,
                           FL_FN(sm_row_scale)(cx->den, swi), wy, alpha, beta, gamma);
}

FL_INLINE void FL_FN(zero_row)(FL_T *g, int64_t c)
{
    int64_t k;
    for (k = 0; k < c; k++)
        g[k] = 0;
}

/* The engine's hooks (fl_sm_driver.h): one kind, so `kind` is unused. */
#define FL_SM_CTX FL_FN(fl_ctx)
#define FL_SM_KIND(cx) 0

FL_INLINE int FL_FN(sm_start)(const FL_SM_CTX *cx, int64_t i, FL_FN(sm_row) * r)
{
    return FL_FN(sm_begin)(r, cx->x, cx->p, cx->g, cx->y, cx->ignore_index, cx->c, i);
}

FL_INLINE void FL_FN(sm_sweep_max)(const FL_SM_CTX *cx, const int kind,
                                   const FL_FN(sm_row) * r, int64_t k0, int64_t len,
                                   FL_T *m)
{
    (void)cx;
    (void)kind;
    m[0] = FL_FN(sm_max)(r->x + k0, len);
    m[1] = -(FL_T)INFINITY;
}

FL_INLINE void FL_FN(sm_sweep_sum)(const FL_SM_CTX *cx, const int kind,
                                   const FL_FN(sm_row) * r, int64_t k0, int64_t len,
                                   double *part)
{
    (void)kind;
    FL_FN(sum_body)(r->x + k0, r->x2 ? r->x2 + k0 : NULL, cx->w ? cx->w + k0 : NULL,
                    r->g ? r->g + k0 : NULL, len, r->m1, cx->pa, cx->pb, cx->mode,
                    part);
}

FL_INLINE double FL_FN(sm_finish)(const FL_SM_CTX *cx, const int kind, int64_t i,
                                  FL_FN(sm_row) * r)
{
    double alpha, beta, gamma;
    const double loss = FL_FN(row_finish)(cx, i, r->m1, r->xy, r->sums,
                                          FL_DLOG(r->sums[0]), &alpha, &beta, &gamma);
    (void)kind;
    r->ca = (FL_T)alpha;
    r->cb = (FL_T)beta;
    r->gy = gamma;
    return loss;
}

FL_INLINE void FL_FN(sm_sweep_grad)(const FL_SM_CTX *cx, const int kind,
                                    const FL_FN(sm_row) * r, int64_t k0, int64_t len)
{
    (void)kind;
    FL_FN(grad_body)(r->g + k0, r->x2 ? r->x2 + k0 : NULL, cx->w ? cx->w + k0 : NULL,
                     len, r->ca, r->cb, cx->pa, cx->pb, cx->mode == FL_MODE_SOFT);
}

/* The target's share gamma, taken off after the rescale. */
FL_INLINE void FL_FN(sm_end)(const FL_SM_CTX *cx, const int kind, FL_FN(sm_row) * r)
{
    (void)cx;
    (void)kind;
    if (r->y >= 0)
        r->g[r->y] -= (FL_T)r->gy;
}

#include "fl_sm_driver.h"

/* Short rows (c <= w, w = 16 or 32, class-index targets without smoothing) where the
 * lane path below measured slower: reduction blocks of fewer than FL_TINY_MIN_ROWS(c)
 * rows (that path pays for a whole group of rows), and float64 rows of 25 to 32
 * classes (which fill the window). In blocks of FL_TINY_ROWS rows, each row is loaded
 * into a w-lane window padded with -inf (exp gives exactly 0 there), so the max,
 * exp-sum and rescale loops have a constant trip count and no scalar epilogue. The
 * window reads past the row end only while it stays inside rows [i0, i_end) that
 * this thread owns (the last rows are copied instead), so it never races with another
 * thread writing in place; and all reads of a block happen before its writes, so
 * in-place is safe. The block's row sums go through one vectorised log. */
#define FL_TINY_ROWS 32
#define FL_TINY_MIN_ROWS(c) ((c) <= 16 ? 8 : 16) /* measured break-even, avx512 */

FL_INLINE double FL_FN(tiny_block)(const FL_FN(fl_ctx) * cx, int64_t i0, int64_t nr,
                                   int64_t i_end, const int w)
{
    const int64_t c = cx->c, total = i_end * c;
    FL_T e[FL_TINY_ROWS][32], mx[FL_TINY_ROWS];
    double s[FL_TINY_ROWS], ls[FL_TINY_ROWS], xy[FL_TINY_ROWS];
    double acc = 0.0;
    int64_t r, k;

    for (r = 0; r < nr; r++) {
        const int64_t i = i0 + r, y = cx->y[i];
        const FL_T *x = cx->x + i * c;
        FL_T *v = e[r];
        double sums[3] = {0.0, 0.0, 0.0};
        if (i * c + w <= total) {
#pragma omp simd
            for (k = 0; k < w; k++) {
                FL_T xk = x[k]; /* unconditional: inside the array */
                v[k] = k < c ? xk : -(FL_T)INFINITY;
            }
        } else {
            for (k = 0; k < c; k++)
                v[k] = x[k];
            for (k = c; k < w; k++)
                v[k] = -(FL_T)INFINITY;
        }
        xy[r] = y == cx->ignore_index ? 0.0 : (double)x[y];
        mx[r] = FL_FN(sm_max)(v, w);
        FL_FN(sum_body)(v, NULL, NULL, v, w, mx[r], 0, 0, FL_MODE_HARD, sums);
        s[r] = sums[0];
    }
#pragma omp simd
    for (r = 0; r < nr; r++)
        ls[r] = FL_DLOG(s[r]);
    for (r = 0; r < nr; r++) {
        const int64_t i = i0 + r, y = cx->y[i];
        FL_T *g = cx->g ? cx->g + i * c : NULL;
        FL_T *v = e[r];
        double sums[3] = {s[r], 0.0, 0.0};
        double alpha, beta, gamma, li = 0.0;
        if (y == cx->ignore_index) {
            if (g)
                FL_FN(zero_row)(g, c); /* after the previous row's spill: in order */
        } else {
            li = FL_FN(row_finish)(cx, i, mx[r], xy[r], sums, ls[r], &alpha, &beta,
                                   &gamma);
            if (g) {
                FL_FN(grad_body)(v, NULL, NULL, w, (FL_T)alpha, 0, 0, 0, 0);
                v[y] -= (FL_T)gamma;
                if ((r * c + w) <= nr * c) {
                    /* The whole window (lanes past c hold 0) stays in this block's
                     * rows, which are written in order: the next row overwrites the
                     * spill. Two vector stores instead of a c-long copy. */
#pragma omp simd
                    for (k = 0; k < w; k++)
                        g[k] = v[k];
                } else {
                    for (k = 0; k < c; k++)
                        g[k] = v[k];
                }
            }
        }
        if (cx->loss_rows)
            cx->loss_rows[i] = (FL_T)li;
        acc += li;
    }
    return acc;
}

/* Short rows (c <= FL_TINY_MAX_C, class-index targets without smoothing; but those
 * routed to the window path above), in groups of FL_TINY_LANES rows with one row per
 * vector lane. The group is transposed into t[k][r] (entry k of row r), so the max,
 * the exp-sum, the log and the loss are vertical operations across rows: no
 * horizontal reduction, loop epilogue or scalar log per row, and every exp works on
 * full vectors whatever c is. (Row by row, a row of c = 10 cost ~100 cycles, mostly
 * in those.) Only the group's own entries are read and written, never a window past a
 * row end, so no thread touches another's rows and the array's end is never
 * over-read; all reads of a group happen before its writes, so in place is safe.
 * Lanes past the last row of a short group hold 0 and their results are dropped.
 * Groups start at the reduction block's first row, so a row's arithmetic does not
 * depend on the thread count. */
#define FL_TINY_LANES 32
#define FL_TINY_ROWS_T ((FL_TINY_MAX_C + 15) / 16 * 16) /* t's rows: whole 16-blocks */

#if defined(__GNUC__) || defined(__clang__)
#define FL_ALIGN64 __attribute__((aligned(64)))
#else
#define FL_ALIGN64
#endif

#if FL_PATH_VBYTES == 64 && !FL_F64
#include <immintrin.h>

/* A 16 x 16 block of floats transposed in registers (its own inverse): pairs of rows
 * interleaved, then quadruples, then 128-bit lanes twice; 64 shuffles. */
FL_INLINE void FL_FN(tr16)(__m512 *v)
{
    __m512 u[16];
    int j;
    for (j = 0; j < 16; j += 2) {
        u[j] = _mm512_unpacklo_ps(v[j], v[j + 1]);
        u[j + 1] = _mm512_unpackhi_ps(v[j], v[j + 1]);
    }
    for (j = 0; j < 16; j += 4) {
        v[j] = _mm512_shuffle_ps(u[j], u[j + 2], 0x44);
        v[j + 1] = _mm512_shuffle_ps(u[j], u[j + 2], 0xEE);
        v[j + 2] = _mm512_shuffle_ps(u[j + 1], u[j + 3], 0x44);
        v[j + 3] = _mm512_shuffle_ps(u[j + 1], u[j + 3], 0xEE);
    }
    for (j = 0; j < 4; j++) {
        u[j] = _mm512_shuffle_f32x4(v[j], v[j + 4], 0x88);
        u[j + 4] = _mm512_shuffle_f32x4(v[j], v[j + 4], 0xDD);
        u[j + 8] = _mm512_shuffle_f32x4(v[j + 8], v[j + 12], 0x88);
        u[j + 12] = _mm512_shuffle_f32x4(v[j + 8], v[j + 12], 0xDD);
    }
    for (j = 0; j < 8; j++) {
        v[j] = _mm512_shuffle_f32x4(u[j], u[j + 8], 0x88);
        v[j + 8] = _mm512_shuffle_f32x4(u[j], u[j + 8], 0xDD);
    }
}

/* Lanes [0, min(left, 16)) of a 16-entry mask. */
FL_INLINE __mmask16 FL_FN(tiny_mask)(int64_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* t[k][r] = x[r c + k] for rows r < nr; the other lanes, and rows k in [c, 16-block
 * end) of t, get 0. Masked loads: masked-off entries are not accessed. Blocks of 16
 * rows by 16 entries, each transposed in registers. */
FL_INLINE void FL_FN(tiny_load)(FL_T (*t)[FL_TINY_LANES], const FL_T *x, int64_t c,
                                int nr)
{
    __m512 v[16];
    int64_t j0;
    int r, h;
    for (h = 0; h < FL_TINY_LANES; h += 16)
        for (j0 = 0; j0 < c; j0 += 16) {
            const __mmask16 mk = FL_FN(tiny_mask)(c - j0);
            for (r = 0; r < 16; r++) {
                const int in = h + r < nr;
                const FL_T *row = in ? x + (h + r) * c + j0 : x;
                v[r] = _mm512_maskz_loadu_ps(in ? mk : 0, row);
            }
            FL_FN(tr16)(v);
            for (r = 0; r < 16; r++)
                _mm512_store_ps(&t[j0 + r][h], v[r]);
        }
}

/* g[r c + k] = t[k][r] for rows r < nr (reads rows of t up to the 16-block end). */
FL_INLINE void FL_FN(tiny_store)(FL_T *g, FL_T (*t)[FL_TINY_LANES], int64_t c, int nr)
{
    __m512 v[16];
    int64_t j0;
    int r, h;
    for (h = 0; h < FL_TINY_LANES; h += 16)
        for (j0 = 0; j0 < c; j0 += 16) {
            const __mmask16 mk = FL_FN(tiny_mask)(c - j0);
            for (r = 0; r < 16; r++)
                v[r] = _mm512_load_ps(&t[j0 + r][h]);
            FL_FN(tr16)(v);
            for (r = 0; r < 16; r++) {
                const int in = h + r < nr;
                FL_T *row = in ? g + (h + r) * c + j0 : g;
                _mm512_mask_storeu_ps(row, in ? mk : 0, v[r]);
            }
        }
}
#elif FL_PATH_VBYTES == 32
/* AVX2: W x W blocks transposed in registers (fl_sm_avx2.h). */
FL_INLINE void FL_FN(tiny_load)(FL_T (*t)[FL_TINY_LANES], const FL_T *x, int64_t c,
                                int nr)
{
    FL_FN(sm_tile_load)(&t[0][0], FL_TINY_LANES, x, c, nr, FL_TINY_LANES);
}

FL_INLINE void FL_FN(tiny_store)(FL_T *g, FL_T (*t)[FL_TINY_LANES], int64_t c, int nr)
{
    FL_FN(sm_tile_store)(g, &t[0][0], FL_TINY_LANES, c, nr);
}
#else
/* t[k][r] = x[r c + k] for rows r < nr, 0 in the other lanes. */
FL_INLINE void FL_FN(tiny_load)(FL_T (*t)[FL_TINY_LANES], const FL_T *x, int64_t c,
                                int nr)
{
    int64_t k;
    int r;
    for (r = 0; r < nr; r++)
        for (k = 0; k < c; k++)
            t[k][r] = x[r * c + k];
    for (; r < FL_TINY_LANES; r++)
        for (k = 0; k < c; k++)
            t[k][r] = 0;
}

/* g[r c + k] = t[k][r] for rows r < nr. */
FL_INLINE void FL_FN(tiny_store)(FL_T *g, FL_T (*t)[FL_TINY_LANES], int64_t c, int nr)
{
    int64_t k;
    int r;
    for (r = 0; r < nr; r++)
        for (k = 0; k < c; k++)
            g[r * c + k] = t[k][r];
}
#endif

/* Rows [i0, i1), added in row order. Out of line, so that its register allocation
 * does not depend on the rest of rows_block (inlined there, it spilled a vector and
 * ran ~2% slower at 65536 x 10). */
FL_NOINLINE double FL_FN(tiny_rows)(const FL_FN(fl_ctx) * cx, int64_t i0, int64_t i1)
{
    const int64_t c = cx->c, ignore = cx->ignore_index;
    const FL_T *w = cx->w, *swt = cx->sw;
    FL_T t[FL_TINY_ROWS_T][FL_TINY_LANES] FL_ALIGN64;
    /* Per lane (row): max, target logit, alpha and gamma; sum e, row loss, sample
     * weight, row scale and target class weight; the target class, -1 for a row with
     * no loss (int: 64-bit integer compares do not vectorise on SSE2). */
    FL_T mx[FL_TINY_LANES] FL_ALIGN64, xy[FL_TINY_LANES] FL_ALIGN64;
    FL_T al[FL_TINY_LANES] FL_ALIGN64, gm[FL_TINY_LANES] FL_ALIGN64;
#if FL_PATH_VBYTES == 32
    FL_T sc[FL_TINY_LANES] FL_ALIGN64; /* the gradient's scale per lane */
#endif
    double s[FL_TINY_LANES] FL_ALIGN64, li[FL_TINY_LANES] FL_ALIGN64;
    double sw[FL_TINY_LANES] FL_ALIGN64, rs[FL_TINY_LANES] FL_ALIGN64;
    double wy[FL_TINY_LANES] FL_ALIGN64, da[FL_TINY_LANES] FL_ALIGN64;
    double db[FL_TINY_LANES] FL_ALIGN64, dg[FL_TINY_LANES] FL_ALIGN64;
    int yl[FL_TINY_LANES] FL_ALIGN64;
    double acc = 0.0;
    int64_t i, k;
    int r;
    /* A local copy for row_loss in the vector loop: its fields are then known not to
     * change there. eps is 0 on this path. */
    FL_FN(fl_ctx) lc = *cx;
    lc.eps = 0.0;

    /* Without sample (class) weights these lanes stay 1 (1 and 1 / D). */
    for (r = 0; r < FL_TINY_LANES; r++) {
        sw[r] = 1.0;
        rs[r] = FL_FN(sm_row_scale)(cx->den, 1.0);
        wy[r] = 1.0;
    }
    for (i = i0; i < i1; i += FL_TINY_LANES) {
        const int nr = i1 - i < FL_TINY_LANES ? (int)(i1 - i) : FL_TINY_LANES;
        FL_FN(tiny_load)(t, cx->x + i * c, c, nr);
        for (r = 0; r < nr; r++) {
            const int64_t y = cx->y[i + r];
            yl[r] = y == ignore ? -1 : (int)y;
        }
        for (; r < FL_TINY_LANES; r++)
            yl[r] = -1;
        /* Targets are in [0, c) or ignored (checked before): the gather is masked. */
        if (w) {
#pragma omp simd
            for (r = 0; r < FL_TINY_LANES; r++)
                wy[r] = yl[r] >= 0 ? (double)w[yl[r]] : 1.0;
        }
        if (swt) {
            for (r = 0; r < nr; r++)
                sw[r] = (double)swt[i + r];
#pragma omp simd
            for (r = 0; r < FL_TINY_LANES; r++)
                rs[r] = FL_FN(sm_row_scale)(cx->den, sw[r]);
        }
#if FL_PATH_VBYTES == 32
        /* AVX2: the tile's sweeps by hand (fl_sm_avx2.h); the target logit read
         * from the tile */
        FL_FN(sm_tile_max)(&t[0][0], FL_TINY_LANES, c, FL_TINY_LANES, mx);
        for (r = 0; r < FL_TINY_LANES; r++)
            xy[r] = yl[r] >= 0 ? t[yl[r]][r] : (FL_T)0;
        FL_FN(sm_tile_expsum)(&t[0][0], FL_TINY_LANES, c, FL_TINY_LANES, mx, s);
#else
        /* One row per lane: vector loops over the rows inside loops over the entries
         * (gcc does not vectorise an outer loop over two inner ones). */
#pragma omp simd
        for (r = 0; r < FL_TINY_LANES; r++) {
            mx[r] = -(FL_T)INFINITY;
            xy[r] = 0;
            s[r] = 0.0;
        }
        for (k = 0; k < c; k++) {
#pragma omp simd
            for (r = 0; r < FL_TINY_LANES; r++) {
                const FL_T x = t[k][r];
                mx[r] = x > mx[r] ? x : mx[r]; /* NaN is never picked (as sm_max) */
                xy[r] = (int)k == yl[r] ? x : xy[r];
            }
        }
        for (k = 0; k < c; k++) {
#pragma omp simd
            for (r = 0; r < FL_TINY_LANES; r++) {
                const FL_T e = FL_EXP(t[k][r] - mx[r]);
                t[k][r] = e;
                s[r] += (double)e;
            }
        }
#endif
#pragma omp simd
        for (r = 0; r < FL_TINY_LANES; r++) {
            const double loss = FL_FN(row_loss)(&lc, FL_MODE_HARD, mx[r], (double)xy[r],
                                                s[r], 0.0, 0.0, FL_DLOG(s[r]), sw[r],
                                                rs[r], wy[r], &da[r], &db[r], &dg[r]);
            li[r] = yl[r] >= 0 ? loss : 0.0;
            al[r] = (FL_T)da[r];
            gm[r] = (FL_T)dg[r];
        }
        /* g = alpha e, less gamma at the target (beta = 0 without smoothing); as
         * grad_body, an alpha that overflowed to +-inf keeps e = 0 entries at 0.
         * Rows with no loss get 0 whatever their logits. */
        if (cx->g) {
#if FL_PATH_VBYTES == 32
            /* The same, by lane where rare: rows with no loss and an infinite
             * alpha here, scaled by 1 below; then g = alpha e in vectors, and
             * gamma taken off each target. */
            for (r = 0; r < nr; r++) {
                const FL_T a = al[r];
                sc[r] = a;
                if (yl[r] < 0 || a == (FL_T)INFINITY || a == -(FL_T)INFINITY) {
                    for (k = 0; k < c; k++)
                        t[k][r] = yl[r] < 0 || t[k][r] == 0 ? (FL_T)0 : a * t[k][r];
                    sc[r] = 1;
                }
            }
            for (; r < FL_TINY_LANES; r++)
                sc[r] = 0;
            FL_FN(sm_tile_scale)(&t[0][0], FL_TINY_LANES, c, FL_TINY_LANES, sc);
            for (r = 0; r < nr; r++)
                if (yl[r] >= 0)
                    t[yl[r]][r] -= gm[r];
#else
            for (k = 0; k < c; k++) {
#pragma omp simd
                for (r = 0; r < FL_TINY_LANES; r++) {
                    const FL_T e = t[k][r], a = al[r];
                    const int keep0 =
                        e == 0 && (a == (FL_T)INFINITY || a == -(FL_T)INFINITY);
                    FL_T v = keep0 ? (FL_T)0 : a * e;
                    v = (int)k == yl[r] ? v - gm[r] : v;
                    t[k][r] = yl[r] >= 0 ? v : (FL_T)0;
                }
            }
#endif
            FL_FN(tiny_store)(cx->g + i * c, t, c, nr);
        }
        for (r = 0; r < nr; r++) {
            if (cx->loss_rows)
                cx->loss_rows[i + r] = (FL_T)li[r];
            acc += li[r];
        }
    }
    return acc;
}

/* Rows [i0, i1) added in row order; the one loop every thread count runs. */
static double FL_FN(rows_block)(const FL_FN(fl_ctx) * cx, int64_t i0, int64_t i1)
{
    const int64_t c = cx->c;
    double acc = 0.0;
    int64_t i;
    if (cx->mode == FL_MODE_HARD && cx->eps == 0 && c <= FL_TINY_MAX_C) {
        if (c > 32 || (i1 - i0 >= FL_TINY_MIN_ROWS(c) && (!FL_F64 || c <= 24)))
            return FL_FN(tiny_rows)(cx, i0, i1);
        for (i = i0; i < i1; i += FL_TINY_ROWS) {
            const int64_t nr = i1 - i < FL_TINY_ROWS ? i1 - i : FL_TINY_ROWS;
            acc += c <= 16 ? FL_FN(tiny_block)(cx, i, nr, i1, 16)
                           : FL_FN(tiny_block)(cx, i, nr, i1, 32);
        }
        return acc;
    }
    for (i = i0; i < i1; i++) {
        const double li = c >= FL_SPLIT_MIN_COLS ? FL_FN(sm_long_row)(cx, i, 1, NULL)
                                                 : FL_FN(sm_short_row)(cx, 0, i);
        if (cx->loss_rows)
            cx->loss_rows[i] = (FL_T)li;
        acc += li;
    }
    return acc;
}

int FL_FN(fl_sce_run)(fl_sce_args *args, int n_threads)
{
    FL_FN(fl_ctx) cx;
    const int64_t n = args->n, c = args->c;
    double total = 0.0, denom = 0.0;
    int64_t k, bad;

    args->loss = 0.0;
    args->denominator = 0.0;
    args->bad_index = -1;
    if (n <= 0)
        return FL_OK;
    cx.x = (const FL_T *)args->logits;
    cx.p = (const FL_T *)args->prob;
    cx.w = (const FL_T *)args->weight;
    cx.sw = (const FL_T *)args->sample_weight;
    cx.y = args->prob ? NULL : args->target;
    bad = FL_FN(sm_denominator)(n, c, cx.y, args->ignore_index, cx.sw, cx.w, &denom);
    if (bad >= 0) {
        args->bad_index = bad;
        return FL_EBADTARGET;
    }
    args->denominator = denom;
    cx.g = (FL_T *)args->grad;
    cx.loss_rows = (FL_T *)args->loss_rows;
    cx.c = c;
    cx.ignore_index = args->ignore_index;
    cx.eps = args->label_smoothing;
    cx.z = args->z_loss;
    cx.den = !args->mean ? 1.0 : denom;
    cx.dk = 1.0;
    if (cx.den > 0 && cx.den < 0x1p-500) {
        cx.dk = 0x1p600; /* D dk in [2^-474, 2^100): exact, and 2^-1074 dk finite */
        cx.den *= cx.dk;
    }
    cx.pa = (FL_T)(1.0 - args->label_smoothing);
    cx.pb = (FL_T)(args->label_smoothing / (double)c);
    cx.mode = cx.p ? FL_MODE_SOFT : (cx.eps > 0 ? FL_MODE_HARD_SMOOTH : FL_MODE_HARD);
    cx.wsum = (double)c;
    if (cx.w) {
        cx.wsum = 0.0;
        for (k = 0; k < c; k++)
            cx.wsum += (double)cx.w[k];
    }
    if (FL_FN(rows_run)(&cx, n, c, n_threads, 1, cx.loss_rows, &total) != 0)
        return FL_ENOMEM;
    args->loss = !args->mean ? total : (cx.den != 0 ? total / cx.den : 0.0);
    return FL_OK;
}

void FL_FN(fl_vexp)(const FL_T *x, FL_T *out, int64_t n)
{
    int64_t k = 0, k0;
#if FL_PATH_VBYTES == 32
    /* the softmax sweeps' exp (fl_sm_avx2.h) where a whole vector is <= 0 or NaN,
     * which is all the kernels give it; FL_EXP elsewhere */
    const int nv = 32 / (int)sizeof(FL_T);
    for (; k + nv <= n; k += nv) {
        int j, pos = 0;
        for (j = 0; j < nv; j++)
            pos |= x[k + j] > 0;
        if (pos)
            for (j = 0; j < nv; j++)
                out[k + j] = FL_EXP(x[k + j]);
        else
            FL_FN(sm_vstore_exp)(x + k, out + k);
    }
#endif
    k0 = k;
#pragma omp simd
    for (k = k0; k < n; k++)
        out[k] = FL_EXP(x[k]);
}

#undef FL_FN
#undef FL_NOINLINE
#undef FL_SM_CTX
#undef FL_SM_KIND
#undef FL_ALIGN64
#undef FL_TINY_LANES
#undef FL_TINY_ROWS_T
#undef FL_TINY_ROWS
#undef FL_TINY_MIN_ROWS
