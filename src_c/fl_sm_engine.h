/* The softmax row engine, part 1: the pieces every softmax row kind shares (cross-
 * entropy in fl_softmax_ce_impl.h; focal and KL in fl_rw_softmax.h). Included inside
 * each (dtype, SIMD path) instantiation, with FL_FN defined; no include guard on
 * purpose. Part 2, the driver (long rows, thread split, fixed-order reduction), is
 * fl_sm_driver.h. docs/DESIGN_softmax_engine.md says what is shared and why the
 * rest is not.
 *
 * Every kind runs three sweeps over a row of c entries (all sums in float64):
 *   sweep 1  m = max x (KL with teacher logits: also the teacher's)   FL_FN(sm_max)
 *   sweep 2  e = exp(x - m) stored into grad and summed, plus the kind's own sums
 *   sweep 3  grad = coefficient * e - (kind's term), in place, while in cache
 * Writing exp(x - m) keeps every exponent <= 0: no overflow for any finite input. */

#if defined(__GNUC__) || defined(__clang__)
#define FL_NOINLINE static __attribute__((noinline))
#else
#define FL_NOINLINE static
#endif

#if FL_PATH_VBYTES == 32
#include "fl_sm_avx2.h" /* the AVX2 path's hand-vectorised sweeps */
#elif FL_PATH_VBYTES == 64
#include <immintrin.h> /* sm_max */
#endif

/* Sweep 1 over [0, len): the maximum (NaN is never picked; a NaN row turns into NaN
 * through exp in sweep 2). */
FL_INLINE FL_T FL_FN(sm_max)(const FL_T *x, int64_t len)
{
#if FL_PATH_VBYTES == 32
    return FL_FN(sm_max_avx2)(x, len);
#elif FL_PATH_VBYTES == 64
    /* AVX-512: gcc's `omp simd reduction(max)` ended a row whose length is not a
     * multiple of the vector in an epilogue that cost ~35 ns (a focal row of 10
     * floats: 92 ns, of 16: 52 ns); here the rest is one masked load, its other
     * lanes -inf. The value is the same: max(v, a) returns a when v is NaN (a never
     * is), and the order of a max does not change its value (but for the sign of a
     * zero maximum, which no result depends on: m enters only as x - m, whose exp is
     * 1 for either zero, and as differences that are then added to nonzero sums or
     * to sums that start at +0). Four accumulators for long rows, as on AVX2. */
#if FL_F64
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    __m512d a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
    int64_t k = 0;
    for (; k + 32 <= len; k += 32) {
        a0 = _mm512_max_pd(_mm512_loadu_pd(x + k), a0);
        a1 = _mm512_max_pd(_mm512_loadu_pd(x + k + 8), a1);
        a2 = _mm512_max_pd(_mm512_loadu_pd(x + k + 16), a2);
        a3 = _mm512_max_pd(_mm512_loadu_pd(x + k + 24), a3);
    }
    for (; k + 8 <= len; k += 8)
        a0 = _mm512_max_pd(_mm512_loadu_pd(x + k), a0);
    if (k < len)
        a1 = _mm512_max_pd(
            _mm512_mask_loadu_pd(ninf, (__mmask8)((1u << (len - k)) - 1u), x + k), a1);
    return _mm512_reduce_max_pd(
        _mm512_max_pd(_mm512_max_pd(a0, a1), _mm512_max_pd(a2, a3)));
#else
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
    int64_t k = 0;
    for (; k + 64 <= len; k += 64) {
        a0 = _mm512_max_ps(_mm512_loadu_ps(x + k), a0);
        a1 = _mm512_max_ps(_mm512_loadu_ps(x + k + 16), a1);
        a2 = _mm512_max_ps(_mm512_loadu_ps(x + k + 32), a2);
        a3 = _mm512_max_ps(_mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k + 16 <= len; k += 16)
        a0 = _mm512_max_ps(_mm512_loadu_ps(x + k), a0);
    if (k < len)
        a1 = _mm512_max_ps(
            _mm512_mask_loadu_ps(ninf, (__mmask16)((1u << (len - k)) - 1u), x + k), a1);
    return _mm512_reduce_max_ps(
        _mm512_max_ps(_mm512_max_ps(a0, a1), _mm512_max_ps(a2, a3)));
#endif
#elif defined(__clang__)
    /* clang starts each lane of an `omp simd reduction(max)` at the lowest finite
     * value instead of -inf, which made an all -inf row's maximum finite (and its
     * loss finite): keep the lanes by hand, starting at -inf. */
    FL_T lane[8];
    int64_t k;
    int j;
    for (j = 0; j < 8; j++)
        lane[j] = -(FL_T)INFINITY;
    for (k = 0; k + 8 <= len; k += 8)
        for (j = 0; j < 8; j++)
            lane[j] = x[k + j] > lane[j] ? x[k + j] : lane[j];
    for (; k < len; k++)
        lane[0] = x[k] > lane[0] ? x[k] : lane[0];
    for (j = 1; j < 8; j++)
        lane[0] = lane[j] > lane[0] ? lane[j] : lane[0];
    return lane[0];
#else
    FL_T m = -(FL_T)INFINITY;
    int64_t k;
#pragma omp simd reduction(max : m)
    for (k = 0; k < len; k++)
        m = x[k] > m ? x[k] : m;
    return m;
#endif
}

/* The state of one row between the sweeps: what a long row's chunk steps (on one
 * thread or several) read and write. */
typedef struct {
    const FL_T *x, *x2; /* the row of x, and of the second input (CE probabilities,
                           KL teacher) or NULL                                   */
    FL_T *g;            /* the row of grad, or NULL                              */
    int64_t y;          /* the class-index target, else -1                       */
    double xy;          /* x[y], read before sweep 2 may overwrite it (in place) */
    FL_T m1, m2;        /* max of x; max of x2 (KL with teacher logits)          */
    double sums[3];     /* sweep-2 sums, by kind                                 */
    FL_T ca, cb;        /* sweep-3 coefficients                                  */
    double gy;          /* the target entry's correction (see each kind)         */
} FL_FN(sm_row);

/* Sets up row i of an (n, c) call; y is the targets' array or NULL. Returns 0 for
 * an ignored row, its gradient zeroed (its loss is 0). */
FL_INLINE int FL_FN(sm_begin)(FL_FN(sm_row) * r, const FL_T *x, const FL_T *x2, FL_T *g,
                              const int64_t *y, int64_t ignore, int64_t c, int64_t i)
{
    int64_t k;
    r->x = x + i * c;
    r->x2 = x2 ? x2 + i * c : NULL;
    r->g = g ? g + i * c : NULL;
    r->y = -1;
    r->xy = 0.0;
    r->m1 = r->m2 = -(FL_T)INFINITY;
    r->sums[0] = r->sums[1] = r->sums[2] = 0.0;
    r->ca = r->cb = 0;
    r->gy = 0.0;
    if (y) {
        r->y = y[i];
        if (r->y == ignore) {
            if (r->g)
                for (k = 0; k < c; k++)
                    r->g[k] = 0;
            return 0;
        }
        r->xy = (double)r->x[r->y];
    }
    return 1;
}

/* The row's scale s_i / D ("mean"; den = 1 otherwise), 0 when D == 0. s_i / D, not
 * s_i * (1 / D): 1 / D overflows for a subnormal D (weights of 5e-324), and inf * 0
 * made a NaN gradient out of finite inputs. */
FL_INLINE double FL_FN(sm_row_scale)(double den, double swi)
{
    return den != 0 ? swi / den : 0.0;
}

/* Target check and the "mean" normaliser D, in row order, before anything is
 * written: D = sum over rows not ignored of sw_i w_{y_i} (1 where sw, w or y is
 * NULL). Returns the first position of a target out of [0, c), or -1. */
static int64_t FL_FN(sm_denominator)(int64_t n, int64_t c, const int64_t *y,
                                     int64_t ignore, const FL_T *sw, const FL_T *w,
                                     double *denominator)
{
    double d = 0.0;
    int64_t i;
    if (!y) {
        if (!sw) {
            *denominator = (double)n;
            return -1;
        }
        for (i = 0; i < n; i++)
            d += (double)sw[i];
        *denominator = d;
        return -1;
    }
    for (i = 0; i < n; i++) {
        const int64_t t = y[i];
        if (t == ignore)
            continue;
        if (t < 0 || t >= c)
            return i;
        d += (sw ? (double)sw[i] : 1.0) * (w ? (double)w[t] : 1.0);
    }
    *denominator = d;
    return -1;
}
