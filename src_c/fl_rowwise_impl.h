/* Row-wise kernel driver. Included once per (dtype, SIMD path) by fl_instance.h,
 * which defines FL_T (float/double), FL_TS (f32/f64), FL_PATH, FL_EXP and FL_TLOG
 * (the dtype's vector exp and log) and FL_DEXP, FL_DLOG, FL_DLOG1P (the float64
 * ones); no include guard on purpose. The row bodies are fl_rw_softmax.h and
 * fl_rw_triplet.h.
 *
 * Threads: rows in blocks of FL_RW_BLOCK_ELEMS / c rows (a function of c alone), each
 * block's row losses added in row order, block sums in block order: the same bits for
 * any thread count. Softmax-type rows of at least FL_SPLIT_MIN_COLS entries are
 * always processed as fixed chunks, and split across threads when there are fewer
 * than 2 rows per thread. */

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

#if defined(__GNUC__) || defined(__clang__)
#define FL_NOINLINE static __attribute__((noinline))
#else
#define FL_NOINLINE static
#endif

/* Rows per reduction block: FL_RW_BLOCK_ELEMS / c, at least 1; it is 1 whenever
 * c >= FL_SPLIT_MIN_COLS, so the split path (which adds row by row) agrees. */
#define FL_RW_BLOCK_ELEMS FL_SPLIT_MIN_COLS

/* Constants shared by every row of a call. */
typedef struct {
    int kind;
    const FL_T *x, *x2, *x3, *cw, *sw;
    const int64_t *y;
    FL_T *g, *g2, *g3, *loss_rows;
    int64_t n, c, ignore_index;
    double den;                  /* D for "mean" (0 when D == 0), else 1          */
    double gamma;                /* focal                                         */
    double temp, temp2, inv_temp; /* KL: T, T^2, 1 / T                            */
    FL_T it;                     /* KL: 1 / T in the dtype (largest finite if the
                                    reciprocal overflows it)                      */
    double margin, norm_p, eps;  /* triplet                                       */
    int swap, norm_kind;         /* triplet: norm_kind 2, 1, or 0 (general p)     */
} FL_FN(rw_ctx);

#include "fl_rw_softmax.h"
#include "fl_rw_triplet.h"

/* Rows [i0, i1) of one kind added in row order; the one loop every thread count
 * runs. `kind` and `chunked` / `nk` are constants at each call site. */
FL_INLINE double FL_FN(rows_loop)(const FL_FN(rw_ctx) * cx, int64_t i0, int64_t i1,
                                  const int kind, const int sub)
{
    double acc = 0.0;
    int64_t i;
    for (i = i0; i < i1; i++) {
        const double li = kind == FL_RW_TRIPLET ? FL_FN(tri_row)(cx, i, sub)
                                                : FL_FN(soft_row)(cx, kind, i, sub);
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

/* Target check (focal) and the "mean" normaliser D, in row order, before anything is
 * written. Returns the first bad position, or -1. */
static int64_t FL_FN(rw_denominator)(const fl_rw_args *a, double *denominator)
{
    const int64_t n = a->n, c = a->c, ignore = a->ignore_index;
    const int64_t *y = a->kind == FL_RW_FOCAL ? a->target : NULL;
    const FL_T *sw = (const FL_T *)a->sample_weight;
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
        d += sw ? (double)sw[i] : 1.0;
    }
    *denominator = d;
    return -1;
}

/* One reduction block of rows for fl_sum_blocks. */
typedef struct {
    const FL_FN(rw_ctx) * cx;
    int64_t rb;
} FL_FN(rw_span);

static double FL_FN(rw_block)(const void *p, int64_t b)
{
    const FL_FN(rw_span) *sp = (const FL_FN(rw_span) *)p;
    const int64_t n = sp->cx->n, i1 = (b + 1) * sp->rb < n ? (b + 1) * sp->rb : n;
    return FL_FN(rows_block)(sp->cx, b * sp->rb, i1);
}

int FL_FN(fl_rw_run)(fl_rw_args *args, int n_threads)
{
    FL_FN(rw_ctx) cx;
    const int64_t n = args->n, c = args->c;
    const int64_t rb = c >= FL_RW_BLOCK_ELEMS ? 1 : FL_RW_BLOCK_ELEMS / (c < 1 ? 1 : c);
    const int64_t nb = (n + rb - 1) / rb;
    const double fmax =
        sizeof(FL_T) == 4 ? 3.4028234663852886e38 : 1.7976931348623157e308;
    double total = 0.0, denom = 0.0;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t bad;

    args->loss = 0.0;
    args->denominator = 0.0;
    args->bad_index = -1;
    if (args->kind < 0 || args->kind >= FL_RW_COUNT)
        return FL_RW_EKIND;
    if (n <= 0 || c < 1)
        return FL_RW_OK;
    bad = FL_FN(rw_denominator)(args, &denom);
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
    cx.n = n;
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
#if FL_HAVE_OPENMP
    if (n * c < FL_PARALLEL_MIN)
        nt = 1;
    if (nt > 1 && cx.kind != FL_RW_TRIPLET && c >= FL_SPLIT_MIN_COLS
        && n < 2 * (int64_t)nt) {
        /* Few long rows: split each row across the threads. */
        const int64_t nch = (c + FL_CHUNK - 1) / FL_CHUNK;
        double *scratch = (double *)malloc((size_t)(5 * nch) * sizeof(double));
        int64_t i;
        if (!scratch)
            return FL_RW_ENOMEM;
        for (i = 0; i < n; i++) {
            const double li = FL_FN(soft_row_split)(&cx, i, nt, scratch);
            if (cx.loss_rows)
                cx.loss_rows[i] = (FL_T)li;
            total += li;
        }
        free(scratch);
        args->loss = !args->mean ? total : (denom != 0 ? total / denom : 0.0);
        return FL_RW_OK;
    }
    if (nt > nb)
        nt = (int)nb;
#else
    nt = 1;
#endif
    {
        const FL_FN(rw_span) span = {&cx, rb};
        if (fl_sum_blocks(FL_FN(rw_block), &span, nb, nt, &total) != 0)
            return FL_RW_ENOMEM;
    }
    args->loss = !args->mean ? total : (denom != 0 ? total / denom : 0.0);
    return FL_RW_OK;
}

#undef FL_FN
#undef FL_NOINLINE
