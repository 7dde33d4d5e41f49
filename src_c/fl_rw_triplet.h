/* Triplet margin loss, included by fl_rowwise_impl.h inside each (dtype, SIMD path)
 * instantiation. No include guard on purpose.
 *
 * As torch.nn.functional.triplet_margin_loss, per row (vectors on the last axis):
 *   d(u, w) = ||u - w + eps||_p        (torch's pairwise_distance: eps is added to the
 *                                       difference, not to the norm)
 *   d_neg   = d(a, n), or min(d(a, n), d(p, n)) with swap
 *   loss    = max(d(a, p) - d_neg + margin, 0)
 * All arithmetic is in float64 whatever the dtype (the differences of float32 inputs
 * are exact in float64). With v = u - w + eps, d d / d v_k = phi_k:
 *   p = 2:       phi_k = v_k / d
 *   p = 1:       phi_k = sign(v_k)
 *   general p:   phi_k = sign(v_k) (|v_k| / d)^(p - 1),  |v_k| / d in [0, 1] (no
 *                overflow for any p), as exp((p - 1) log(.)) with the vector exp/log
 *   d == 0:      phi = 0 (torch's norm backward masks it the same way)
 * General p computes d = M (sum_k (|v_k| / M)^p)^(1/p), M = max_k |v_k|, so no
 * |v_k|^p overflows or underflows to a wrong norm. p = 2 sums squares in float64
 * (no overflow below |v| ~ 1e154: any float32 input, float64 inputs up to that).
 * The gradient is that of the active branch where loss >= 0 (as torch's clamp_min;
 * the subgradient 0 where the hinge is inactive, h < 0). With swap, min's gradient
 * goes to the smaller distance, split half-and-half on an exact tie (as torch). */

/* ||u - w + eps||_p over [0, len). nk: 2, 1, or 0 (general p). Out of line, so the
 * three distances of a row run the same machine code: equal inputs give equal bits
 * (d(a, n) == d(p, n) when p == a, an exact tie for swap). */
FL_NOINLINE double FL_FN(tri_dist)(const FL_FN(rw_ctx) * cx, const FL_T *u,
                                   const FL_T *w, int64_t len, int nk)
{
    const double eps = cx->eps, p = cx->norm_p;
    double s = 0.0, mx = 0.0, inv;
    int64_t k;
    if (nk == 2) {
#pragma omp simd reduction(+ : s)
        for (k = 0; k < len; k++) {
            const double v = ((double)u[k] - (double)w[k]) + eps;
            s += v * v;
        }
        return sqrt(s);
    }
    if (nk == 1) {
#pragma omp simd reduction(+ : s)
        for (k = 0; k < len; k++)
            s += fabs(((double)u[k] - (double)w[k]) + eps);
        return s;
    }
    /* s = sum |v| here only to spot a NaN, which the max does not pick */
#pragma omp simd reduction(max : mx) reduction(+ : s)
    for (k = 0; k < len; k++) {
        const double av = fabs(((double)u[k] - (double)w[k]) + eps);
        mx = av > mx ? av : mx;
        s += av;
    }
    if (s != s)
        return s;
    if (mx == 0.0 || mx == (double)INFINITY)
        return mx;
    inv = 1.0 / mx;
    s = 0.0;
#pragma omp simd reduction(+ : s)
    for (k = 0; k < len; k++) {
        const double t = fabs(((double)u[k] - (double)w[k]) + eps) * inv;
        s += FL_DEXP(p * FL_FN(rw_dlog)(t)); /* t^p in [0, 1]; 0^p = exp(-inf) = 0 */
    }
    return mx * FL_DEXP(FL_DLOG(s) / p); /* s in [1, len]: (.)^(1/p) */
}

/* d d / d v_k for one entry; invd = 1 / d, or 0 when d == 0. */
FL_INLINE double FL_FN(tri_phi)(const int nk, double v, double invd, double pm1)
{
    const double sg = (double)(v > 0) - (double)(v < 0);
    if (nk == 2)
        return v * invd;
    if (nk == 1)
        return sg;
    return sg * FL_DEXP(pm1 * FL_FN(rw_dlog)(fabs(v) * invd));
}

/* Gradient rows: f1 = d(a, p) coefficient, f2 = d(a, n), f3 = d(p, n) (swap; `three`
 * constant). Every input entry is read before the outputs at the same index are
 * written, so each output may be its own input (in place). */
FL_INLINE void FL_FN(tri_grad)(const FL_FN(rw_ctx) * cx, const FL_T *a, const FL_T *p,
                               const FL_T *n, FL_T *ga, FL_T *gp, FL_T *gn,
                               int64_t len, const int nk, const int three, double f1,
                               double f2, double f3, double i1, double i2, double i3)
{
    const double eps = cx->eps, pm1 = cx->norm_p - 1.0;
    int64_t k;
#pragma omp simd
    for (k = 0; k < len; k++) {
        const double ak = (double)a[k], pk = (double)p[k], nk_ = (double)n[k];
        const double t1 = f1 * FL_FN(tri_phi)(nk, (ak - pk) + eps, i1, pm1);
        const double t2 = f2 * FL_FN(tri_phi)(nk, (ak - nk_) + eps, i2, pm1);
        const double t3 = three ? f3 * FL_FN(tri_phi)(nk, (pk - nk_) + eps, i3, pm1)
                                : 0.0;
        ga[k] = (FL_T)(t1 - t2);
        gp[k] = (FL_T)(-t1 - t3);
        gn[k] = (FL_T)(t2 + t3);
    }
}

FL_INLINE void FL_FN(tri_grad_any)(const FL_FN(rw_ctx) * cx, const FL_T *a,
                                   const FL_T *p, const FL_T *n, FL_T *ga, FL_T *gp,
                                   FL_T *gn, int64_t len, const int nk, double f1,
                                   double f2, double f3, double i1, double i2,
                                   double i3)
{
    if (f3 != 0.0)
        FL_FN(tri_grad)(cx, a, p, n, ga, gp, gn, len, nk, 1, f1, f2, f3, i1, i2, i3);
    else
        FL_FN(tri_grad)(cx, a, p, n, ga, gp, gn, len, nk, 0, f1, f2, f3, i1, i2, i3);
}

/* One row: returns sample_weight * max(h, 0), writes the three gradient rows. */
FL_INLINE double FL_FN(tri_row)(const FL_FN(rw_ctx) * cx, int64_t i, const int nk)
{
    const int64_t c = cx->c;
    const FL_T *a = cx->x + i * c, *p = cx->x2 + i * c, *n = cx->x3 + i * c;
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    const double rs = FL_FN(sm_row_scale)(cx->den, swi);
    const double dap = FL_FN(tri_dist)(cx, a, p, c, nk);
    const double dan = FL_FN(tri_dist)(cx, a, n, c, nk);
    double dpn = 0.0, dneg = dan, can = 1.0, cpn = 0.0, h;
    int64_t k;
    if (cx->swap) {
        dpn = FL_FN(tri_dist)(cx, p, n, c, nk);
        if (dpn < dan) {
            dneg = dpn;
            can = 0.0;
            cpn = 1.0;
        } else if (!(dan < dpn)) {
            /* a tie (or a NaN): torch's minimum splits the gradient */
            dneg = dan == dpn ? dan : (double)NAN;
            can = cpn = 0.5;
        }
    }
    h = (cx->margin + dap) - dneg;
    if (h < 0.0) {
        if (cx->g) {
            for (k = 0; k < c; k++) {
                cx->g[i * c + k] = 0;
                cx->g2[i * c + k] = 0;
                cx->g3[i * c + k] = 0;
            }
        }
        return 0.0;
    }
    if (cx->g) {
        /* invd = 1 / d for p = 2 and general p, 0 at d == 0 (phi = 0 there) */
        const double i1 = dap > 0.0 ? 1.0 / dap : 0.0;
        const double i2 = dan > 0.0 ? 1.0 / dan : 0.0;
        const double i3 = dpn > 0.0 ? 1.0 / dpn : 0.0;
        FL_FN(tri_grad_any)(cx, a, p, n, cx->g + i * c, cx->g2 + i * c, cx->g3 + i * c,
                            c, nk, rs, rs * can, rs * cpn, i1, i2, i3);
    }
    return swi * h;
}
