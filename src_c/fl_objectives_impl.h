/* Gradient-boosting objectives, kernel body; included once per (dtype, SIMD path) by
 * fl_instance.h (FL_T, FL_TS, FL_PATH, FL_EXP, FL_EXPNP, FL_TLOG, FL_TLOG1P,
 * FL_TLOG1P01, FL_FABS defined). No include guard on purpose.
 *
 * Every per-element function FL_FN(ob_<kind>)(x, y, cx, &g, &h) returns the loss of
 * raw score x against target y and stores d loss / dx in *g and d^2 loss / dx^2 in
 * *h. They are branch-free (both sides computed, one picked with a ternary) so the
 * block loops vectorise; a block loop is specialised per kind and per output set,
 * and whatever a specialisation does not store the compiler drops. */

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

/* Samples per reduction block (elementwise kinds), and scores per block for the
 * softmax rows (a block is whole rows: max(1, FL_OB_BLOCK / k) of them). Fixed, so
 * the sums do not depend on the thread count. */
#define FL_OB_BLOCK 4096
/* Softmax rows of at least this many scores run their loops vectorised. */
#define FL_OB_WIDE_K 16

typedef struct {
    const FL_T *x, *y, *sw, *cw;
    const int64_t *cls;
    FL_T *g, *h;
    int64_t n, k;
    FL_T p0, p1, p2, p3;
    FL_T hscale, hmin;
} FL_FN(fl_ob_ctx);

/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for any
 * x, and log1p keeps the tail exp(-|x|) that 1 + exp(-|x|) would round away. The
 * parts every logit objective shares: e = exp(-|x|), sigmoid(x) = p and
 * sigmoid(-x) = q (each from 1 / (1 + e), never 1 - p: q keeps its relative
 * precision when p rounds to 1), and softplus(x), softplus(-x). */
typedef struct {
    FL_T p, q, spx, spn;
} FL_FN(ob_sig);

FL_INLINE FL_FN(ob_sig) FL_FN(ob_sig_parts)(FL_T x)
{
    FL_FN(ob_sig) s;
    const FL_T ax = FL_FABS(x);
    const FL_T e = FL_EXPNP(-ax);
    const FL_T lp = FL_TLOG1P01(e);
    const FL_T inv = 1 / (1 + e), einv = e * inv;
    s.p = x >= 0 ? inv : einv;
    s.q = x >= 0 ? einv : inv;
    s.spx = (x > 0 ? x : (FL_T)0) + lp;
    s.spn = (x < 0 ? -x : (FL_T)0) + lp;
    return s;
}

/* Binary logistic, y' = y (1 - ls) + ls / 2 (p0 = ls), positive weight pw = p1:
 *   loss = pw y' softplus(-x) + (1 - y') softplus(x)
 *   g    = (1 - y') p - pw y' q                 (no 1 - p: q is exact)
 *   h    = (pw y' + 1 - y') p q
 * A term whose coefficient is 0 is 0 even where its softplus is inf (x = +-inf). */
FL_INLINE FL_T FL_FN(ob_logistic)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                  FL_T *g, FL_T *h)
{
    const FL_T ys = y * (1 - cx->p0) + cx->p0 * (FL_T)0.5;
    const FL_T c1 = cx->p1 * ys, c0 = 1 - ys;
    const FL_FN(ob_sig) s = FL_FN(ob_sig_parts)(x);
    *g = c0 * s.p - c1 * s.q;
    *h = (c1 + c0) * (s.p * s.q);
    return (c1 == 0 ? (FL_T)0 : c1 * s.spn) + (c0 == 0 ? (FL_T)0 : c0 * s.spx);
}

/* Sigmoid focal (Lin et al. 2017), a1 = alpha, a0 = 1 - alpha (both 1 without
 * alpha: p0 < 0), gamma = p1 >= 0:
 *   loss = y a1 q^gamma softplus(-x) + (1 - y) a0 p^gamma softplus(x)
 * With f(x) = p^gamma softplus(x) the second term is a0 f(x), the first a1 f(-x):
 *   f'(x)  = p^gamma (gamma q sp(x) + p)
 *   f''(x) = p^gamma (gamma^2 q q sp(x) - gamma p q sp(x) + (2 gamma + 1) p q)
 * (d p / dx = p q, d sp(x) / dx = p). Computed in log space: p^gamma =
 * exp(-gamma softplus(-x)) never overflows nor takes a log of 0, and every term is a
 * product of bounded factors with q sp(x) (-> 0 as x -> +inf, taken as 0 where q = 0
 * so that x = +inf gives 0, not 0 * inf): the gradient and the hessian are finite for
 * every x, +-inf included. The hessian is negative where a confident prediction is
 * wrong (x > (2 gamma + 1) / gamma for y = 0, roughly): focal loss is not convex. */
FL_INLINE FL_T FL_FN(ob_focal)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx, FL_T *g,
                               FL_T *h)
{
    const FL_T ga = cx->p1;
    const FL_T a1 = cx->p0 < 0 ? (FL_T)1 : cx->p0;
    const FL_T a0 = cx->p0 < 0 ? (FL_T)1 : 1 - cx->p0;
    const FL_FN(ob_sig) s = FL_FN(ob_sig_parts)(x);
    /* exp(0) = 1 for gamma = 0 (no 0 * inf at x = +-inf); the select is on the
     * argument, not around the exp, which would keep the loop from vectorising */
    const FL_T pg = FL_EXP(ga == 0 ? (FL_T)0 : -ga * s.spn);
    const FL_T qg = FL_EXP(ga == 0 ? (FL_T)0 : -ga * s.spx);
    const FL_T qs = s.q == 0 ? (FL_T)0 : s.q * s.spx; /* q softplus(x) */
    const FL_T ps = s.p == 0 ? (FL_T)0 : s.p * s.spn; /* p softplus(-x) */
    const FL_T pq = s.p * s.q, c2 = 2 * ga + 1;
    const FL_T c1 = y * a1, c0 = (1 - y) * a0;
    *g = c0 * (pg * (ga * qs + s.p)) - c1 * (qg * (ga * ps + s.q));
    *h = c0 * (pg * (ga * ga * (s.q * qs) - ga * (s.p * qs) + c2 * pq))
         + c1 * (qg * (ga * ga * (s.p * ps) - ga * (s.q * ps) + c2 * pq));
    return (c1 == 0 ? (FL_T)0 : c1 * (qg * s.spn))
           + (c0 == 0 ? (FL_T)0 : c0 * (pg * s.spx));
}

/* Squared error (x - y)^2 / 2: g = x - y, h = 1. */
FL_INLINE FL_T FL_FN(ob_squared)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx, FL_T *g,
                                 FL_T *h)
{
    const FL_T r = x - y;
    (void)cx;
    *g = r;
    *h = 1;
    return (FL_T)0.5 * r * r;
}

/* Pseudo-Huber, delta = p0: with a = |r| / delta and s = sqrt(1 + a^2),
 *   loss = delta^2 (s - 1) = delta^2 a (a / (s + 1)),  g = r / s,  h = 1 / s^3
 * s as a sqrt(1 + 1 / a^2) for a > 1, so a^2 cannot overflow (r = 1e300: g = delta,
 * not r / inf = 0); s - 1 as a^2 / (s + 1) keeps small a's loss from cancelling. */
FL_INLINE FL_T FL_FN(ob_pseudo_huber)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                      FL_T *g, FL_T *h)
{
    const FL_T d = cx->p0, r = x - y, a = FL_FABS(r) / d;
    const FL_T ia = a > 1 ? 1 / a : (FL_T)0;
    const FL_T s = a > 1 ? a * (FL_T)sqrt(1 + ia * ia) : (FL_T)sqrt(1 + a * a);
    const FL_T is = 1 / s;
    *g = r * is;
    *h = is * is * is;
    return d * d * (a * (a / (s + 1)));
}

/* Huber, delta = p0: r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2);
 * g = clip(r, -delta, delta). The second derivative is 1 inside, 0 outside (p1 = 1);
 * LightGBM's `huber` uses 1 everywhere (p1 = 0, the default): a zero hessian leaves a
 * leaf of outliers with no curvature at all. */
FL_INLINE FL_T FL_FN(ob_huber)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx, FL_T *g,
                               FL_T *h)
{
    const FL_T d = cx->p0, r = x - y, ar = FL_FABS(r);
    const int in = ar <= d;
    *g = in ? r : (r > 0 ? d : -d);
    *h = in || cx->p1 == 0 ? (FL_T)1 : (FL_T)0;
    return in ? (FL_T)0.5 * r * r : d * (ar - (FL_T)0.5 * d);
}

/* log cosh(r) = |r| + log1p(exp(-2|r|)) - log 2 (no cosh overflow for large r);
 * with e = exp(-2|r|): g = tanh(r) = sign(r) (1 - e) / (1 + e) and
 * h = 1 - tanh^2(r) = 4 e / (1 + e)^2 (no cancellation as tanh -> 1). */
FL_INLINE FL_T FL_FN(ob_log_cosh)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                  FL_T *g, FL_T *h)
{
    const FL_T r = x - y, ar = FL_FABS(r);
    const FL_T e = FL_EXPNP(-2 * ar), inv = 1 / (1 + e);
    const FL_T t = (1 - e) * inv;
    (void)cx;
    *g = r < 0 ? -t : t;
    *h = 4 * e * inv * inv;
    return ar + FL_TLOG1P01(e) - (FL_T)0.6931471805599453;
}

/* Squared log error (log1p(x) - log1p(y))^2 / 2 on the prediction x itself
 * (XGBoost's reg:squaredlogerror): with x clamped to >= -1 + 1e-6 as XGBoost does
 * (a raw score at or below -1 has no log1p) and l = log1p(x) - log1p(y):
 *   g = l / (1 + x),  h = (1 - l) / (1 + x)^2   (XGBoost floors h at 1e-6:
 * min_hess). */
FL_INLINE FL_T FL_FN(ob_squared_log)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                     FL_T *g, FL_T *h)
{
    const FL_T lo = (FL_T)(-1 + 1e-6);
    const FL_T xc = x > lo ? x : lo;
    const FL_T l = FL_TLOG1P(xc) - FL_TLOG1P(y), i1 = 1 / (1 + xc);
    (void)cx;
    *g = l * i1;
    *h = (1 - l) * (i1 * i1);
    return (FL_T)0.5 * l * l;
}

/* Poisson with log link: loss = exp(x) - y x (the constant log y! dropped), g =
 * exp(x) - y, h = exp(x + max_delta_step) (p0; XGBoost's count:poisson and
 * LightGBM's poisson both use 0.7, which damps the Newton step; 0 gives the true
 * second derivative). A zero count drops y x (no 0 * -inf). */
FL_INLINE FL_T FL_FN(ob_poisson)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                 FL_T *g, FL_T *h)
{
    const FL_T rate = FL_EXP(x);
    *g = rate - y;
    *h = FL_EXP(x + cx->p0); /* = rate for p0 = 0 */
    return rate - (y == 0 ? (FL_T)0 : y * x);
}

/* Gamma with log link (shape 1, the constant dropped): loss = y exp(-x) + x,
 * g = 1 - y exp(-x), h = y exp(-x). */
FL_INLINE FL_T FL_FN(ob_gamma)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx, FL_T *g,
                               FL_T *h)
{
    const FL_T ye = y * FL_EXP(-x);
    (void)cx;
    *g = 1 - ye;
    *h = ye;
    return ye + x;
}

/* Tweedie with log link, power rho = p0 in (1, 2), a = exp((1 - rho) x),
 * b = exp((2 - rho) x):
 *   loss = -y a / (1 - rho) + b / (2 - rho),  g = -y a + b,
 *   h = -y (1 - rho) a + (2 - rho) b            (both terms >= 0: convex). */
FL_INLINE FL_T FL_FN(ob_tweedie)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                 FL_T *g, FL_T *h)
{
    const FL_T r1 = 1 - cx->p0, r2 = 2 - cx->p0;
    const FL_T a = FL_EXP(r1 * x), b = FL_EXP(r2 * x);
    const FL_T ya = y == 0 ? (FL_T)0 : y * a;
    *g = b - ya;
    *h = r2 * b - r1 * ya;
    return b / r2 - ya / r1;
}

/* Quantile (pinball) loss, alpha = p0, r = x - y: (1 - alpha) r for r > 0, else
 * -alpha r. g = 1 - alpha for r > 0, -alpha for r <= 0 (LightGBM takes 1 - alpha
 * at the tie: both are subgradients); h = 1, the constant both libraries use for
 * this piecewise-linear loss. */
FL_INLINE FL_T FL_FN(ob_quantile)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                  FL_T *g, FL_T *h)
{
    const FL_T r = x - y, al = cx->p0;
    *g = r > 0 ? 1 - al : -al;
    *h = 1;
    return r > 0 ? (1 - al) * r : -al * r;
}

/* Absolute error |x - y|: g = sign(x - y) (0 at the tie, as both libraries), h = 1
 * (both libraries' constant). */
FL_INLINE FL_T FL_FN(ob_absolute)(FL_T x, FL_T y, const FL_FN(fl_ob_ctx) * cx,
                                  FL_T *g, FL_T *h)
{
    const FL_T r = x - y;
    (void)cx;
    *g = r > 0 ? (FL_T)1 : r < 0 ? (FL_T)-1 : (FL_T)0;
    *h = 1;
    return FL_FABS(r);
}

FL_INLINE FL_T FL_FN(ob_elem)(const int kind, FL_T x, FL_T y,
                              const FL_FN(fl_ob_ctx) * cx, FL_T *g, FL_T *h)
{
    switch (kind) {
    case FL_OBJ_LOGISTIC:
        return FL_FN(ob_logistic)(x, y, cx, g, h);
    case FL_OBJ_FOCAL:
        return FL_FN(ob_focal)(x, y, cx, g, h);
    case FL_OBJ_PSEUDO_HUBER:
        return FL_FN(ob_pseudo_huber)(x, y, cx, g, h);
    case FL_OBJ_HUBER:
        return FL_FN(ob_huber)(x, y, cx, g, h);
    case FL_OBJ_LOG_COSH:
        return FL_FN(ob_log_cosh)(x, y, cx, g, h);
    case FL_OBJ_SQUARED_LOG:
        return FL_FN(ob_squared_log)(x, y, cx, g, h);
    case FL_OBJ_POISSON:
        return FL_FN(ob_poisson)(x, y, cx, g, h);
    case FL_OBJ_GAMMA:
        return FL_FN(ob_gamma)(x, y, cx, g, h);
    case FL_OBJ_TWEEDIE:
        return FL_FN(ob_tweedie)(x, y, cx, g, h);
    case FL_OBJ_QUANTILE:
        return FL_FN(ob_quantile)(x, y, cx, g, h);
    case FL_OBJ_ABSOLUTE:
        return FL_FN(ob_absolute)(x, y, cx, g, h);
    default:
        return FL_FN(ob_squared)(x, y, cx, g, h);
    }
}

/* Samples [k0, k1): the weighted loss sum (grads = 0), or g and h (grads = 1).
 * A weight of 0 removes a sample outright, even a non-finite one. */
FL_INLINE double FL_FN(ob_block)(const FL_FN(fl_ob_ctx) * cx0, int64_t k0, int64_t k1,
                                 const int kind, const int grads, const int weighted)
{
    /* a local copy: the stores may alias the caller's context for all the compiler
     * knows, which would make it reload the parameters in every iteration */
    const FL_FN(fl_ob_ctx) cxl = *cx0;
    const FL_FN(fl_ob_ctx) *const cx = &cxl;
    const int64_t len = k1 - k0;
    const FL_T *x = cx->x + k0, *y = cx->y + k0;
    const FL_T *sw = weighted ? cx->sw + k0 : NULL;
    FL_T *gout = grads ? cx->g + k0 : NULL, *hout = grads ? cx->h + k0 : NULL;
    const FL_T hmin = cx->hmin;
    double acc = 0.0;
    int64_t k;
    if (grads) {
#pragma omp simd
        for (k = 0; k < len; k++) {
            FL_T g, h;
            (void)FL_FN(ob_elem)(kind, x[k], y[k], cx, &g, &h);
            h = h > hmin ? h : hmin;
            if (weighted) {
                const FL_T w = sw[k];
                g = w == 0 ? (FL_T)0 : w * g;
                h = w == 0 ? (FL_T)0 : w * h;
            }
            gout[k] = g;
            hout[k] = h;
        }
    } else {
#pragma omp simd reduction(+ : acc)
        for (k = 0; k < len; k++) {
            FL_T g, h;
            FL_T l = FL_FN(ob_elem)(kind, x[k], y[k], cx, &g, &h);
            if (weighted)
                l = sw[k] == 0 ? (FL_T)0 : sw[k] * l;
            acc += (double)l;
        }
    }
    return acc;
}

/* One out-of-line block function per kind holding its four specialised loops, so
 * the kind switch is outside every loop. */
#if defined(__GNUC__) || defined(__clang__)
#define FL_OB_NOINLINE static __attribute__((noinline))
#else
#define FL_OB_NOINLINE static
#endif
#define FL_OB_BLOCK_FN(kind)                                                        \
    FL_OB_NOINLINE double FL_FN(ob_block_##kind)(const FL_FN(fl_ob_ctx) * cx,       \
                                                 int64_t k0, int64_t k1)            \
    {                                                                               \
        const int w = cx->sw != NULL;                                               \
        if (cx->g)                                                                  \
            return w ? FL_FN(ob_block)(cx, k0, k1, FL_OBJ_##kind, 1, 1)             \
                     : FL_FN(ob_block)(cx, k0, k1, FL_OBJ_##kind, 1, 0);            \
        return w ? FL_FN(ob_block)(cx, k0, k1, FL_OBJ_##kind, 0, 1)                 \
                 : FL_FN(ob_block)(cx, k0, k1, FL_OBJ_##kind, 0, 0);                \
    }
#define FL_OB_ELEMENTWISE(X)                                                        \
    X(LOGISTIC) X(FOCAL) X(SQUARED) X(PSEUDO_HUBER) X(HUBER) X(LOG_COSH)            \
    X(SQUARED_LOG) X(POISSON) X(GAMMA) X(TWEEDIE) X(QUANTILE) X(ABSOLUTE)
FL_OB_ELEMENTWISE(FL_OB_BLOCK_FN)

/* ---- softmax rows ----------------------------------------------------------------
 * Row scores x (k of them), class c, p = softmax(x), q = 1 - p_c (summed from the
 * other classes' exponentials, never 1 - p_c, so it keeps its relative precision
 * when p_c rounds to 1), gamma = p0. Loss -(1 - p_c)^gamma log p_c; gamma = 0 is the
 * cross-entropy, g_j = p_j - [j = c], h_j = p_j (1 - p_j).
 *
 * With u = p_c and G = u dL/du = q^gamma (gamma u R - 1), R = log(u) / q (-> -1 as
 * q -> 0, from log u computed as -log1p(S_other) when c holds the maximum):
 *   g_j = G ([j = c] - p_j)        (g_c = G q)
 *   h_j = B ([j = c] - p_j)^2 / q - G p_j (1 - p_j)
 * where B = u G'(u) q = gamma u q^gamma (log u + 2 - (gamma - 1) u R). The
 * (.)^2 / q factor is q for j = c and p_j (e_j / S_other) otherwise, both bounded,
 * so nothing is divided by a q that may be 0. The hessian is the diagonal of the
 * true one (the libraries' convention, hess_scale times it: XGBoost's multi:softprob
 * uses 2 p (1 - p), LightGBM's multiclass k / (k - 1) p (1 - p)). */
FL_INLINE double FL_FN(ob_softmax_row)(const FL_FN(fl_ob_ctx) * cx, int64_t i,
                                       const int grads, int *bad)
{
    const int64_t k = cx->k;
    const FL_T *x = cx->x + i * k;
    const int64_t c = cx->cls[i];
    const FL_T ga = cx->p0;
    FL_T *g = grads ? cx->g + i * k : NULL, *h = grads ? cx->h + i * k : NULL;
    FL_T m, xc, w;
    double so = 0.0, s, q, u, lu, rr, qg, gg, bb, l;
    int64_t j;
    /* Short rows run the loops as plain scalar loops: a vector loop's set-up and
     * horizontal reductions cost more than 2..15 scores (k = 2 took ~300 ns a
     * row vectorised). */
    const int wide = k >= FL_OB_WIDE_K;
    if (c < 0 || c >= k) {
        *bad = 1;
        return 0.0;
    }
    w = cx->cw ? cx->cw[c] : (FL_T)1;
    if (cx->sw)
        w *= cx->sw[i];
    if (w == 0 && !grads)
        return 0.0;
    /* The same loops twice: vectorised (omp simd) for long rows, plain for short
     * ones, where the simd lanes' private copies (kept on the stack, reread
     * wider than written: store-forwarding stalls) cost more than the work. */
#define FL_OB_MAX_BODY m = x[j] > m ? x[j] : m;
#define FL_OB_EXP_BODY                                                              \
    {                                                                               \
        const FL_T e = FL_EXP(x[j] - m);                                            \
        if (grads)                                                                  \
            g[j] = e;                                                               \
        so += j == c ? 0.0 : (double)e;                                             \
    }
    m = x[0];
    xc = x[c];
    if (wide) {
#pragma omp simd reduction(max : m)
        for (j = 1; j < k; j++)
            FL_OB_MAX_BODY
#pragma omp simd reduction(+ : so)
        for (j = 0; j < k; j++)
            FL_OB_EXP_BODY
    } else {
        for (j = 1; j < k; j++)
            FL_OB_MAX_BODY
        for (j = 0; j < k; j++)
            FL_OB_EXP_BODY
    }
#undef FL_OB_MAX_BODY
#undef FL_OB_EXP_BODY
    {
        const double ec = exp((double)(xc - m));
        s = so + ec;
        q = so / s;
        u = ec / s;
        if (xc == m) /* one libm call, not both sides of a select */
            lu = -log1p(so);
        else
            lu = (double)(xc - m) - log(s);
    }
    qg = ga == 0 ? 1.0 : q == 0 ? 0.0 : pow(q, (double)ga);
    l = -qg * lu;
    if (!grads)
        return w == 1 ? l : (double)w * l;
    rr = q == 0 ? -1.0 : lu / q;
    gg = qg * (ga * u * rr - 1.0);
    bb = ga == 0 ? 0.0 : ga * u * qg * (lu + 2.0 - (ga - 1.0) * u * rr);
    {
        const FL_T wg = w * (FL_T)(-gg), hs = cx->hscale, hmin = cx->hmin;
        const FL_T gq = (FL_T)(gg * q), hc = (FL_T)(bb * q - gg * u * q);
        const FL_T fb = (FL_T)bb, fg = (FL_T)gg, is = (FL_T)(1.0 / s);
        const FL_T iso = so > 0 ? (FL_T)(1.0 / so) : (FL_T)0;
#define FL_OB_GH_BODY                                                           \
    {                                                                           \
        const FL_T e = g[j], pj = e * is;                                       \
        FL_T hj = fb * (pj * (e * iso)) - fg * (pj * (1 - pj));                 \
        hj = hs * (j == c ? hc : hj);                                           \
        hj = hj > hmin ? hj : hmin;                                             \
        g[j] = j == c ? w * gq : wg * pj;                                       \
        h[j] = w == 0 ? (FL_T)0 : w * hj;                                       \
    }
        if (wide) {
#pragma omp simd
            for (j = 0; j < k; j++)
                FL_OB_GH_BODY
        } else {
            for (j = 0; j < k; j++)
                FL_OB_GH_BODY
        }
#undef FL_OB_GH_BODY
        if (w == 0)
            for (j = 0; j < k; j++)
                g[j] = 0;
    }
    return 0.0;
}

/* The gradient and hessian of short rows (k < FL_OB_WIDE_K), FL_OB_LANES rows at a
 * time, one row per vector lane: the rows are copied into the columns of a small
 * tile, every loop below runs over the lanes (no horizontal reduction, no scalar
 * epilogue per row) and the per-row double-precision tail (exp of the target's
 * score, the log, the coefficients) is vectorised with the library's exp and log
 * instead of a libm call per row. Float32, k = 10, one thread: 67 -> 25 ns a row
 * on avx512, 69 -> 32 on avx2 (1.2-2.9x over k = 3..15, both dtypes, gamma 0 and
 * 2); the baseline (SSE2) path measured 0.7-0.9x with it and keeps the row loop.
 * The same formulas as ob_softmax_row, in the same order, so the sums are the
 * same; the exp and log of the tail are fl_exp/fl_log (within 2 ulp of libm's,
 * tests/test_vexp.py; fl_exp gives 0 where libm's exp is subnormal), pow(q, gamma)
 * stays libm's. Rows past nr repeat row i0 and are not stored. Every class index
 * is in range (the caller checks). */
#if FL_PATH_VBYTES >= 32
#define FL_OB_LANES 16
FL_OB_NOINLINE void FL_FN(ob_softmax_lanes)(const FL_FN(fl_ob_ctx) * cx, int64_t i0,
                                            int64_t nr)
{
    enum { L = FL_OB_LANES };
    const int64_t k = cx->k;
    const FL_T ga = cx->p0, hs = cx->hscale, hmin = cx->hmin;
    FL_T xt[FL_OB_WIDE_K][L], et[FL_OB_WIDE_K][L];
    FL_T m[L], xc[L], w[L], wg[L], gq[L], hc[L], fb[L], fg[L], is[L], iso[L];
    double so[L], qg[L], qd[L], ud[L], lud[L], sd[L];
    int64_t c[L], l, j;
    for (l = 0; l < L; l++) {
        const int64_t i = i0 + (l < nr ? l : 0);
        const FL_T *x = cx->x + i * k;
        c[l] = cx->cls[i];
        for (j = 0; j < k; j++)
            xt[j][l] = x[j];
        xc[l] = x[c[l]];
        w[l] = cx->cw ? cx->cw[c[l]] : (FL_T)1;
        if (cx->sw)
            w[l] *= cx->sw[i];
    }
    for (l = 0; l < L; l++)
        m[l] = xt[0][l];
    for (j = 1; j < k; j++) {
#pragma omp simd
        for (l = 0; l < L; l++)
            m[l] = xt[j][l] > m[l] ? xt[j][l] : m[l];
    }
    for (l = 0; l < L; l++)
        so[l] = 0.0;
    for (j = 0; j < k; j++) {
#pragma omp simd
        for (l = 0; l < L; l++) {
            const FL_T e = FL_EXP(xt[j][l] - m[l]);
            et[j][l] = e;
            so[l] += j == c[l] ? 0.0 : (double)e;
        }
    }
#pragma omp simd
    for (l = 0; l < L; l++) {
        const double d = (double)(xc[l] - m[l]), ec = FL_DEXP(d);
        const double s = so[l] + ec;
        sd[l] = s;
        qd[l] = so[l] / s;
        ud[l] = ec / s;
        lud[l] = xc[l] == m[l] ? -FL_DLOG1P(so[l]) : d - FL_DLOG(s);
    }
    for (l = 0; l < L; l++)
        qg[l] = ga == 0 ? 1.0 : qd[l] == 0 ? 0.0 : pow(qd[l], (double)ga);
#pragma omp simd
    for (l = 0; l < L; l++) {
        const double q = qd[l], u = ud[l], lu = lud[l], s = sd[l];
        const double rr = q == 0 ? -1.0 : lu / q;
        const double gg = qg[l] * (ga * u * rr - 1.0);
        const double bb =
            ga == 0 ? 0.0 : ga * u * qg[l] * (lu + 2.0 - (ga - 1.0) * u * rr);
        wg[l] = w[l] * (FL_T)(-gg);
        gq[l] = (FL_T)(gg * q);
        hc[l] = (FL_T)(bb * q - gg * u * q);
        fb[l] = (FL_T)bb;
        fg[l] = (FL_T)gg;
        is[l] = (FL_T)(1.0 / s);
        iso[l] = so[l] > 0 ? (FL_T)(1.0 / so[l]) : (FL_T)0;
    }
    for (j = 0; j < k; j++) {
#pragma omp simd
        for (l = 0; l < L; l++) {
            const FL_T e = et[j][l], pj = e * is[l];
            FL_T hj = fb[l] * (pj * (e * iso[l])) - fg[l] * (pj * (1 - pj));
            hj = hs * (j == c[l] ? hc[l] : hj);
            hj = hj > hmin ? hj : hmin;
            et[j][l] = w[l] == 0 ? (FL_T)0 : j == c[l] ? w[l] * gq[l] : wg[l] * pj;
            xt[j][l] = w[l] == 0 ? (FL_T)0 : w[l] * hj;
        }
    }
    for (l = 0; l < nr; l++) {
        FL_T *g = cx->g + (i0 + l) * k, *h = cx->h + (i0 + l) * k;
        for (j = 0; j < k; j++) {
            g[j] = et[j][l];
            h[j] = xt[j][l];
        }
    }
}
#endif

FL_OB_NOINLINE double FL_FN(ob_block_SOFTMAX)(const FL_FN(fl_ob_ctx) * cx, int64_t r0,
                                              int64_t r1)
{
    double acc = 0.0;
    int bad = 0;
    int64_t i;
#ifdef FL_OB_LANES
    if (cx->g && cx->k < FL_OB_WIDE_K) {
        for (i = r0; i < r1; i++)
            if (cx->cls[i] < 0 || cx->cls[i] >= cx->k)
                return (double)NAN;
        for (i = r0; i < r1; i += FL_OB_LANES)
            FL_FN(ob_softmax_lanes)(cx, i, r1 - i < FL_OB_LANES ? r1 - i : FL_OB_LANES);
        return 0.0;
    }
#endif
    if (cx->g)
        for (i = r0; i < r1; i++)
            (void)FL_FN(ob_softmax_row)(cx, i, 1, &bad);
    else
        for (i = r0; i < r1; i++)
            acc += FL_FN(ob_softmax_row)(cx, i, 0, &bad);
    /* a class index out of range (the caller checks them first) poisons the sum */
    return bad ? (double)NAN : acc;
}

typedef struct {
    const FL_FN(fl_ob_ctx) * cx;
    int kind;
    int64_t per; /* samples (rows) per block */
} FL_FN(ob_span);

static double FL_FN(ob_block_of)(const void *p, int64_t b)
{
    const FL_FN(ob_span) *sp = (const FL_FN(ob_span) *)p;
    const int64_t n = sp->cx->n, k0 = b * sp->per;
    const int64_t k1 = k0 + sp->per < n ? k0 + sp->per : n;
    switch (sp->kind) {
#define FL_OB_CASE(kind)                                                            \
    case FL_OBJ_##kind:                                                             \
        return FL_FN(ob_block_##kind)(sp->cx, k0, k1);
        FL_OB_ELEMENTWISE(FL_OB_CASE)
#undef FL_OB_CASE
    default:
        return FL_FN(ob_block_SOFTMAX)(sp->cx, k0, k1);
    }
}

int FL_FN(fl_obj_run)(fl_obj_args *a, int n_threads)
{
    FL_FN(fl_ob_ctx) cx;
    FL_FN(ob_span) span;
    const int soft = a->kind == FL_OBJ_SOFTMAX;
    const int64_t n = a->n, k = soft ? a->k : 1;
    int64_t nb;
    double total = 0.0;
    int nt = n_threads < 1 ? 1 : n_threads;

    a->loss = 0.0;
    if (a->kind < 0 || a->kind >= FL_OBJ_COUNT)
        return FL_OBJ_EKIND;
    if (n <= 0 || k <= 0)
        return FL_OBJ_OK;
    cx.x = (const FL_T *)a->raw;
    cx.y = soft ? NULL : (const FL_T *)a->target;
    cx.cls = soft ? (const int64_t *)a->target : NULL;
    cx.sw = (const FL_T *)a->sample_weight;
    cx.cw = soft ? (const FL_T *)a->class_weight : NULL;
    cx.g = (FL_T *)a->grad;
    cx.h = a->grad ? (FL_T *)a->hess : NULL;
    cx.n = n;
    cx.k = k;
    cx.p0 = (FL_T)a->p[0];
    cx.p1 = (FL_T)a->p[1];
    cx.p2 = (FL_T)a->p[2];
    cx.p3 = (FL_T)a->p[3];
    cx.hscale = (FL_T)a->hess_scale;
    cx.hmin = (FL_T)a->min_hess;
    span.cx = &cx;
    span.kind = a->kind;
    span.per = soft ? (FL_OB_BLOCK / k > 0 ? FL_OB_BLOCK / k : 1) : FL_OB_BLOCK;
    nb = (n + span.per - 1) / span.per;
#if FL_HAVE_OPENMP
    if (n * k < FL_PARALLEL_MIN)
        nt = 1;
#else
    nt = 1;
#endif
    if (fl_sum_blocks(FL_FN(ob_block_of), &span, nb, nt, &total) != 0)
        return FL_OBJ_ENOMEM;
    if (total != total && soft) {
        int64_t i;
        for (i = 0; i < n; i++)
            if (cx.cls[i] < 0 || cx.cls[i] >= k)
                return FL_OBJ_ETARGET;
    }
    a->loss = total;
    return FL_OBJ_OK;
}

#undef FL_FN
#undef FL_OB_NOINLINE
#undef FL_OB_BLOCK_FN
#undef FL_OB_ELEMENTWISE
#undef FL_OB_LANES

