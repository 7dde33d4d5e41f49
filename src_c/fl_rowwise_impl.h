/* Row-wise kernel driver. Included once per (dtype, SIMD path) by fl_instance.h,
 * which defines FL_T (float/double), FL_TS (f32/f64), FL_PATH, FL_EXP and FL_TLOG
 * (the dtype's vector exp and log) and FL_DEXP, FL_DLOG, FL_DLOG1P (the float64
 * ones); no include guard on purpose. The row bodies are fl_rw_softmax.h,
 * fl_rw_triplet.h, fl_rw_pair.h, fl_rw_circle.h and fl_rw_categorical.h.
 *
 * Threads and the reduction are the row engine's driver (fl_sm_driver.h), as for
 * softmax cross-entropy: rows in blocks fixed by c alone, block sums in block
 * order, the same bits for any thread count. Softmax-type rows of at least
 * FL_SPLIT_MIN_COLS entries are always processed as fixed chunks, and split across
 * threads when there are fewer than 2 rows per thread. */

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

#include "fl_sm_engine.h"

/* Constants shared by every row of a call. */
typedef struct {
    int kind;
    const FL_T *x, *x2, *x3, *cw, *sw;
    const int64_t *y;
    FL_T *g, *g2, *g3, *loss_rows;
    int64_t c, ignore_index;
    double den;                  /* D for "mean" (0 when D == 0), else 1          */
    double gamma;                /* focal                                         */
    double temp, temp2, inv_temp; /* KL: T, T^2, 1 / T                            */
    FL_T it;                     /* KL: 1 / T in the dtype (largest finite if the
                                    reciprocal overflows it)                      */
    double margin, norm_p, eps;  /* triplet                                       */
    int swap, norm_kind;         /* triplet: norm_kind 2, 1, or 0 (general p)     */
    double ov_alpha, ov_beta, ov_eps; /* cosine, Dice, Tversky (fl_rw_pair.h)     */
    double cgamma, cmargin;      /* circle (fl_rw_circle.h)                        */
    int cdiag;                   /* circle: remove the diagonal from the positives */
    double gq;                   /* GCE: q (fl_rw_categorical.h)                  */
} FL_FN(rw_ctx);

#include "fl_rw_softmax.h"
#include "fl_rw_triplet.h"
#include "fl_rw_pair.h"
#include "fl_rw_circle.h"
#include "fl_rw_categorical.h"
#include "fl_sm_driver.h"

/* Rows [i0, i1) of one kind added in row order; the one loop every thread count
 * runs. `kind` and `sub` (softmax kinds: 1 for long rows; triplet: the norm kind)
 * are constants at each call site. */
FL_INLINE double FL_FN(rows_loop)(const FL_FN(rw_ctx) * cx, int64_t i0, int64_t i1,
                                  const int kind, const int sub)
{
    double acc = 0.0;
    int64_t i;
    for (i = i0; i < i1; i++) {
        const double li = kind == FL_RW_TRIPLET     ? FL_FN(tri_row)(cx, i, sub)
                          : kind == FL_RW_CIRCLE    ? FL_FN(circle_row)(cx, i)
                          : kind == FL_RW_CAT_HINGE ? FL_FN(chinge_row)(cx, i)
                          : kind == FL_RW_GCE       ? FL_FN(gce_row)(cx, i)
                          : kind >= FL_RW_COSINE    ? FL_FN(pair_row)(cx, i, kind)
                          : sub ? FL_FN(sm_long_row)(cx, i, 1, NULL)
                                : FL_FN(sm_short_row)(cx, kind, i);
        if (cx->loss_rows)
            cx->loss_rows[i] = (FL_T)li;
        acc += li;
    }
    return acc;
}

static double FL_FN(rows_block)(const FL_FN(rw_ctx) * cx, int64_t i0, int64_t i1)
{
    const int chunked = cx->c >= FL_SPLIT_MIN_COLS;
    switch (cx->kind) {
    case FL_RW_FOCAL:
        return chunked ? FL_FN(rows_loop)(cx, i0, i1, FL_RW_FOCAL, 1)
                       : FL_FN(rows_loop)(cx, i0, i1, FL_RW_FOCAL, 0);
    case FL_RW_KL_LOGITS:
        return chunked ? FL_FN(rows_loop)(cx, i0, i1, FL_RW_KL_LOGITS, 1)
                       : FL_FN(rows_loop)(cx, i0, i1, FL_RW_KL_LOGITS, 0);
    case FL_RW_KL_PROBS:
        return chunked ? FL_FN(rows_loop)(cx, i0, i1, FL_RW_KL_PROBS, 1)
                       : FL_FN(rows_loop)(cx, i0, i1, FL_RW_KL_PROBS, 0);
    case FL_RW_COSINE:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_COSINE, 0);
    case FL_RW_DICE:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_DICE, 0);
    case FL_RW_TVERSKY:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_TVERSKY, 0);
    case FL_RW_CIRCLE:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_CIRCLE, 0);
    case FL_RW_CAT_HINGE:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_CAT_HINGE, 0);
    case FL_RW_GCE:
        return FL_FN(rows_loop)(cx, i0, i1, FL_RW_GCE, 0);
    default:
        switch (cx->norm_kind) {
        case 2:
            return FL_FN(rows_loop)(cx, i0, i1, FL_RW_TRIPLET, 2);
        case 1:
            return FL_FN(rows_loop)(cx, i0, i1, FL_RW_TRIPLET, 1);
        default:
            return FL_FN(rows_loop)(cx, i0, i1, FL_RW_TRIPLET, 0);
        }
    }
}

int FL_FN(fl_rw_run)(fl_rw_args *args, int n_threads)
{
    FL_FN(rw_ctx) cx;
    const int64_t n = args->n, c = args->c;
    const double fmax =
        sizeof(FL_T) == 4 ? 3.4028234663852886e38 : 1.7976931348623157e308;
    double total = 0.0, denom = 0.0;
    int64_t bad;

    args->loss = 0.0;
    args->denominator = 0.0;
    args->bad_index = -1;
    if (args->kind < 0 || args->kind >= FL_RW_COUNT)
        return FL_RW_EKIND;
    if (n <= 0 || c < 1)
        return FL_RW_OK;
    /* D: alpha (class_weight) is not in it */
    bad = FL_FN(sm_denominator)(n, c,
                                args->kind == FL_RW_FOCAL || args->kind == FL_RW_GCE
                                    ? args->target
                                    : NULL,
                                args->ignore_index, (const FL_T *)args->sample_weight,
                                NULL, &denom);
    if (bad >= 0) {
        args->bad_index = bad;
        return FL_RW_EBADTARGET;
    }
    args->denominator = denom;
    cx.kind = args->kind;
    cx.x = (const FL_T *)args->x;
    cx.x2 = (const FL_T *)args->x2;
    cx.x3 = (const FL_T *)args->x3;
    cx.cw = (const FL_T *)args->class_weight;
    cx.sw = (const FL_T *)args->sample_weight;
    cx.y = args->target;
    cx.g = (FL_T *)args->grad;
    cx.g2 = (FL_T *)args->grad2;
    cx.g3 = (FL_T *)args->grad3;
    if (cx.kind == FL_RW_TRIPLET && (!cx.g2 || !cx.g3))
        cx.g = NULL; /* all three gradients or none */
    cx.loss_rows = (FL_T *)args->loss_rows;
    cx.c = c;
    cx.ignore_index = args->ignore_index;
    cx.den = !args->mean ? 1.0 : denom;
    cx.gamma = args->p[0];
    cx.temp = args->p[0];
    cx.temp2 = args->p[0] * args->p[0];
    cx.inv_temp = 1.0 / args->p[0];
    cx.it = (FL_T)(cx.inv_temp < fmax ? cx.inv_temp : fmax);
    cx.margin = args->p[0];
    cx.norm_p = args->p[1];
    cx.eps = args->p[2];
    cx.swap = args->p[3] != 0.0;
    cx.norm_kind = args->p[1] == 2.0 ? 2 : (args->p[1] == 1.0 ? 1 : 0);
    cx.ov_alpha = cx.kind == FL_RW_TVERSKY ? args->p[0] : 0.0;
    cx.ov_beta = cx.kind == FL_RW_TVERSKY ? args->p[1] : 0.0;
    cx.ov_eps = cx.kind == FL_RW_TVERSKY ? args->p[2] : args->p[0];
    cx.cgamma = args->p[0];
    cx.cmargin = args->p[1];
    cx.cdiag = args->p[2] != 0.0;
    cx.gq = args->p[0];
    /* only the softmax kinds split a row across threads */
    if (FL_FN(rows_run)(&cx, n, c, n_threads, cx.kind <= FL_RW_KL_PROBS, cx.loss_rows,
                        &total) != 0)
        return FL_RW_ENOMEM;
    args->loss = !args->mean ? total : (denom != 0 ? total / denom : 0.0);
    return FL_RW_OK;
}

#undef FL_FN
#undef FL_NOINLINE
#undef FL_SM_CTX
#undef FL_SM_KIND
