/* Circle loss (Keras 3's keras.losses.circle, Sun et al. 2020) on one row i of the
 * similarity matrix S = E E^T of a batch's embeddings, included by
 * fl_rowwise_impl.h inside each (dtype, SIMD path) instantiation. No include guard
 * on purpose. The caller forms S (n x n) and chains the gradient d loss / d S that
 * this writes back to the embeddings (dE = (G + G^T) E).
 *
 * With d_j = max(1 - s_ij, 0), gamma, margin m, positives j (labels equal, j != i
 * when the diagonal is removed) and negatives j (labels differ):
 *   wp_j = -gamma max(m + d_j, 0) (m - d_j)          P = logsumexp over positives
 *   wn_j =  gamma max(1 + m - d_j, 0) (1 - m - d_j)  N = logsumexp over negatives
 *   l_i  = softplus(P + N)
 * A row without a positive or without a negative has P or N = -inf: l_i = 0 and a
 * zero gradient (Keras's value; it also masks such rows out of its mean).
 * Gradient (the branch of each max where its argument is > 0, 0 elsewhere):
 *   d wp / d d = 2 gamma d (m + d > 0),  d wn / d d = 2 gamma (d - 1) (1 + m - d > 0)
 *   d d / d s = -1 where 1 - s > 0
 *   d l / d s_ij = sigmoid(P + N) softmax_P(wp)_j d wp / d s   (positives; likewise
 *                                                              for negatives with N)
 * All in float64 whatever the dtype; the logsumexps subtract their maximum, the
 * softplus and sigmoid are the stable forms, and every exp argument is <= 0. */

/* One entry's weighted distances and their derivatives by s (branch-free, so the
 * row loops vectorise). */
FL_INLINE void FL_FN(circle_entry)(double s, double gamma, double m, double *wp,
                                   double *wn, double *dwp, double *dwn)
{
    const double u = 1.0 - s, d = u > 0.0 ? u : 0.0, dds = u > 0.0 ? -1.0 : 0.0;
    const double ap = m + d, an = (1.0 + m) - d;
    *wp = -gamma * (ap > 0.0 ? ap : 0.0) * (m - d);
    *wn = gamma * (an > 0.0 ? an : 0.0) * ((1.0 - m) - d);
    *dwp = ap > 0.0 ? 2.0 * gamma * d * dds : 0.0;
    *dwn = an > 0.0 ? 2.0 * gamma * (d - 1.0) * dds : 0.0;
}

/* One row: returns sample_weight * l_i, writes the gradient row d l / d S_i. Three
 * vectorised sweeps over the row (maxima, sums, gradient), one exp an entry in the
 * last two: an entry is a positive, a negative or neither (the diagonal when
 * removed), so it takes the shift and derivative of its class. */
FL_INLINE double FL_FN(circle_row)(const FL_FN(rw_ctx) * cx, int64_t i)
{
    const int64_t c = cx->c, yi = cx->y[i];
    const int64_t *y = cx->y;
    const int64_t di = cx->cdiag ? i : -1; /* the diagonal, when removed */
    const FL_T *s = cx->x + i * c;
    const double gamma = cx->cgamma, m = cx->cmargin;
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    const double ninf = -(double)INFINITY;
    double mp = ninf, mn = ninf, sp = 0.0, sn = 0.0, lp, ln, z, loss, sig;
    int64_t j, nan = 0;
#pragma omp simd reduction(max : mp, mn) reduction(+ : nan)
    for (j = 0; j < c; j++) {
        const double sj = (double)s[j];
        const int same = y[j] == yi, pos = same && j != di;
        double wp, wn, dwp, dwn;
        FL_FN(circle_entry)(sj, gamma, m, &wp, &wn, &dwp, &dwn);
        nan += sj != sj;
        wp = pos ? wp : ninf;
        wn = same ? ninf : wn;
        mp = wp > mp ? wp : mp;
        mn = wn > mn ? wn : mn;
    }
    if (nan) { /* max(NaN, 0) is NaN in Keras too: the row is NaN */
        if (cx->g)
            for (j = 0; j < c; j++)
                cx->g[i * c + j] = (FL_T)NAN;
        return (double)NAN;
    }
    if (mp == ninf || mn == ninf) { /* no positive or no negative: l_i = 0 */
        if (cx->g)
            for (j = 0; j < c; j++)
                cx->g[i * c + j] = 0;
        return 0.0;
    }
#pragma omp simd reduction(+ : sp, sn)
    for (j = 0; j < c; j++) {
        const int same = y[j] == yi, pos = same && j != di;
        double wp, wn, dwp, dwn, e;
        FL_FN(circle_entry)((double)s[j], gamma, m, &wp, &wn, &dwp, &dwn);
        /* <= 0 for its class; -inf (exp 0) for the removed diagonal */
        e = FL_DEXP(pos ? wp - mp : same ? ninf : wn - mn);
        sp += pos ? e : 0.0;
        sn += same ? 0.0 : e;
    }
    lp = mp + FL_DLOG(sp);
    ln = mn + FL_DLOG(sn);
    z = lp + ln;
    /* softplus(z) = max(z, 0) + log1p(exp(-|z|)); sigmoid from the same exp */
    {
        const double e = FL_DEXP(-fabs(z));
        loss = (z > 0.0 ? z : 0.0) + FL_DLOG1P(e);
        sig = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
    if (cx->g) {
        const double f = FL_FN(sm_row_scale)(cx->den, swi) * sig;
        FL_T *g = cx->g + i * c;
#pragma omp simd
        for (j = 0; j < c; j++) {
            const int same = y[j] == yi, pos = same && j != di;
            double wp, wn, dwp, dwn, e;
            FL_FN(circle_entry)((double)s[j], gamma, m, &wp, &wn, &dwp, &dwn);
            e = FL_DEXP(pos ? wp - lp : same ? ninf : wn - ln);
            /* s[j] was read above: g may be s */
            g[j] = (FL_T)(f * e * (pos ? dwp : same ? 0.0 : dwn));
        }
    }
    return swi * loss;
}
