/* Per-element regression losses, included by fl_elementwise_impl.h inside each
 * (dtype, SIMD path) instantiation (FL_T, FL_FN, FL_EXP, FL_TLOG, FL_TLOG1P defined).
 * No include guard on purpose. Each returns the loss and stores d loss / d x in *g. */

/* Mean squared error: (x - y)^2, gradient 2 (x - y). */
FL_INLINE FL_T FL_FN(ew_mse)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                             FL_T *g)
{
    const FL_T r = x - y;
    (void)pw;
    (void)cx;
    *g = 2 * r;
    return r * r;
}

/* NOT YET IMPLEMENTED (returns NaN): l1, huber, smooth_l1, log_cosh. */
FL_INLINE FL_T FL_FN(ew_l1)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    (void)x; (void)y; (void)pw; (void)cx;
    *g = (FL_T)NAN;
    return (FL_T)NAN;
}
FL_INLINE FL_T FL_FN(ew_huber)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                               FL_T *g)
{
    return FL_FN(ew_l1)(x, y, pw, cx, g);
}
FL_INLINE FL_T FL_FN(ew_smooth_l1)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                   FL_T *g)
{
    return FL_FN(ew_l1)(x, y, pw, cx, g);
}
FL_INLINE FL_T FL_FN(ew_log_cosh)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                  FL_T *g)
{
    return FL_FN(ew_l1)(x, y, pw, cx, g);
}
