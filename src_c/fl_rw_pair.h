/* Cosine similarity, Dice and Tversky losses of a prediction row p against a target
 * row t (Keras 3's formulas), included by fl_rowwise_impl.h inside each (dtype, SIMD
 * path) instantiation. No include guard on purpose.
 *
 * Each row loss is a function of three float64 sums over the row, and its gradient
 * with respect to p an affine function of t_k and p_k with per-row coefficients
 * (Dice, Tversky: g_k = A t_k + C), so a row is one
 * read for the sums and one read-and-write for the gradient (p_k is read before g_k
 * is written: `grad` may be `x`). With eps the caller's epsilon (Keras's 1e-7):
 *
 *   cosine   l = -(t . p) it ip,  ip = 1 / max(||p||, eps), it likewise (Keras's
 *            l2 normalize: x * min(rsqrt(sum x^2), 1 / eps)).
 *            g = ip (cos p ip - t it), formed as written (no factor under- or
 *            overflows); where ||p|| < eps the clamped branch is linear in p:
 *            g = -(t it) / eps (a zero p or t gives l = 0, a finite g, no NaN)
 *   Dice     l = 1 - 2 I / D,  I = t . p, D = sum t + sum p + eps
 *            A = -2 / D, B = 0, C = 2 I / D^2
 *   Tversky  l = 1 - I / D,  D = I + alpha sum (1 - p) t + beta sum p (1 - t) + eps
 *            A = (-1 + r (1 - alpha - beta)) / D, B = 0, C = r beta / D, r = I / D
 *
 * Cosine: the squared norms are summed in float64 (no overflow or underflow for
 * any float32 input); a float64 row whose sum of squares is beyond 2^1000 or below
 * 2^-900 is summed again scaled by a power of two near its largest magnitude, so
 * the cosine of any finite rows is finite and accurate.
 * Tversky sums (1 - p) t and p (1 - t) directly, not sum t - I, so no cancellation
 * of the false-negative and false-positive masses. */

/* sum_k (u_k inv)^2 */
FL_INLINE double FL_FN(pair_sq)(const FL_T *u, int64_t len, double inv)
{
    double s = 0.0;
    int64_t k;
#pragma omp simd reduction(+ : s)
    for (k = 0; k < len; k++) {
        const double v = (double)u[k] * inv;
        s += v * v;
    }
    return s;
}

FL_INLINE double FL_FN(pair_absmax)(const FL_T *u, int64_t len)
{
    double mx = 0.0;
    int64_t k;
#pragma omp simd reduction(max : mx)
    for (k = 0; k < len; k++) {
        const double a = fabs((double)u[k]);
        mx = a > mx ? a : mx;
    }
    return mx;
}

/* 1 / max(||u||, eps) where ||u|| = sqrt(s) / inv (inv the scale the squares were
 * summed with); *clamped = 1 when the eps branch is taken. */
FL_INLINE double FL_FN(pair_inv_norm)(double s, double inv, double eps, int *clamped)
{
    const double nrm = sqrt(s) / inv;
    *clamped = !(nrm >= eps) && nrm == nrm;
    return *clamped ? 1.0 / eps : 1.0 / nrm;
}

/* A power of two that brings the largest magnitude mx (> 0, finite) near 1:
 * exact scaling; at most 2^1000, so a subnormal-only row still sums without
 * underflow to a usable norm. */
FL_INLINE double FL_FN(pair_scale)(double mx)
{
    const int e = ilogb(mx);
    return ldexp(1.0, e < -1000 ? 1000 : -e);
}

/* One cosine row: returns the (unweighted) loss -cos, sets ip = 1 / max(||p||,
 * eps), it likewise and bc = cos (0 where ||p|| < eps, the clamped branch). */
FL_INLINE double FL_FN(cos_row)(const FL_FN(rw_ctx) * cx, const FL_T *p, const FL_T *t,
                                int64_t c, double *ip, double *it, double *bc)
{
    /* sums of squares below this may have lost digits to underflow */
    const double lo = 0x1p-900;
    double spp = 0.0, stt = 0.0, stp = 0.0, sp = 1.0, st = 1.0, cosv;
    int cp, ct;
    int64_t k;
#pragma omp simd reduction(+ : spp, stt, stp)
    for (k = 0; k < c; k++) {
        const double pk = (double)p[k], tk = (double)t[k];
        spp += pk * pk;
        stt += tk * tk;
        stp += tk * pk;
    }
    if (!(spp <= 0x1p1000 && stt <= 0x1p1000) || spp < lo || stt < lo) {
        /* float64 rows beyond ~1e150 or below ~1e-135 (or NaN): sum again scaled
         * by a power of two near the largest magnitude (|t . p| <= ||t|| ||p||
         * overflows or underflows only when a norm does) */
        const double mp = FL_FN(pair_absmax)(p, c), mt = FL_FN(pair_absmax)(t, c);
        if (mp > 0.0 && mp < (double)INFINITY)
            sp = FL_FN(pair_scale)(mp);
        if (mt > 0.0 && mt < (double)INFINITY)
            st = FL_FN(pair_scale)(mt);
        spp = FL_FN(pair_sq)(p, c, sp);
        stt = FL_FN(pair_sq)(t, c, st);
        stp = 0.0;
#pragma omp simd reduction(+ : stp)
        for (k = 0; k < c; k++)
            stp += ((double)t[k] * st) * ((double)p[k] * sp);
    }
    /* ip, it: 1 / max(norm, eps) of the unscaled rows */
    *ip = FL_FN(pair_inv_norm)(spp, sp, cx->ov_eps, &cp);
    *it = FL_FN(pair_inv_norm)(stt, st, cx->ov_eps, &ct);
    /* (t . p) ip it with t . p = stp / (sp st) */
    cosv = (stp * (*ip / sp)) * (*it / st);
    *bc = cp ? 0.0 : cosv;
    return -cosv;
}

/* One Dice or Tversky row: returns the (unweighted) loss, sets A and C. */
FL_INLINE double FL_FN(overlap_row)(const FL_FN(rw_ctx) * cx, const FL_T *p,
                                    const FL_T *t, int64_t c, const int kind,
                                    double *a, double *cc)
{
    double s1 = 0.0, s2 = 0.0, s3 = 0.0, den, r;
    int64_t k;
    if (kind == FL_RW_DICE) {
#pragma omp simd reduction(+ : s1, s2, s3)
        for (k = 0; k < c; k++) {
            const double pk = (double)p[k], tk = (double)t[k];
            s1 += tk * pk;
            s2 += tk;
            s3 += pk;
        }
        den = (s2 + s3) + cx->ov_eps;
        r = s1 / den;
        *a = -2.0 / den;
        *cc = 2.0 * r / den;
        return 1.0 - 2.0 * r;
    }
#pragma omp simd reduction(+ : s1, s2, s3)
    for (k = 0; k < c; k++) {
        const double pk = (double)p[k], tk = (double)t[k];
        s1 += tk * pk;
        s2 += (1.0 - pk) * tk;
        s3 += pk * (1.0 - tk);
    }
    den = ((s1 + cx->ov_alpha * s2) + cx->ov_beta * s3) + cx->ov_eps;
    r = s1 / den;
    *a = (-1.0 + r * ((1.0 - cx->ov_alpha) - cx->ov_beta)) / den;
    *cc = r * cx->ov_beta / den;
    return 1.0 - r;
}

/* One row of a pair kind (a constant at each call site): returns sample_weight *
 * loss and writes the gradient row scaled by sample_weight / D. */
FL_INLINE double FL_FN(pair_row)(const FL_FN(rw_ctx) * cx, int64_t i, const int kind)
{
    const int64_t c = cx->c;
    const FL_T *p = cx->x + i * c, *t = cx->x2 + i * c;
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    double a = 0.0, b = 0.0, cc = 0.0, loss;
    int64_t k;
    if (kind == FL_RW_COSINE)
        loss = FL_FN(cos_row)(cx, p, t, c, &a, &b, &cc);
    else
        loss = FL_FN(overlap_row)(cx, p, t, c, kind, &a, &cc);
    if (cx->g) {
        const double rs = FL_FN(sm_row_scale)(cx->den, swi);
        FL_T *g = cx->g + i * c;
        if (kind == FL_RW_COSINE) {
            /* a = ip, b = it, cc = cos: g = ip (cos u - v) with u = p ip and
             * v = t it formed first, so no factor under- or overflows */
            const double f = rs * a, ip = a, it = b, bc = cc;
#pragma omp simd
            for (k = 0; k < c; k++)
                g[k] = (FL_T)(f * (bc * ((double)p[k] * ip) - (double)t[k] * it));
        } else {
            a *= rs;
            cc *= rs;
#pragma omp simd
            for (k = 0; k < c; k++)
                g[k] = (FL_T)(a * (double)t[k] + cc);
        }
    }
    return swi * loss;
}
