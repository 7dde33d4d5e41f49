/* Per-element losses of Keras 3 that neither PyTorch nor the other headers have:
 * hinge, squared hinge, mean squared logarithmic error and mean absolute percentage
 * error. Included by fl_elementwise_impl.h inside each (dtype, SIMD path)
 * instantiation, after fl_ew_binary.h (FL_EW_RND). No include guard on purpose.
 * Each returns the loss and stores d loss / d x in *g, branch-free (both sides of a
 * case computed, a ternary picks one) so the block loops vectorise. Every max/clip
 * is written `v < lo ? lo : v`, which keeps a NaN v: a NaN input gives a NaN loss
 * and gradient for its element only. Results that end in a product go through
 * FL_EW_RND, so an element's bits do not depend on whether the sum's add fused it. */

/* The hinge's label y' = p0 y + p1: (1, 0) takes the targets as given (+-1 labels),
 * (2, -1) maps {0, 1} labels to {-1, 1} (Keras's rule; the caller checks that every
 * target is 0 or 1). Both maps are exact. */
FL_INLINE FL_T FL_FN(ew_hinge_label)(FL_T y, const FL_FN(fl_ew_ctx) * cx)
{
    return FL_EW_RND(cx->p0 * y) + cx->p1;
}

/* Hinge: max(1 - y' x, 0), gradient -y' where 1 - y' x > 0, else 0 (0 on the
 * kink, where the loss stops decreasing). The last ternary keeps a NaN margin. */
FL_INLINE FL_T FL_FN(ew_hinge)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                               FL_T *g)
{
    const FL_T yl = FL_FN(ew_hinge_label)(y, cx);
    const FL_T m = 1 - FL_EW_RND(yl * x);
    (void)pw;
    *g = m > 0 ? -yl : (m <= 0 ? (FL_T)0 : m);
    return m < 0 ? (FL_T)0 : m;
}

/* Squared hinge: h^2 with h = max(1 - y' x, 0), gradient -2 y' h (0 where h = 0,
 * continuous at the kink). */
FL_INLINE FL_T FL_FN(ew_squared_hinge)(FL_T x, FL_T y, FL_T pw,
                                       const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    const FL_T yl = FL_FN(ew_hinge_label)(y, cx);
    const FL_T m = 1 - FL_EW_RND(yl * x);
    const FL_T h = m < 0 ? (FL_T)0 : m;
    (void)pw;
    *g = -2 * yl * h;
    return FL_EW_RND(h * h);
}

/* log1p(u) for u >= 0 (or NaN), +inf at +inf (the log1p form t log(1 + t) / t
 * would give inf / inf there). */
FL_INLINE FL_T FL_FN(ew_log1p_pos)(FL_T u)
{
    const FL_T l = FL_EW_RND(FL_TLOG1P(u));
    return u == (FL_T)INFINITY ? u : l;
}

/* Mean squared logarithmic error, Keras's: with u = max(x, eps), v = max(y, eps)
 * (eps = p0 >= 0), r = log1p(u) - log1p(v), loss r^2 and gradient 2 r / (1 + u)
 * where x > eps, 0 where x was clipped to eps. log1p rather than Keras's log(u + 1):
 * it keeps the relative accuracy of small u and v (log(u + 1) rounds u + 1 first);
 * the difference from Keras is below one float32 ulp of 1 (1.2e-7) per log. At
 * x = +inf the gradient is 0 (the limit of 2 log(1 + u) / (1 + u)). */
FL_INLINE FL_T FL_FN(ew_msle)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                              FL_T *g)
{
    const FL_T eps = cx->p0;
    const FL_T u = x < eps ? eps : x, v = y < eps ? eps : y;
    const FL_T r = FL_FN(ew_log1p_pos)(u) - FL_FN(ew_log1p_pos)(v);
    const FL_T d = 2 * r / (1 + u);
    (void)pw;
    *g = x < eps || x == (FL_T)INFINITY ? (FL_T)0 : d;
    return FL_EW_RND(r * r);
}

/* Mean absolute percentage error, Keras's: 100 |x - y| / max(|y|, eps) (eps = p0),
 * gradient 100 sign(x - y) / max(|y|, eps), 0 at x = y. The loss is (|r| / d) 100,
 * which overflows only where the result does (100 / d first would give 0 * inf for
 * r = 0 and a tiny d); where r = x - y itself overflows though x and y are finite,
 * it is formed as (|x / 2 - y / 2| / d) 200 (halving a normal number is exact). */
FL_INLINE FL_T FL_FN(ew_mape)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                              FL_T *g)
{
    const FL_T a = FL_FN(ew_abs)(y), eps = cx->p0;
    const FL_T d = a < eps ? eps : a;
    const FL_T r = x - y, ar = FL_FN(ew_abs)(r);
    const int over = ar == (FL_T)INFINITY;
    const FL_T q = over ? FL_FN(ew_abs)((FL_T)0.5 * x - (FL_T)0.5 * y) : ar;
    (void)pw;
    *g = FL_FN(ew_sign)(r) * ((FL_T)100 / d);
    return FL_EW_RND(q / d * (over ? (FL_T)200 : (FL_T)100));
}
