/* Per-element regression losses, included by fl_elementwise_impl.h inside each
 * (dtype, SIMD path) instantiation (FL_T, FL_FN, FL_EXP, FL_TLOG, FL_TLOG1P defined).
 * No include guard on purpose. Each returns the loss and stores d loss / d x in *g.
 *
 * Every function is branch-free: both sides of a case are computed and a ternary
 * picks one, so the block loops vectorise. A side that is not picked may be inf or
 * NaN (r^2 past a kink, r / 0): harmless, as the build does not trap on FP
 * exceptions. A NaN residual gives a NaN loss and gradient for that element only. */

/* |r| with +0 for r = +-0 (0 - r, not -r) and NaN kept. */
FL_INLINE FL_T FL_FN(ew_abs)(FL_T r)
{
    return r > 0 ? r : 0 - r;
}

/* sign(r): +-1, +0 at r = +-0 (the subgradient PyTorch takes), NaN for NaN (r - r). */
FL_INLINE FL_T FL_FN(ew_sign)(FL_T r)
{
    return r > 0 ? (FL_T)1 : (r < 0 ? (FL_T)-1 : r - r);
}

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

/* Absolute error: |x - y|, gradient sign(x - y) (0 at x = y). */
FL_INLINE FL_T FL_FN(ew_l1)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                            FL_T *g)
{
    const FL_T r = x - y;
    (void)pw;
    (void)cx;
    *g = FL_FN(ew_sign)(r);
    return FL_FN(ew_abs)(r);
}

/* Huber, d = p0 > 0: r^2 / 2 for |r| <= d, else d (|r| - d / 2); gradient
 * clip(r, -d, d). The linear side is d (|r| - d / 2), not r^2 / 2 - (|r| - d)^2 / 2,
 * so it does not overflow where r^2 would. */
FL_INLINE FL_T FL_FN(ew_huber)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                               FL_T *g)
{
    const FL_T r = x - y, a = FL_FN(ew_abs)(r), d = cx->p0;
    (void)pw;
    /* the clip keeps a NaN r (both comparisons false) */
    *g = r > d ? d : (r < -d ? -d : r);
    return a <= d ? (FL_T)0.5 * r * r : d * (a - (FL_T)0.5 * d);
}

/* Smooth L1, b = p0 >= 0: r^2 / (2 b) for |r| < b, else |r| - b / 2; gradient r / b
 * inside, sign(r) outside. b = 0 is exactly L1 (|r| < 0 never holds; the r / 0 side is
 * never picked), as in PyTorch. The quadratic side is r (r / b) / 2, not r^2 / (2 b):
 * r / b is in (-1, 1) there, so nothing overflows for a large b. */
FL_INLINE FL_T FL_FN(ew_smooth_l1)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                   FL_T *g)
{
    const FL_T r = x - y, a = FL_FN(ew_abs)(r), b = cx->p0;
    const FL_T q = r / b;
    const int inside = a < b;
    (void)pw;
    *g = inside ? q : FL_FN(ew_sign)(r);
    return inside ? (FL_T)0.5 * r * q : a - (FL_T)0.5 * b;
}

/* Small-|r| side of log cosh: near-minimax polynomials in z = r^2 on |r| < 1/2,
 *   log cosh(r) ~ r^2 P(z),  tanh(r) ~ r Q(z),
 * fitted in relative error by weighted least squares at Chebyshev nodes (float:
 * below 2.3e-9 and 3.3e-10; double: below 1.1e-17 and 2.7e-18; within ~1 ulp after
 * rounding). The sizeof test is a compile-time constant: each instantiation keeps
 * one branch. */
FL_INLINE FL_T FL_FN(ew_log_cosh_p)(FL_T z)
{
    FL_T p;
    if (sizeof(FL_T) == sizeof(float)) {
        p = (FL_T)1.7834918107837439e-03;
        p = p * z + (FL_T)-6.661619059741497e-03;
        p = p * z + (FL_T)2.221483550965786e-02;
        p = p * z + (FL_T)-8.33331048488617e-02;
        return p * z + (FL_T)0.5;
    }
    p = (FL_T)-7.666199371363812e-06;
    p = p * z + (FL_T)3.0693506519618396e-05;
    p = p * z + (FL_T)-9.040255648865058e-05;
    p = p * z + (FL_T)2.5647886231941453e-04;
    p = p * z + (FL_T)-7.385919528971001e-04;
    p = p * z + (FL_T)2.186948124400747e-03;
    p = p * z + (FL_T)-6.746031718187911e-03;
    p = p * z + (FL_T)2.2222222221680955e-02;
    p = p * z + (FL_T)-8.333333333332925e-02;
    return p * z + (FL_T)0.5;
}

FL_INLINE FL_T FL_FN(ew_tanh_q)(FL_T z)
{
    FL_T q;
    if (sizeof(FL_T) == sizeof(float)) {
        q = (FL_T)-6.609579082578421e-03;
        q = q * z + (FL_T)2.1272292360663414e-02;
        q = q * z + (FL_T)-5.389288812875748e-02;
        q = q * z + (FL_T)1.3332897424697876e-01;
        q = q * z + (FL_T)-3.3333325386047363e-01;
        return q * z + (FL_T)1.0;
    }
    q = (FL_T)5.6614152592649884e-05;
    q = q * z + (FL_T)-2.1758828743787743e-04;
    q = q * z + (FL_T)5.831653184475755e-04;
    q = q * z + (FL_T)-1.4544468104988387e-03;
    q = q * z + (FL_T)3.5919457694910816e-03;
    q = q * z + (FL_T)-8.863220053351582e-03;
    q = q * z + (FL_T)2.186948771340336e-02;
    q = q * z + (FL_T)-5.396825394265987e-02;
    q = q * z + (FL_T)1.3333333333292402e-01;
    q = q * z + (FL_T)-3.3333333333333076e-01;
    return q * z + (FL_T)1.0;
}

/* ln 2 = FL_LN2_HI + FL_LN2_LO in the instantiation's dtype (hi rounded, lo the
 * rest, from ln 2 = double(ln 2) + 2.319e-17). */
#define FL_LN2_D 0.69314718055994530942
#define FL_LN2_HI ((FL_T)FL_LN2_D)
#define FL_LN2_LO ((FL_T)((FL_LN2_D - (double)FL_LN2_HI) + 2.3190468138462996e-17))

/* log cosh(r), gradient tanh(r). With a = |r| and e = exp(-2a) in [0, 1]:
 *   log cosh(r) = a - ln 2 + log1p(e)   (cosh never formed: no overflow, even a = inf)
 *   tanh(a)     = (1 - e) / (1 + e)     (from the same exp, no libm tanh)
 * Both cancel for small a (log cosh ~ a^2 / 2, 1 - e ~ 2a), so |r| < 1/2 takes the
 * polynomials above; ln 2 is subtracted in two parts for the digits near the cut-off
 * (a - hi is exact there, by Sterbenz). */
FL_INLINE FL_T FL_FN(ew_log_cosh)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                  FL_T *g)
{
    const FL_T r = x - y, a = FL_FN(ew_abs)(r);
    const FL_T e = FL_EXPNP(-2 * a);
    const FL_T l_big = ((a - FL_LN2_HI) + FL_TLOG1P01(e)) - FL_LN2_LO;
    const FL_T t_big = (1 - e) / (1 + e);
    const FL_T z = a * a;
    const FL_T l_small = a * (a * FL_FN(ew_log_cosh_p)(z)); /* not z P: z underflows */
    const FL_T t_small = a * FL_FN(ew_tanh_q)(z);
    const int small = a < (FL_T)0.5;
    const FL_T t = small ? t_small : t_big;
    (void)pw;
    (void)cx;
    *g = r < 0 ? -t : t;
    return small ? l_small : l_big;
}

#undef FL_LN2_D
#undef FL_LN2_HI
#undef FL_LN2_LO

/* Poisson negative log-likelihood of a log-rate x, as PyTorch's poisson_nll_loss
 * (log_input=True, full=False): exp(x) - y x, gradient exp(x) - y. exp overflows to
 * inf past log(max) as in PyTorch. A target of 0 drops the y-term outright: at
 * x = -inf (a certain zero count) the loss is 0, not 0 * -inf = NaN. */
FL_INLINE FL_T FL_FN(ew_poisson_log)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                     FL_T *g)
{
    const FL_T rate = FL_EXP(x);
    const FL_T yx = y == 0 ? (FL_T)0 : y * x;
    (void)pw;
    (void)cx;
    *g = rate - y;
    return rate - yx;
}

/* Poisson negative log-likelihood of a rate x >= 0 (log_input=False):
 * x - y log(x + eps), eps = p0 >= 0, gradient 1 - y / (x + eps). A target of 0 drops
 * the y-term (0 at x + eps = 0, not 0 * -inf); a rate below -eps gives NaN, as in
 * PyTorch. The vector log takes normal arguments: a subnormal x + eps is scaled by
 * 2^24 (float) or 2^54 (double) first, and the scale's log taken off after. */
FL_INLINE FL_T FL_FN(ew_poisson)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                 FL_T *g)
{
    const FL_T z = x + cx->p0;
    const int f32 = sizeof(FL_T) == 4;
    const FL_T tiny = f32 ? (FL_T)1.17549435e-38f : (FL_T)2.2250738585072014e-308;
    const FL_T up = f32 ? (FL_T)16777216.0f : (FL_T)18014398509481984.0;
    const FL_T up_log = f32 ? (FL_T)16.635532f : (FL_T)37.42994775023705;
    const int sub = z > 0 && z < tiny;
    const FL_T log_z = FL_TLOG(sub ? z * up : z) - (sub ? up_log : (FL_T)0);
    const int zero = y == 0;
    (void)pw;
    *g = 1 - (zero ? (FL_T)0 : y / z);
    return x - (zero ? (FL_T)0 : y * log_z);
}
