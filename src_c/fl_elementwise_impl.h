/* Elementwise loss kernel body; included once per (dtype, SIMD path) by
 * fl_instance.h, which defines FL_T, FL_TS, FL_F64, FL_PATH, FL_PATH_FMA, FL_EXP
 * (dtype exp), FL_TLOG (dtype log) and FL_TLOG1P. No include guard on purpose. */

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

/* Elements per reduction block: fixed, so sums do not depend on the thread count. */
#define FL_EW_BLOCK 4096

/* acc + w * l for the weighted sums. gcc fuses a float64 w * l into the sum (FMA)
 * in some loop specialisations and not in others, so the float64 instances of the
 * FMA paths fuse explicitly; elsewhere nothing can fuse (no FMA on the baseline
 * path; a float32 product converted to double cannot fuse into a double add). l is
 * already 0 where w == 0; the fused form needs the test itself (0 * inf). */
#if FL_PATH_FMA && FL_F64
#define FL_WSUM(acc, w, l0, l) ((w) == 0 ? (acc) : __builtin_fma((w), (l0), (acc)))
#else
#define FL_WSUM(acc, w, l0, l) ((acc) + (double)(l))
#endif

/* clang picks a reduction loop's vector width and interleave (so the number and
 * order of its partial sums) per specialisation by its cost model: the loss-only
 * and the fused loops summed in different orders and their losses differed in the
 * last bit (89 failures of the suite's forward = fused checks in a clang build).
 * Pinning both makes every specialisation sum in one order. gcc keeps one order. */
#ifndef FL_PIN_REDUCTION
#if defined(__clang__)
#define FL_PIN_REDUCTION _Pragma("clang loop vectorize_width(4) interleave_count(1)")
#else
#define FL_PIN_REDUCTION
#endif
#endif

typedef struct {
    const FL_T *x, *y, *w, *sw, *pw;
    FL_T *g, *l;
    int64_t n, c, t;
    FL_T p0, p1, p2, p3;
    FL_T scale;
} FL_FN(fl_ew_ctx);

/* ---- per-element losses: FL_FN(ew_<kind>)(x, y, pw, cx, &g) returns the loss and
 * stores d loss / d x in *g; pw is the positive weight (1 when none) ------------ */
#include "fl_ew_regression.h"
#include "fl_ew_binary.h"
#include "fl_ew_keras.h"

/* ---- the block loop, specialised per kind and per output set ------------------ */

/* Internal kinds past FL_EW_COUNT: sigmoid focal on a block whose targets are all 0
 * or 1, with any gamma or with gamma = 2 (chosen per block by ew_block_any), and BCE
 * with logits without label smoothing (chosen per call by fl_ew_run), on such a
 * block without pos_weight (per block). */
#ifndef FL_EW_FOCAL_HARD
#define FL_EW_FOCAL_HARD (FL_EW_COUNT + 1)
#define FL_EW_FOCAL_HARD2 (FL_EW_COUNT + 2)
#define FL_EW_BCE_NOLS (FL_EW_COUNT + 3) /* BCE with logits, label smoothing 0 */
#define FL_EW_BCE_HARD (FL_EW_COUNT + 4) /* ... and no pos_weight, y in {0, 1} */
#define FL_EW_BCE_PROB_HARD (FL_EW_COUNT + 5) /* BCE on probabilities, ls 0, hard */
#define FL_EW_BCE_PROB_SOFT (FL_EW_COUNT + 6) /* ... no target 0 or 1 (or ls > 0) */
#define FL_EW_FOCAL_SOFT (FL_EW_COUNT + 7)    /* sigmoid focal, no target 0 or 1 */
#define FL_EW_FOCAL_HARD2NZ (FL_EW_COUNT + 8) /* hard, gamma 2, alpha not 0 or 1 */
#endif

FL_INLINE FL_T FL_FN(ew_elem)(const int kind, FL_T x, FL_T y, FL_T pw,
                              const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    switch (kind) {
    case FL_EW_BCE_LOGITS:
        return FL_FN(ew_bce_logits)(x, y, pw, cx, g);
    case FL_EW_L1:
        return FL_FN(ew_l1)(x, y, pw, cx, g);
    case FL_EW_HUBER:
        return FL_FN(ew_huber)(x, y, pw, cx, g);
    case FL_EW_SMOOTH_L1:
        return FL_FN(ew_smooth_l1)(x, y, pw, cx, g);
    case FL_EW_LOG_COSH:
        return FL_FN(ew_log_cosh)(x, y, pw, cx, g);
    case FL_EW_BCE_PROB:
        return FL_FN(ew_bce_prob)(x, y, pw, cx, g);
    case FL_EW_SIGMOID_FOCAL:
        return FL_FN(ew_sigmoid_focal)(x, y, pw, cx, g);
    case FL_EW_POISSON_LOG:
        return FL_FN(ew_poisson_log)(x, y, pw, cx, g);
    case FL_EW_POISSON:
        return FL_FN(ew_poisson)(x, y, pw, cx, g);
    case FL_EW_HINGE:
        return FL_FN(ew_hinge)(x, y, pw, cx, g);
    case FL_EW_SQUARED_HINGE:
        return FL_FN(ew_squared_hinge)(x, y, pw, cx, g);
    case FL_EW_MSLE:
        return FL_FN(ew_msle)(x, y, pw, cx, g);
    case FL_EW_MAPE:
        return FL_FN(ew_mape)(x, y, pw, cx, g);
    case FL_EW_FOCAL_HARD:
        return FL_FN(ew_sigmoid_focal_hard)(x, y, pw, cx, g);
    case FL_EW_FOCAL_HARD2:
        return FL_FN(ew_sigmoid_focal_hard2)(x, y, pw, cx, g);
    case FL_EW_FOCAL_HARD2NZ:
        return FL_FN(ew_sigmoid_focal_hard2nz)(x, y, pw, cx, g);
    case FL_EW_BCE_NOLS:
        return FL_FN(ew_bce_logits_nols)(x, y, pw, cx, g);
    case FL_EW_BCE_HARD:
        return FL_FN(ew_bce_logits_hard)(x, y, pw, cx, g);
    case FL_EW_BCE_PROB_HARD:
        return FL_FN(ew_bce_prob_hard)(x, y, pw, cx, g);
    case FL_EW_BCE_PROB_SOFT:
        return FL_FN(ew_bce_prob_soft)(x, y, pw, cx, g);
    case FL_EW_FOCAL_SOFT:
        return FL_FN(ew_sigmoid_focal_soft)(x, y, pw, cx, g);
    default:
        return FL_FN(ew_mse)(x, y, pw, cx, g);
    }
}

/* Elements [k0, k1) (at most FL_EW_BLOCK). `weighted`: w/sw/pw expanded into wb/pb. */
FL_INLINE double FL_FN(ew_block)(const FL_FN(fl_ew_ctx) * cx0, int64_t k0, int64_t k1,
                                 const int kind, const int has_g, const int has_l,
                                 const int weighted)
{
    /* A local copy of the context: the gradient stores (FL_T) may alias the
     * caller's context's FL_T parameters for all the compiler knows, which made it
     * reload and re-derive them (alpha, 1 - alpha, ...) in every iteration. */
    const FL_FN(fl_ew_ctx) cxl = *cx0;
    const FL_FN(fl_ew_ctx) *const cx = &cxl;
    const int64_t len = k1 - k0;
    const FL_T *x = cx->x + k0, *y = cx->y + k0;
    FL_T *gout = has_g ? cx->g + k0 : NULL, *lout = has_l ? cx->l + k0 : NULL;
    const FL_T scale = cx->scale;
    double acc = 0.0;
    int64_t k;
    if (!weighted) {
#pragma omp simd reduction(+ : acc)
        FL_PIN_REDUCTION
        for (k = 0; k < len; k++) {
            FL_T g;
            const FL_T l = FL_FN(ew_elem)(kind, x[k], y[k], 1, cx, &g);
            if (has_g)
                gout[k] = g * scale;
            if (has_l)
                lout[k] = l;
            acc += (double)l;
        }
    } else {
        FL_T wb[FL_EW_BLOCK], pb[FL_EW_BLOCK];
        /* Expand the broadcast weights with running indices (no division per
         * element): sample index k / t and class index k % c. */
        int64_t j = k0 % cx->c, r = k0 % cx->t, i = k0 / cx->t;
        for (k = 0; k < len; k++) {
            FL_T wv = cx->w ? cx->w[k0 + k] : (FL_T)1;
            if (cx->sw)
                wv *= cx->sw[i];
            wb[k] = wv;
            pb[k] = cx->pw ? cx->pw[j] : (FL_T)1;
            if (++j == cx->c)
                j = 0;
            if (++r == cx->t) {
                r = 0;
                i++;
            }
        }
#pragma omp simd reduction(+ : acc)
        FL_PIN_REDUCTION
        for (k = 0; k < len; k++) {
            FL_T g;
            const FL_T wk = wb[k];
            const FL_T l0 = FL_FN(ew_elem)(kind, x[k], y[k], pb[k], cx, &g);
            /* weight 0 removes an element outright, even a non-finite one */
            const FL_T l = wk == 0 ? 0 : wk * l0;
            if (has_g)
                gout[k] = wk == 0 ? 0 : g * (wk * scale);
            if (has_l)
                lout[k] = l;
            /* FL_WSUM spells out whether w * l is fused into the sum, so the
             * loss-only and the fused specialisations give the same bits. */
            acc = FL_WSUM(acc, wk, l0, l);
        }
    }
    return acc;
}

FL_INLINE double FL_FN(ew_block_kind)(const FL_FN(fl_ew_ctx) * cx, int64_t k0,
                                      int64_t k1, const int kind)
{
    const int weighted = cx->w || cx->sw || cx->pw;
    if (cx->g) {
        if (cx->l)
            return weighted ? FL_FN(ew_block)(cx, k0, k1, kind, 1, 1, 1)
                            : FL_FN(ew_block)(cx, k0, k1, kind, 1, 1, 0);
        return weighted ? FL_FN(ew_block)(cx, k0, k1, kind, 1, 0, 1)
                        : FL_FN(ew_block)(cx, k0, k1, kind, 1, 0, 0);
    }
    if (cx->l)
        return weighted ? FL_FN(ew_block)(cx, k0, k1, kind, 0, 1, 1)
                        : FL_FN(ew_block)(cx, k0, k1, kind, 0, 1, 0);
    return weighted ? FL_FN(ew_block)(cx, k0, k1, kind, 0, 0, 1)
                    : FL_FN(ew_block)(cx, k0, k1, kind, 0, 0, 0);
}

/* Which targets [k0, k1) holds: bit 1 some 0 or 1, bit 2 some other value. */
FL_INLINE int FL_FN(ew_target_kinds)(const FL_T *y, int64_t k0, int64_t k1)
{
    int hard = 0, soft = 0;
    int64_t k;
#pragma omp simd reduction(| : hard, soft)
    for (k = k0; k < k1; k++) {
        const int h = y[k] == 0 || y[k] == 1;
        hard |= h;
        soft |= !h;
    }
    return hard | soft << 1;
}

/* Every kind, public and internal, with the suffix of its block function. */
#define FL_EW_KINDS(X)                                                              \
    X(mse, FL_EW_MSE) X(bce_logits, FL_EW_BCE_LOGITS) X(l1, FL_EW_L1)               \
    X(huber, FL_EW_HUBER) X(smooth_l1, FL_EW_SMOOTH_L1)                             \
    X(log_cosh, FL_EW_LOG_COSH) X(bce_prob, FL_EW_BCE_PROB)                         \
    X(sigmoid_focal, FL_EW_SIGMOID_FOCAL) X(focal_hard, FL_EW_FOCAL_HARD)           \
    X(focal_hard2, FL_EW_FOCAL_HARD2) X(focal_hard2nz, FL_EW_FOCAL_HARD2NZ)         \
    X(bce_nols, FL_EW_BCE_NOLS) X(bce_hard, FL_EW_BCE_HARD)                         \
    X(bce_prob_hard, FL_EW_BCE_PROB_HARD) X(bce_prob_soft, FL_EW_BCE_PROB_SOFT)     \
    X(focal_soft, FL_EW_FOCAL_SOFT) X(poisson_log, FL_EW_POISSON_LOG)               \
    X(poisson, FL_EW_POISSON) X(hinge, FL_EW_HINGE)                                 \
    X(squared_hinge, FL_EW_SQUARED_HINGE) X(msle, FL_EW_MSLE) X(mape, FL_EW_MAPE)

/* One out-of-line block function per kind, holding its 8 specialised loops: the
 * switch of ew_block_any is outside every loop, and no function holds every kind's
 * loops (inlined into one function, they took gcc 0.9 GB for the float64 instances
 * of one SIMD path). */
#if defined(__GNUC__) || defined(__clang__)
#define FL_EW_NOINLINE static __attribute__((noinline))
#else
#define FL_EW_NOINLINE static
#endif
#define FL_EW_BLOCK_FN(name, kind)                                                  \
    FL_EW_NOINLINE double FL_FN(ew_block_##name)(const FL_FN(fl_ew_ctx) * cx,       \
                                                 int64_t k0, int64_t k1)            \
    {                                                                               \
        return FL_FN(ew_block_kind)(cx, k0, k1, kind);                              \
    }
FL_EW_KINDS(FL_EW_BLOCK_FN)

static double FL_FN(ew_block_any)(const FL_FN(fl_ew_ctx) * cx, int64_t k0, int64_t k1,
                                  int kind)
{
    /* Blocks of one kind of target take that form only; a mixed block picks the
     * form per element (so the bits of an element do not depend on the block). */
    if (kind == FL_EW_SIGMOID_FOCAL) {
        const int tk = FL_FN(ew_target_kinds)(cx->y, k0, k1);
        if (tk == 1)
            kind = cx->p1 != 2                    ? FL_EW_FOCAL_HARD
                   : cx->p0 == 0 || cx->p0 == 1 ? FL_EW_FOCAL_HARD2
                                                : FL_EW_FOCAL_HARD2NZ;
        else if (tk == 2)
            kind = FL_EW_FOCAL_SOFT;
    } else if (kind == FL_EW_BCE_NOLS && !cx->pw) {
        if (FL_FN(ew_target_kinds)(cx->y, k0, k1) == 1)
            kind = FL_EW_BCE_HARD;
    } else if (kind == FL_EW_BCE_PROB) {
        const int tk = cx->p1 == 0 ? FL_FN(ew_target_kinds)(cx->y, k0, k1) : 2;
        if (tk == 1)
            kind = FL_EW_BCE_PROB_HARD;
        else if (tk == 2)
            kind = FL_EW_BCE_PROB_SOFT;
    }
    switch (kind) {
#define FL_EW_CASE(name, kind)                                                      \
    case kind:                                                                      \
        return FL_FN(ew_block_##name)(cx, k0, k1);
        FL_EW_KINDS(FL_EW_CASE)
#undef FL_EW_CASE
    default:
        return FL_FN(ew_block_mse)(cx, k0, k1);
    }
}

/* One reduction block of elements for fl_sum_blocks. */
typedef struct {
    const FL_FN(fl_ew_ctx) * cx;
    int kind;
} FL_FN(ew_span);

static double FL_FN(ew_block_of)(const void *p, int64_t b)
{
    const FL_FN(ew_span) *sp = (const FL_FN(ew_span) *)p;
    const int64_t n = sp->cx->n;
    const int64_t k1 = (b + 1) * FL_EW_BLOCK < n ? (b + 1) * FL_EW_BLOCK : n;
    return FL_FN(ew_block_any)(sp->cx, b * FL_EW_BLOCK, k1, sp->kind);
}

int FL_FN(fl_ew_run)(fl_ew_args *a, int n_threads)
{
    FL_FN(fl_ew_ctx) cx;
    const int64_t n = a->n, nb = (n + FL_EW_BLOCK - 1) / FL_EW_BLOCK;
    double total = 0.0;
    int nt = n_threads < 1 ? 1 : n_threads;

    a->loss = 0.0;
    if (a->kind < 0 || a->kind >= FL_EW_COUNT)
        return FL_EW_EKIND;
    if (n <= 0)
        return FL_EW_OK;
    cx.x = (const FL_T *)a->input;
    cx.y = (const FL_T *)a->target;
    cx.w = (const FL_T *)a->weight;
    cx.sw = (const FL_T *)a->sample_weight;
    cx.pw = (const FL_T *)a->pos_weight;
    cx.g = (FL_T *)a->grad;
    cx.l = (FL_T *)a->loss_elems;
    cx.n = n;
    cx.c = a->c < 1 ? 1 : a->c;
    cx.t = a->t < 1 ? 1 : a->t;
    cx.p0 = (FL_T)a->p[0];
    cx.p1 = (FL_T)a->p[1];
    cx.p2 = (FL_T)a->p[2];
    cx.p3 = (FL_T)a->p[3];
    cx.scale = (FL_T)a->grad_scale;
#if FL_HAVE_OPENMP
    if (n < FL_PARALLEL_MIN)
        nt = 1;
    if (nt > nb)
        nt = (int)nb;
#else
    nt = 1;
#endif
    {
        const int kind =
            a->kind == FL_EW_BCE_LOGITS && cx.p0 == 0 ? FL_EW_BCE_NOLS : a->kind;
        const FL_FN(ew_span) span = {&cx, kind};
        if (fl_sum_blocks(FL_FN(ew_block_of), &span, nb, nt, &total) != 0)
            return FL_EW_ENOMEM;
    }
    a->loss = total;
    return FL_EW_OK;
}

#undef FL_FN
#undef FL_WSUM
#undef FL_EW_KINDS
#undef FL_EW_NOINLINE
#undef FL_EW_BLOCK_FN
