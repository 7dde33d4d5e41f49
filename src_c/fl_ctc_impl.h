/* CTC loss kernel body, written once for FL_T (float or double) and included by
 * fl_ctc.c once per dtype with FL_T and FL_TS (f32/f64) defined; no include guard
 * on purpose. See fl_ctc.h for the recursions. Everything is float64 inside. */

#define FL_CTC_FN(name) FL_CAT2(name, FL_TS)

/* State s of the extended label sequence: blank at even s, label (s - 1) / 2 at odd. */
#define FL_CTC_LABEL(lab, blank, s) (((s) & 1) ? (lab)[(s) >> 1] : (blank))

/* Scratch of one sequence: alphas (T_i x S), two beta rows (S each), the posterior
 * of one frame and the frames' log-normalisers (from_logits) (c + T_i). */
static double *FL_CTC_FN(ctc_scratch)(int64_t ti, int64_t s, int64_t c)
{
    /* counted in double: no int64 or size_t product can wrap */
    const double need = (double)ti * (double)s + 2.0 * (double)s + (double)c
                        + (double)ti + 1.0;
    if (need * sizeof(double) > (double)PTRDIFF_MAX)
        return NULL;
    return (double *)malloc((size_t)need * sizeof(double));
}

/* Sequence i: its loss (before zero_infinity and weights), and, when g != NULL, its
 * gradient times `scale` written to every frame of it (0 beyond T_i). Returns NaN
 * and sets *nomem when the scratch cannot be allocated. */
static double FL_CTC_FN(ctc_seq)(const fl_ctc_args *a, int64_t i, double scale,
                                 int want_grad, int *nomem)
{
    const FL_T *x = (const FL_T *)a->x;
    FL_T *g = want_grad ? (FL_T *)a->grad : NULL;
    const int64_t c = a->c, blank = a->blank;
    const int64_t st = a->batch_first ? c : a->n * c;      /* frame stride    */
    const int64_t sn = a->batch_first ? a->t * c : c;      /* sequence stride */
    const int64_t ti = a->input_lengths[i], li = a->target_lengths[i];
    const int64_t *lab = li > 0 ? a->targets + a->target_offsets[i] : NULL;
    const int64_t s_n = 2 * li + 1;
    const FL_T *xi = x + i * sn;
    double *alpha, *beta, *beta2, *post, *lse;
    double nll;
    int64_t t, s, k;

    if (ti == 0) { /* no frame: only the empty sequence has an alignment */
        nll = li == 0 ? 0.0 : INFINITY;
        if (g)
            for (t = 0; t < a->t; t++)
                for (k = 0; k < c; k++)
                    g[i * sn + t * st + k] = 0;
        return nll;
    }
    alpha = FL_CTC_FN(ctc_scratch)(ti, s_n, c);
    if (!alpha) {
        *nomem = 1;
        return NAN;
    }
    beta = alpha + ti * s_n;
    beta2 = beta + s_n;
    post = beta2 + s_n;
    lse = post + c;

    /* log_softmax's normaliser per frame: m + log sum exp(x - m), m the row max
     * (no overflow). A row of -inf, a +inf or a NaN gives NaN log-probabilities,
     * as log_softmax does. */
    for (t = 0; t < ti; t++) {
        const FL_T *row = xi + t * st;
        double m = -INFINITY, sum = 0.0;
        if (!a->from_logits) {
            lse[t] = 0.0;
            continue;
        }
        for (k = 0; k < c; k++)
            m = (double)row[k] > m ? (double)row[k] : m;
        if (m == -INFINITY || m == INFINITY) {
            lse[t] = NAN;
            continue;
        }
        for (k = 0; k < c; k++)
            sum += exp((double)row[k] - m);
        lse[t] = m + log(sum);
    }

    /* forward: alpha_0 starts in the first blank or the first label. Only the
     * window [lo, hi] of frame t can lie on a complete path: s <= 2t + 1 (two states
     * a frame at most) and s >= S - 2(T_i - t) (the end still reachable). The
     * states left of it feed only states left of the next window, so they are
     * left at -inf, exactly, and the rest of the program ignores them too. */
    for (s = 0; s < ti * s_n; s++)
        alpha[s] = -INFINITY;
    if (s_n - 2 * ti <= 0)
        alpha[0] = (double)xi[blank] - lse[0];
    if (s_n > 1 && s_n - 2 * ti <= 1)
        alpha[1] = (double)xi[lab[0]] - lse[0];
    for (t = 1; t < ti; t++) {
        const FL_T *row = xi + t * st;
        const double *prev = alpha + (t - 1) * s_n;
        double *cur = alpha + t * s_n;
        const int64_t lo = s_n - 2 * (ti - t) > 0 ? s_n - 2 * (ti - t) : 0;
        const int64_t hi = 2 * t + 1 < s_n - 1 ? 2 * t + 1 : s_n - 1;
        for (s = lo; s <= hi; s++) {
            /* stay, advance by one, or skip a blank between two different labels */
            const double a1 = s >= 1 ? prev[s - 1] : -INFINITY;
            const int skip = (s & 1) && s >= 3 && lab[s >> 1] != lab[(s >> 1) - 1];
            cur[s] = (skip ? fl_ctc_lse3(prev[s], a1, prev[s - 2])
                           : fl_ctc_lse2(prev[s], a1))
                     + ((double)row[FL_CTC_LABEL(lab, blank, s)] - lse[t]);
        }
    }
    {
        const double *last = alpha + (ti - 1) * s_n;
        nll = -fl_ctc_lse2(last[s_n - 1], s_n > 1 ? last[s_n - 2] : -INFINITY);
    }
    if (!g) {
        free(alpha);
        return nll;
    }

    if (scale == 0.0 || !(nll < INFINITY && nll > -INFINITY)) {
        /* weight 0, or no alignment (or NaN input): 0 with zero_infinity or a zero
         * weight, else NaN on the sequence's frames, as torch */
        const double v = scale == 0.0 || (a->zero_infinity && nll == INFINITY)
                             ? 0.0
                             : NAN;
        for (t = 0; t < ti; t++)
            for (k = 0; k < c; k++)
                g[i * sn + t * st + k] = (FL_T)v;
    } else {
        /* backward, frame by frame from the last: the posterior of frame t needs
         * alpha_t and beta_t; beta_{t-1} reads frame t, which is read before its
         * gradient is written over it (in place) */
        for (s = 0; s < s_n; s++)
            beta[s] = s >= s_n - 2 ? 0.0 : -INFINITY;
        for (t = ti - 1; t >= 0; t--) {
            const FL_T *row = xi + t * st;
            FL_T *grow = g + i * sn + t * st;
            const double *al = alpha + t * s_n;
            double *tmp;
            const int64_t lo = s_n - 2 * (ti - t) > 0 ? s_n - 2 * (ti - t) : 0;
            const int64_t hi = 2 * t + 1 < s_n - 1 ? 2 * t + 1 : s_n - 1;
            for (k = 0; k < c; k++)
                post[k] = 0.0;
            /* alpha + beta <= log P = -nll: each term is in [0, 1]; outside the
             * window alpha is -inf */
            for (s = lo; s <= hi; s++)
                post[FL_CTC_LABEL(lab, blank, s)] += exp(al[s] + beta[s] + nll);
            if (t > 0) {
                /* beta_{t-1} over frame t - 1's window, which starts two states
                 * left of this one and ends at or before this one's end */
                const int64_t lo1 = lo >= 2 ? lo - 2 : 0;
                for (s = 0; s < s_n; s++)
                    beta2[s] = -INFINITY;
                for (s = lo1; s <= hi; s++) {
                    const double e0 =
                        (double)row[FL_CTC_LABEL(lab, blank, s)] - lse[t] + beta[s];
                    const double e1 =
                        s + 1 < s_n ? (double)row[FL_CTC_LABEL(lab, blank, s + 1)]
                                          - lse[t] + beta[s + 1]
                                    : -INFINITY;
                    /* s + 2 is reachable from s when it is a label other than s's */
                    const int skip =
                        (s & 1) && s + 2 < s_n && lab[s >> 1] != lab[(s >> 1) + 1];
                    beta2[s] = skip ? fl_ctc_lse3(e0, e1,
                                                  (double)row[lab[(s >> 1) + 1]]
                                                      - lse[t] + beta[s + 2])
                                    : fl_ctc_lse2(e0, e1);
                }
                tmp = beta;
                beta = beta2;
                beta2 = tmp;
            }
            if (a->from_logits) /* d / d x = softmax(x) - posterior */
                for (k = 0; k < c; k++)
                    grow[k] = (FL_T)(scale * (exp((double)row[k] - lse[t]) - post[k]));
            else
                for (k = 0; k < c; k++)
                    grow[k] = (FL_T)(-scale * post[k]);
        }
    }
    for (t = ti; t < a->t; t++)
        for (k = 0; k < c; k++)
            g[i * sn + t * st + k] = 0;
    free(alpha);
    return nll;
}

int FL_CTC_FN(fl_ctc)(fl_ctc_args *a, int n_threads)
{
    const int64_t n = a->n;
    const FL_T *sw = (const FL_T *)a->sample_weight;
    double *rows, total = 0.0, denom = 0.0, work = 0.0;
    int64_t i;
    int nomem = 0, status;
    int nt = n_threads < 1 ? 1 : n_threads;

    status = fl_ctc_check(a);
    if (status != FL_CTC_OK || n == 0)
        return status;
    rows = (double *)malloc((size_t)n * sizeof(double));
    if (!rows)
        return FL_CTC_ENOMEM;
    /* the mean's normaliser: sequences (or their weights), as torch */
    for (i = 0; i < n; i++)
        denom += sw ? (double)sw[i] : 1.0;
    for (i = 0; i < n && work < FL_PARALLEL_MIN; i++)
        work += (double)a->input_lengths[i] * (2.0 * (double)a->target_lengths[i] + 1.0);
    if (work < FL_PARALLEL_MIN || n < 2)
        nt = 1;
    if (nt > n)
        nt = (int)n;
#if FL_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
#endif
    for (i = 0; i < n; i++) {
        const double w = sw ? (double)sw[i] : 1.0;
        const double per = a->reduction == FL_CTC_MEAN
                               ? (denom != 0.0 ? 1.0 / denom : 0.0)
                                     / (double)(a->target_lengths[i] > 1
                                                    ? a->target_lengths[i]
                                                    : 1)
                               : 1.0;
        int mine = 0;
        double l = FL_CTC_FN(ctc_seq)(a, i, w * per, a->grad != NULL, &mine);
        if (mine) {
#if FL_HAVE_OPENMP
#pragma omp atomic write
#endif
            nomem = 1;
        }
        if (a->zero_infinity && l == INFINITY)
            l = 0.0;
        rows[i] = w == 0.0 ? 0.0 : w * l * per;
    }
    if (nomem) {
        free(rows);
        return FL_CTC_ENOMEM;
    }
    for (i = 0; i < n; i++) /* in sequence order: the same bits for any nt */
        total += rows[i];
    if (a->loss_rows)
        for (i = 0; i < n; i++)
            ((FL_T *)a->loss_rows)[i] = (FL_T)rows[i];
    a->loss = a->reduction == FL_CTC_NONE ? 0.0 : total;
    free(rows);
    return FL_CTC_OK;
}

#undef FL_CTC_FN
#undef FL_CTC_LABEL
