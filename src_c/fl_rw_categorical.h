/* Keras 3's categorical hinge and categorical generalized cross-entropy (GCE), one
 * row at a time; included by fl_rowwise_impl.h inside each (dtype, SIMD path)
 * instantiation. No include guard on purpose.
 *
 * Categorical hinge, prediction row p, target row t (one-hot, or any weights):
 *   z_k = (1 - t_k) p_k,  pos = sum_k t_k p_k,  neg = max_k z_k,
 *   m = neg - pos + 1,  l = max(m, 0)
 * exactly keras.losses.categorical_hinge: the target's own slot is in the max with
 * z = 0 (so neg >= 0 for one-hot rows), and a NaN anywhere (also 0 * inf) makes
 * the row NaN, as Keras's sum and max do. The (sub)gradient is JAX's, which is what
 * Keras 3 on JAX differentiates:
 *   dl/dp_k = a ((1 - t_k) [z_k == neg] / N - t_k),  N = #{k : z_k == neg},
 *   a = 1 for m > 0, 1/2 at the kink m == 0, 0 for m < 0 (NaN for a NaN row):
 * jnp.max shares its gradient equally among tied maxima, jnp.maximum gives half to
 * each side of a tie. One read of the row for the sums (float64), and when the
 * hinge is active a second (in cache) to count the ties and write the gradient.
 *
 * GCE (Zhang & Sabuncu 2018), probabilities x, class index y, 0 < q <= 1:
 *   p = sum_k x_k [k == y]        (Keras's sum(y_pred * one_hot(y)): x_y, NaN when
 *                                  any entry of the row is NaN or infinite)
 *   l = (1 - p^q) / q = -expm1(q log p) / q      (no cancellation of 1 - p^q for
 *                                                 small q; -> -log p as q -> 0)
 *   dl/dx_y = -p^(q - 1) = -exp((q - 1) log p),  dl/dx_k = 0 for k != y
 * q == 1 is 1 - p and -1 for every p (no log: negative p included). p == 0 gives
 * l = 1/q and a gradient of -inf (q < 1); no clipping, as Keras. The per-row log,
 * expm1 and exp are libm calls in float64, one each per row. */

/* pos = sum t p, neg = max (1 - t) p (NaN when any z is NaN), in float64. */
FL_INLINE void FL_FN(chinge_sums)(const FL_T *p, const FL_T *t, int64_t c, double *pos,
                                  double *neg)
{
    double sp = 0.0, mx = -(double)INFINITY;
    int64_t nan = 0, k;
#pragma omp simd reduction(+ : sp, nan) reduction(max : mx)
    for (k = 0; k < c; k++) {
        const double pk = (double)p[k], tk = (double)t[k], zk = (1.0 - tk) * pk;
        sp += tk * pk;
        mx = zk > mx ? zk : mx;
        nan += zk != zk;
    }
    *pos = sp;
    *neg = nan ? (double)NAN : mx;
}

/* One categorical hinge row: returns sample_weight * loss, writes the gradient
 * row scaled by sample_weight / D. */
FL_INLINE double FL_FN(chinge_row)(const FL_FN(rw_ctx) * cx, int64_t i)
{
    const int64_t c = cx->c;
    const FL_T *p = cx->x + i * c, *t = cx->x2 + i * c;
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    double pos, neg, m, loss;
    int64_t k;
    FL_FN(chinge_sums)(p, t, c, &pos, &neg);
    m = (neg - pos) + 1.0;
    loss = m > 0.0 ? m : (m == m ? 0.0 : m); /* max(m, 0) keeping a NaN */
    if (cx->g) {
        FL_T *g = cx->g + i * c;
        const double a = m > 0.0 ? 1.0 : (m == 0.0 ? 0.5 : (m < 0.0 ? 0.0 : m));
        const double f = FL_FN(sm_row_scale)(cx->den, swi) * a;
        if (f == 0.0) {
#pragma omp simd
            for (k = 0; k < c; k++)
                g[k] = (FL_T)0;
        } else {
            double ties = 0.0, share;
#pragma omp simd reduction(+ : ties)
            for (k = 0; k < c; k++)
                ties += (1.0 - (double)t[k]) * (double)p[k] == neg ? 1.0 : 0.0;
            share = 1.0 / ties; /* inf only for a NaN row, where f is NaN too */
            /* p_k and t_k are read before g_k is written: grad may be p */
#pragma omp simd
            for (k = 0; k < c; k++) {
                const double tk = (double)t[k], uk = 1.0 - tk;
                const double hit = uk * (double)p[k] == neg ? uk * share : 0.0;
                g[k] = (FL_T)(f * (hit - tk));
            }
        }
    }
    return swi * loss;
}

/* One GCE row: returns sample_weight * loss (0 for an ignored row), writes the
 * gradient row scaled by sample_weight / D. */
FL_INLINE double FL_FN(gce_row)(const FL_FN(rw_ctx) * cx, int64_t i)
{
    const int64_t c = cx->c, y = cx->y[i];
    const FL_T *x = cx->x + i * c;
    FL_T *g = cx->g ? cx->g + i * c : NULL;
    const double q = cx->gq, swi = cx->sw ? (double)cx->sw[i] : 1.0;
    double p = 0.0, loss, dp;
    int64_t k;
    if (y == cx->ignore_index) {
        if (g) {
#pragma omp simd
            for (k = 0; k < c; k++)
                g[k] = (FL_T)0;
        }
        return 0.0;
    }
#pragma omp simd reduction(+ : p)
    for (k = 0; k < c; k++)
        p += (double)x[k] * (k == y ? 1.0 : 0.0);
    if (q == 1.0) {
        loss = 1.0 - p;
        dp = p == p ? -1.0 : p;
    } else {
        const double lp = log(p); /* -inf at 0, NaN below */
        loss = -expm1(q * lp) / q;
        dp = -exp((q - 1.0) * lp);
    }
    if (g) {
        /* a row of weight 0 (or "mean" with D == 0) has gradient 0, even where
         * dp is infinite (p == 0) */
        const double rs = FL_FN(sm_row_scale)(cx->den, swi);
        const FL_T gy = (FL_T)(rs == 0.0 ? 0.0 : rs * dp);
#pragma omp simd
        for (k = 0; k < c; k++)
            g[k] = (FL_T)0;
        g[y] = gy; /* x_y was read above: grad may be x */
    }
    return swi * loss;
}
