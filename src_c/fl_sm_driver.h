/* The softmax row engine, part 2 (part 1: fl_sm_engine.h): the row functions
 * built from a family's sweeps, long rows on one thread or split across several,
 * the reduction blocks and the thread count. Included inside each (dtype, SIMD path)
 * instantiation after the family's sweeps; no include guard on purpose. The family
 * defines FL_SM_CTX (its per-call constants), FL_SM_KIND(cx) (the row kind, a
 * constant where a family has one) and, for FL_SM_CTX *cx, sm_row *r, chunk
 * [k0, k0 + len) of the row, and `kind` a constant at each call site:
 *
 *   int    FL_FN(sm_start)(cx, i, r)                    sm_begin for row i
 *   void   FL_FN(sm_sweep_max)(cx, kind, r, k0, len, FL_T m[2])   sweep 1
 *   void   FL_FN(sm_sweep_sum)(cx, kind, r, k0, len, double part[3])  sweep 2
 *   double FL_FN(sm_finish)(cx, kind, i, r)   the row loss; r's coefficients
 *   void   FL_FN(sm_sweep_grad)(cx, kind, r, k0, len)     sweep 3
 *   void   FL_FN(sm_end)(cx, kind, r)   the target entry (gradient rows only)
 *   double FL_FN(rows_block)(cx, i0, i1)   rows [i0, i1) added in row order
 *
 * A short row runs the sweeps inlined, specialised on its kind. A long row runs
 * them out of line on fixed FL_CHUNK chunks, one compiled body each: the same
 * machine code on the same chunks gives the same bits whether the row is done by
 * one thread or split across several. Across rows: blocks of rows fixed by c
 * alone, row losses added in row order inside a block, block sums in block order
 * (fl_sum_blocks): the same bits for any thread count. */

/* Rows per reduction block: FL_SPLIT_MIN_COLS / c, at least 1; it is 1 whenever
 * c >= FL_SPLIT_MIN_COLS, so the split path (which adds row by row) agrees. */
#define FL_BLOCK_ELEMS FL_SPLIT_MIN_COLS

static double FL_FN(rows_block)(const FL_SM_CTX *cx, int64_t i0, int64_t i1);

/* One short row (c < FL_SPLIT_MIN_COLS) on one thread, the sweeps inlined. */
FL_INLINE double FL_FN(sm_short_row)(const FL_SM_CTX *cx, const int kind, int64_t i)
{
    const int64_t c = cx->c;
    FL_FN(sm_row) r;
    FL_T m[2];
    double loss;
    if (!FL_FN(sm_start)(cx, i, &r))
        return 0.0;
    FL_FN(sm_sweep_max)(cx, kind, &r, 0, c, m);
    r.m1 = m[0];
    r.m2 = m[1];
    FL_FN(sm_sweep_sum)(cx, kind, &r, 0, c, r.sums);
    loss = FL_FN(sm_finish)(cx, kind, i, &r);
    if (r.g) {
        FL_FN(sm_sweep_grad)(cx, kind, &r, 0, c);
        FL_FN(sm_end)(cx, kind, &r);
    }
    return loss;
}

/* The sweeps of a long row's chunk, out of line (see the top). */
FL_NOINLINE void FL_FN(sm_chunk_max)(const FL_SM_CTX *cx, const FL_FN(sm_row) * r,
                                     int64_t k0, int64_t len, FL_T *m)
{
    FL_FN(sm_sweep_max)(cx, FL_SM_KIND(cx), r, k0, len, m);
}

FL_NOINLINE void FL_FN(sm_chunk_sum)(const FL_SM_CTX *cx, const FL_FN(sm_row) * r,
                                     int64_t k0, int64_t len, double *part)
{
    FL_FN(sm_sweep_sum)(cx, FL_SM_KIND(cx), r, k0, len, part);
}

FL_NOINLINE void FL_FN(sm_chunk_grad)(const FL_SM_CTX *cx, const FL_FN(sm_row) * r,
                                      int64_t k0, int64_t len)
{
    FL_FN(sm_sweep_grad)(cx, FL_SM_KIND(cx), r, k0, len);
}

/* One long row (c >= FL_SPLIT_MIN_COLS) as fixed chunks, on this thread (nt == 1,
 * scratch unused) or split across nt threads in three phases separated by barriers
 * (scratch: 5 doubles a chunk). Chunk maxima, then chunk partial sums, are combined
 * in chunk order either way. */
static double FL_FN(sm_long_row)(const FL_SM_CTX *cx, int64_t i, int nt,
                                 double *scratch)
{
    const int64_t c = cx->c, nch = (c + FL_CHUNK - 1) / FL_CHUNK;
    FL_FN(sm_row) r;
    double loss = 0.0;
    int64_t k;
    if (!FL_FN(sm_start)(cx, i, &r))
        return 0.0;
    if (nt <= 1) {
        for (k = 0; k < nch; k++) {
            const int64_t k0 = k * FL_CHUNK,
                          len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
            FL_T m[2];
            FL_FN(sm_chunk_max)(cx, &r, k0, len, m);
            r.m1 = m[0] > r.m1 ? m[0] : r.m1;
            r.m2 = m[1] > r.m2 ? m[1] : r.m2;
        }
        for (k = 0; k < nch; k++) {
            const int64_t k0 = k * FL_CHUNK,
                          len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
            double part[3] = {0.0, 0.0, 0.0};
            FL_FN(sm_chunk_sum)(cx, &r, k0, len, part);
            r.sums[0] += part[0];
            r.sums[1] += part[1];
            r.sums[2] += part[2];
        }
        loss = FL_FN(sm_finish)(cx, FL_SM_KIND(cx), i, &r);
        if (r.g) {
            for (k = 0; k < nch; k++) {
                const int64_t k0 = k * FL_CHUNK,
                              len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
                FL_FN(sm_chunk_grad)(cx, &r, k0, len);
            }
        }
    }
#if FL_HAVE_OPENMP
    else {
        double *cmax = scratch, *parts = scratch + 2 * nch;
#pragma omp parallel num_threads(nt)
        {
            int64_t q;
#pragma omp for schedule(static)
            for (q = 0; q < nch; q++) {
                const int64_t k0 = q * FL_CHUNK,
                              len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
                FL_T m[2];
                FL_FN(sm_chunk_max)(cx, &r, k0, len, m);
                cmax[2 * q] = (double)m[0];
                cmax[2 * q + 1] = (double)m[1];
            }
#pragma omp single
            {
                for (q = 0; q < nch; q++) {
                    const FL_T m0 = (FL_T)cmax[2 * q], m1 = (FL_T)cmax[2 * q + 1];
                    r.m1 = m0 > r.m1 ? m0 : r.m1;
                    r.m2 = m1 > r.m2 ? m1 : r.m2;
                }
            }
#pragma omp for schedule(static)
            for (q = 0; q < nch; q++) {
                const int64_t k0 = q * FL_CHUNK,
                              len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
                double *part = parts + 3 * q;
                part[0] = part[1] = part[2] = 0.0;
                FL_FN(sm_chunk_sum)(cx, &r, k0, len, part);
            }
#pragma omp single
            {
                for (q = 0; q < nch; q++) {
                    r.sums[0] += parts[3 * q];
                    r.sums[1] += parts[3 * q + 1];
                    r.sums[2] += parts[3 * q + 2];
                }
                loss = FL_FN(sm_finish)(cx, FL_SM_KIND(cx), i, &r);
            }
            if (r.g) {
#pragma omp for schedule(static)
                for (q = 0; q < nch; q++) {
                    const int64_t k0 = q * FL_CHUNK,
                                  len = c - k0 < FL_CHUNK ? c - k0 : FL_CHUNK;
                    FL_FN(sm_chunk_grad)(cx, &r, k0, len);
                }
            }
        }
    }
#endif
    if (r.g)
        FL_FN(sm_end)(cx, FL_SM_KIND(cx), &r);
    return loss;
}

/* One reduction block of rows for fl_sum_blocks. */
typedef struct {
    const FL_SM_CTX *cx;
    int64_t rb, n;
} FL_FN(rows_span);

static double FL_FN(rows_span_block)(const void *p, int64_t b)
{
    const FL_FN(rows_span) *sp = (const FL_FN(rows_span) *)p;
    const int64_t i1 = (b + 1) * sp->rb < sp->n ? (b + 1) * sp->rb : sp->n;
    return FL_FN(rows_block)(sp->cx, b * sp->rb, i1);
}

/* The sum of the row losses of an (n, c) call (n, c >= 1), each also written to
 * loss_rows when given, on up to n_threads threads: one thread below
 * FL_PARALLEL_MIN elements; each row split across the threads when there are few
 * long rows and `split` allows it (softmax rows); else reduction blocks of rows.
 * Returns 0, or -1 when out of memory. */
static int FL_FN(rows_run)(const FL_SM_CTX *cx, int64_t n, int64_t c, int n_threads,
                           int split, FL_T *loss_rows, double *total)
{
    const int64_t rb = c >= FL_BLOCK_ELEMS ? 1 : FL_BLOCK_ELEMS / c;
    const int64_t nb = (n + rb - 1) / rb;
    int nt = n_threads < 1 ? 1 : n_threads;
    *total = 0.0;
#if FL_HAVE_OPENMP
    if (n * c < FL_PARALLEL_MIN)
        nt = 1;
    if (split && nt > 1 && c >= FL_SPLIT_MIN_COLS && n < 2 * (int64_t)nt) {
        /* Few long rows: split each row across the threads. */
        const int64_t nch = (c + FL_CHUNK - 1) / FL_CHUNK;
        double *scratch = (double *)malloc((size_t)(5 * nch) * sizeof(double));
        double sum = 0.0;
        int64_t i;
        if (!scratch)
            return -1;
        for (i = 0; i < n; i++) {
            const double li = FL_FN(sm_long_row)(cx, i, nt, scratch);
            if (loss_rows)
                loss_rows[i] = (FL_T)li;
            sum += li;
        }
        free(scratch);
        *total = sum;
        return 0;
    }
    if (nt > nb)
        nt = (int)nb;
#else
    nt = 1;
    (void)split;
    (void)loss_rows;
#endif
    {
        const FL_FN(rows_span) span = {cx, rb, n};
        return fl_sum_blocks(FL_FN(rows_span_block), &span, nb, nt, total);
    }
}

#undef FL_BLOCK_ELEMS
