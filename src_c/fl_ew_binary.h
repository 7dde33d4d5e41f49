/* Per-element binary / multi-label losses, included by fl_elementwise_impl.h inside
 * each (dtype, SIMD path) instantiation. No include guard on purpose. Each returns
 * the loss and stores d loss / d x in *g. */

/* Binary cross-entropy with logits, y' = y (1 - ls) + ls / 2 (p0 = ls):
 *   loss = pw y' softplus(-x) + (1 - y') softplus(x),
 *   softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|))   (no overflow for any x)
 *   d/dx = (1 - y') sigmoid(x) - pw y' sigmoid(-x)
 * A term whose coefficient is 0 is 0 even where its softplus is inf (x = +-inf). */
FL_INLINE FL_T FL_FN(ew_bce_logits)(FL_T x, FL_T y, FL_T pw,
                                    const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    const FL_T ys = y * (1 - cx->p0) + cx->p0 * (FL_T)0.5;
    const FL_T a = pw * ys, b = 1 - ys;
    const FL_T ax = x < 0 ? -x : x;
    const FL_T e = FL_EXP(-ax);                /* in (0, 1]; 0 for |x| = inf */
    const FL_T lp = FL_TLOG1P(e);
    const FL_T sp_neg = (x > 0 ? x : 0) + lp;  /* softplus(x)  = -log(1 - sigmoid) */
    const FL_T sp_pos = (x < 0 ? -x : 0) + lp; /* softplus(-x) = -log sigmoid     */
    const FL_T inv = 1 / (1 + e);
    const FL_T sig = x >= 0 ? inv : e * inv;   /* sigmoid(x), no overflow         */
    const FL_T sig_neg = x >= 0 ? e * inv : inv;
    *g = b * sig - a * sig_neg;
    return (a == 0 ? 0 : a * sp_pos) + (b == 0 ? 0 : b * sp_neg);
}

/* NOT YET IMPLEMENTED (returns NaN): bce_prob, sigmoid_focal. */
FL_INLINE FL_T FL_FN(ew_bce_prob)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                  FL_T *g)
{
    (void)x; (void)y; (void)pw; (void)cx;
    *g = (FL_T)NAN;
    return (FL_T)NAN;
}
FL_INLINE FL_T FL_FN(ew_sigmoid_focal)(FL_T x, FL_T y, FL_T pw,
                                       const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    return FL_FN(ew_bce_prob)(x, y, pw, cx, g);
}
