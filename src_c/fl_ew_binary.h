/* Per-element binary / multi-label losses, included by fl_elementwise_impl.h inside
 * each (dtype, SIMD path) instantiation (FL_T, FL_FN, FL_EXP, FL_TLOG, FL_TLOG1P
 * defined). No include guard on purpose. Each returns the loss and stores d loss / d x
 * in *g, branch-free so the loops vectorise.
 *
 * Bits: the kernels are built with FMA contraction on, and GCC may fuse a product
 * into the add that uses it in the vector body but not in the scalar tail, or in the
 * loss-only loop but not in the fused one. Every product (or math-function result,
 * which may end in a product) that feeds a sum is therefore rounded first with
 * FL_EW_RND: v + 0 is a real operation (-0 + 0 = +0, so it is not folded) that an FMA
 * can only absorb exactly. An element then gets the same bits wherever it sits, with
 * or without the gradient. */
#ifndef FL_EW_RND
#define FL_EW_RND(v) ((v) + (FL_T)0)
#endif

/* exp(-|x|) in (0, 1] (0 for |x| = inf, NaN for NaN), to be fed to a log. */
FL_INLINE FL_T FL_FN(ew_exp_nabs)(FL_T ax)
{
    return FL_EW_RND(FL_EXPNP(-ax));
}

/* What the logit losses build on: |x|, e = exp(-|x|) in (0, 1] (0 for |x| = inf),
 * lp = log1p(e) = softplus(-|x|), inv = 1 / (1 + e) = sigmoid(|x|) and
 * einv = e inv = sigmoid(-|x|). */
typedef struct {
    FL_T ax, e, lp, inv, einv;
} FL_FN(ew_sig);

FL_INLINE FL_FN(ew_sig) FL_FN(ew_sig_parts)(FL_T x)
{
    FL_FN(ew_sig) s;
    s.ax = FL_FABS(x);
    s.e = FL_FN(ew_exp_nabs)(s.ax);
    s.lp = FL_EW_RND(FL_TLOG1P01(s.e));
    s.inv = 1 / (1 + s.e);
    s.einv = s.e * s.inv;
    return s;
}

/* Keras label smoothing y (1 - ls) + ls / 2 (ls / 2 is exact). */
FL_INLINE FL_T FL_FN(ew_smooth)(FL_T y, FL_T ls)
{
    return FL_EW_RND(y * (1 - ls)) + ls * (FL_T)0.5;
}

/* Binary cross-entropy with logits, y' = y (1 - ls) + ls / 2 (p0 = ls):
 *   loss = pw y' softplus(-x) + (1 - y') softplus(x),
 *   softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|))   (no overflow for any x)
 *   d/dx = (1 - y') sigmoid(x) - pw y' sigmoid(-x)
 * A term whose coefficient is 0 is 0 even where its softplus is inf (x = +-inf). */
FL_INLINE FL_T FL_FN(ew_bce_logits_s)(FL_T x, FL_T y, FL_T pw,
                                      const FL_FN(fl_ew_ctx) * cx, FL_T *g,
                                      const int smooth)
{
    /* smooth = 0 (no label smoothing, the usual call): y' = y + 0, the value
     * ew_smooth gives for ls = 0, with two operations fewer */
    const FL_T ys = smooth ? FL_FN(ew_smooth)(y, cx->p0) : FL_EW_RND(y);
    const FL_T a = pw * ys, b = 1 - ys;
    const FL_FN(ew_sig) sp = FL_FN(ew_sig_parts)(x);
    const FL_T sp_neg = (x > 0 ? x : 0) + sp.lp;  /* softplus(x)  = -log(1 - sigmoid) */
    const FL_T sp_pos = (x < 0 ? -x : 0) + sp.lp; /* softplus(-x) = -log sigmoid     */
    const FL_T sig = x >= 0 ? sp.inv : sp.einv;   /* sigmoid(x), no overflow         */
    const FL_T sig_neg = x >= 0 ? sp.einv : sp.inv;
    *g = FL_EW_RND(b * sig) - FL_EW_RND(a * sig_neg);
    return (a == 0 ? 0 : FL_EW_RND(a * sp_pos)) + (b == 0 ? 0 : FL_EW_RND(b * sp_neg));
}

FL_INLINE FL_T FL_FN(ew_bce_logits)(FL_T x, FL_T y, FL_T pw,
                                    const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    return FL_FN(ew_bce_logits_s)(x, y, pw, cx, g, 1);
}

FL_INLINE FL_T FL_FN(ew_bce_logits_nols)(FL_T x, FL_T y, FL_T pw,
                                         const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    return FL_FN(ew_bce_logits_s)(x, y, pw, cx, g, 0);
}

/* No label smoothing, no pos_weight, and every target of the block 0 or 1: one side
 * only. The same bits as ew_bce_logits_nols for such a target (a = y, b = 1 - y: the
 * other side's terms are exact zeros; 0 - s~ keeps the sign of a zero gradient). */
FL_INLINE FL_T FL_FN(ew_bce_logits_hard)(FL_T x, FL_T y, FL_T pw,
                                         const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    /* With z = x (y = 0) or -x (y = 1): loss = softplus(z), d/dx = +-sigmoid(z).
     * z >= 0 ("wrong": x on the side the target is not) gives |x| + lp and
     * 1 / (1 + e), else lp and e / (1 + e): one select each, and the sign of y = 1
     * last. The bits of the two-sided form: (x < 0 ? -x : 0) + lp is |x| + lp or
     * 0 + lp = lp, and 0 - s for y = 1 keeps a zero gradient +0. */
    const int one = y == 1;
    const int wrong = (x >= 0) != one;
    const FL_FN(ew_sig) sp = FL_FN(ew_sig_parts)(x);
    const FL_T s = wrong ? sp.inv : sp.einv;
    (void)pw;
    (void)cx;
    *g = one ? 0 - s : s;
    return wrong ? sp.ax + sp.lp : sp.lp;
}

/* Binary cross-entropy on probabilities (Keras, from_logits=False), y' as above
 * (p1 = ls), p0 = epsilon:
 *   q = clip(x, lo, hi),  loss = -(y' log q + (1 - y') log1p(-q))
 *   d/dx = (q - y') / (q (1 - q)) for lo <= x <= hi, else 0 (the clip's gradient)
 * lo = epsilon, at least the dtype's smallest normal number, and hi = 1 - lo, at most
 * the largest number below 1: so both logs are finite and q (1 - q) >= lo / 2 > 0 for
 * every epsilon in (0, 1/2), even where 1 - epsilon would round to 1 (float32 below
 * 6e-8). log1p(-q) keeps log(1 - q) accurate for small q (1 - q would round). The
 * ternary clip lets NaN through (both comparisons are false). */
/* The clip [lo, hi] of x into q (NaN stays NaN); returns whether lo <= x <= hi. */
FL_INLINE int FL_FN(ew_prob_clip)(FL_T x, const FL_FN(fl_ew_ctx) * cx, FL_T *q)
{
    /* the constants are folded per dtype; sizeof picks before any conversion */
    const FL_T tiny = (FL_T)(sizeof(FL_T) == 4 ? 1.1754943508222875e-38
                                               : 2.2250738585072014e-308);
    const FL_T below1 = (FL_T)(sizeof(FL_T) == 4 ? 1.0 - 5.9604644775390625e-8
                                                 : 1.0 - 1.1102230246251565e-16);
    const FL_T lo = cx->p0 > tiny ? cx->p0 : tiny;
    const FL_T hi = 1 - lo < below1 ? 1 - lo : below1;
    const FL_T q0 = x < lo ? lo : x;
    *q = q0 > hi ? hi : q0;
    return x >= lo && x <= hi; /* false for NaN, whose q stays NaN */
}

FL_INLINE FL_T FL_FN(ew_bce_prob_soft)(FL_T x, FL_T y, FL_T pw,
                                       const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    FL_T q;
    const int inside = FL_FN(ew_prob_clip)(x, cx, &q);
    const FL_T ys = FL_FN(ew_smooth)(y, cx->p1);
    const FL_T t1 = ys == 0 ? 0 : FL_EW_RND(ys * FL_TLOG(q));
    const FL_T t0 = ys == 1 ? 0 : FL_EW_RND((1 - ys) * FL_TLOG1P(-q));
    (void)pw;
    /* clipped: 0, unless x or y is NaN (x + ys is then NaN and passes it on) */
    *g = inside ? (q - ys) / (q * (1 - q)) : (x == x && ys == ys ? 0 : x + ys);
    return -(t1 + t0);
}

/* BCE on probabilities, no label smoothing, and every target of the block 0 or 1
 * (p0 = epsilon): one log and one division per element, one side's formula only.
 *   y = 1: loss = -log q,          d/dx = -1 / q        for lo <= x <= hi
 *   y = 0: loss = -log(1 - q),     d/dx = 1 / (1 - q)
 * 1 - q is rounded to nq, whose error c = (1 - nq) - q is exact (Fast2Sum: 1 >= q;
 * 1 - nq is exact by Sterbenz), so log(1 - q) = log(nq) + log1p(c / nq), and
 * log1p(c / nq) = c / nq to far below an ulp (|c / nq| <= 2^-24, 0 for q >= 1/2):
 * c times the gradient's 1 / nq. |c| is at most half an ulp of 1, so it can at
 * most halve log(nq) (where q is near 2^-24) and costs no accuracy worth the name;
 * a small q keeps its relative accuracy (nq = 1 gives exactly c = -q). Clipped,
 * NaN and infinite x as in ew_bce_prob_soft. */
FL_INLINE FL_T FL_FN(ew_bce_prob_hard)(FL_T x, FL_T y, FL_T pw,
                                       const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    FL_T q;
    const int inside = FL_FN(ew_prob_clip)(x, cx, &q), one = y == 1;
    const FL_T nq = 1 - q;
    const FL_T c = (1 - nq) - q;
    const FL_T rd = 1 / (one ? -q : nq);
    const FL_T lg = FL_EW_RND(FL_TLOG(one ? q : nq));
    (void)pw;
    *g = inside ? rd : (x == x ? 0 : x);
    return -(one ? lg : lg + FL_EW_RND(c * rd));
}

/* Any target: without label smoothing a target of 0 or 1 takes the hard-target form
 * (as in the hard-target-only blocks), so an element's bits never depend on its
 * neighbours; the general form elsewhere. */
FL_INLINE FL_T FL_FN(ew_bce_prob)(FL_T x, FL_T y, FL_T pw, const FL_FN(fl_ew_ctx) * cx,
                                  FL_T *g)
{
    FL_T gh, gs;
    const FL_T lh = FL_FN(ew_bce_prob_hard)(x, y, pw, cx, &gh);
    const FL_T ls = FL_FN(ew_bce_prob_soft)(x, y, pw, cx, &gs);
    const int hard = cx->p1 == 0 && (y == 0 || y == 1);
    *g = hard ? gh : gs;
    return hard ? lh : ls;
}

/* Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss), p0 = alpha (< 0: none),
 * p1 = gamma. With s = sigmoid(x), s~ = 1 - s = sigmoid(-x), the target y and
 *   ce = y softplus(-x) + (1 - y) softplus(x)      (BCE with logits)
 *   u  = 1 - p_t = y s~ + (1 - y) s                (the miss probability)
 *   a  = alpha y + (1 - alpha)(1 - y), or 1 when alpha < 0
 *   loss = a ce u^gamma,  u^gamma = exp(gamma log u)  (log space: never 0 * inf)
 *
 * Everything comes from e = exp(-|x|) in (0, 1] and lp = log1p(e) = softplus(-|x|).
 * Let c1 = (x >= 0 ? 1 - y : y), c2 = 1 - c1 (the target weight of the side whose
 * softplus is large, and of the other side). Then, dividing through by 1 + e:
 *   ce    = lp + c1 |x|                     (softplus(|x|) = |x| + lp)
 *   u     = D / (1 + e),  D = c1 + c2 e     (D in [e, 1] for y in [0, 1])
 *   log u = -lp + log D,  and log D = -|x| exactly when c1 = 0 (hard target on
 *           the right side: u = sigmoid(-|x|) underflows, its log does not).
 * Every sum above adds terms of one sign, so there is no cancellation.
 *
 * Gradient (derivation): d softplus(x)/dx = s, d s/dx = s s~, hence
 *   dce/dx = (1 - y) s - y s~,   du/dx = (1 - 2y) s s~,
 *   d loss/dx = a [ dce/dx u^gamma + ce gamma u^(gamma - 1) du/dx ]
 *             = a u^gamma [ (1 - y) s - y s~ + gamma ce (1 - 2y) r ],  r = s s~ / u.
 * u^(gamma - 1) never appears: r = s s~ / u = e / ((1 + e) D) is bounded by 2 for
 * every y in [0, 1] (u >= (1 - y) s and u >= y s~), and for c1 = 0 it is 1 / (1 + e)
 * (that is s for y = 1, s~ for y = 0). So the derivative is finite for every
 * gamma >= 0, including 0 < gamma < 1 at p_t -> 1 where the factor u^(gamma - 1) of
 * the chain rule alone is infinite (torch autograd returns NaN there: inf * 0).
 * (1 - y) s - y s~ rather than s - y: for y = 1 it is -s~, accurate where s
 * rounds to 1. Limits taken where a factor is 0 and another inf or 0/0:
 *   gamma = 0 or log u = 0: u^gamma = 1 (0^0 = 1 as torch, and 1^inf = 1);
 *   ce = inf (x = +-inf, c1 > 0) has r = 0: the gamma term is 0 (x e^-x -> 0);
 *   a = 0: loss 0 (a weight 0); ce = inf: loss inf (u = c1 > 0, however small
 *   u^gamma rounds).
 * Targets outside [0, 1] can make D <= 0 and give NaN, as torchvision would. */
FL_INLINE FL_T FL_FN(ew_focal_one)(FL_T x, FL_T y, const FL_FN(fl_ew_ctx) * cx, FL_T *g,
                                   const int hard)
{
    const FL_T alpha = cx->p0, gamma = cx->p1;
    const FL_FN(ew_sig) sp = FL_FN(ew_sig_parts)(x);
    const FL_T ax = sp.ax, e = sp.e, lp = sp.lp, inv = sp.inv, einv = sp.einv;
    const int one = y == 1;
    FL_T ce, logu, r, ug, dce;
    if (hard) {
        /* y in {0, 1}: c1 is 1 on the wrong side of 0 (x >= 0 for y = 0, x < 0 for
         * y = 1), else 0. D = 1 or e: u = 1 / (1 + e) or e / (1 + e), r the other
         * one, log D = 0 or -|x|: no log and no division by D. And
         * (1 - y) s - y s~ = +-u: -s~ for y = 1, s for y = 0, which is u. */
        const int wrong = (x >= 0) != one;
        const FL_T u = wrong ? inv : einv;
        ce = wrong ? lp + ax : lp;
        logu = wrong ? -lp : -lp + -ax;
        r = wrong ? einv : inv;
        dce = one ? 0 - u : u;
    } else {
        const FL_T s = x >= 0 ? inv : einv, sn = x >= 0 ? einv : inv;
        const FL_T c1 = x >= 0 ? 1 - y : y, c2 = 1 - c1;
        const FL_T d = c1 + FL_EW_RND(c2 * e);
        ce = c1 == 0 ? lp : lp + FL_EW_RND(c1 * ax);
        logu = -lp + (c1 == 0 ? -ax : FL_EW_RND(FL_TLOG(d)));
        r = c1 == 0 ? inv : einv / d;
        dce = FL_EW_RND((1 - y) * s) - FL_EW_RND(y * sn);
    }
    {
        /* u^gamma; gamma log u <= 0 for hard targets (no overflow clamp needed) */
        const FL_T gl = gamma == 0 || logu == 0 ? 0 : gamma * logu;
        ug = FL_EW_RND(hard ? FL_EXPNP(gl) : FL_EXP(gl));
    }
    {
        /* a hard target picks alpha or 1 - alpha, and -1 or 1 for 1 - 2y */
        const FL_T a1 = alpha < 0 ? 1 : alpha, a0 = alpha < 0 ? 1 : 1 - alpha;
        const FL_T at = hard        ? (one ? a1 : a0)
                        : alpha < 0 ? 1
                                    : FL_EW_RND(alpha * y) + FL_EW_RND((1 - alpha) * (1 - y));
        const FL_T aug = at * ug;
        /* gamma u^gamma ce r (1 - 2y), with 0 where a factor is 0: neither an
         * infinite ce nor an infinite gamma (float32 above 3.4e38) can give inf * 0 */
        const FL_T cr = r == 0 ? 0 : ce * r;
        const FL_T crs = hard ? (one ? -cr : cr) : cr * (1 - 2 * y);
        const FL_T gug = ug == 0 ? 0 : gamma * ug;
        const FL_T gterm = cr == 0 ? 0 : gug * crs;
        /* ce = inf has u = c1 > 0: the loss is inf even if u^gamma underflowed */
        const FL_T cu = ce == (FL_T)INFINITY ? ce : ug * ce;
        *g = FL_EW_RND(aug * dce) + FL_EW_RND(at * gterm);
        return FL_EW_RND(at == 0 ? 0 : at * cu);
    }
}

/* Hard target (y = 0 or 1), gamma = 2: the hard branch of ew_focal_one with u^2
 * directly for u^gamma (no exp; it underflows where exp(2 log u) does, gradually
 * instead of at once), and the sign of 1 - 2y applied once at the end:
 *   loss = a u^2 ce,   d/dx = +-a u^2 (u + 2 ce r)   (- for y = 1)
 * Every factor is finite (ce = inf only with r = 0, hence cr = 0), and no product
 * feeds a sum, so nothing to round apart; the loss is inf where ce is (u = 1
 * there). nz: alpha is neither 0 nor 1 (or < 0), so a is never 0 and the loss
 * needs no guard against 0 * inf. */
FL_INLINE FL_T FL_FN(ew_focal_hard2)(FL_T x, FL_T y, const FL_FN(fl_ew_ctx) * cx,
                                     FL_T *g, const int nz)
{
    const FL_T alpha = cx->p0;
    const FL_T a1 = alpha < 0 ? 1 : alpha, a0 = alpha < 0 ? 1 : 1 - alpha;
    const FL_FN(ew_sig) sp = FL_FN(ew_sig_parts)(x);
    const int one = y == 1;
    const int wrong = (x >= 0) != one;
    const FL_T u = wrong ? sp.inv : sp.einv;
    const FL_T r = wrong ? sp.einv : sp.inv;
    const FL_T ce = wrong ? sp.lp + sp.ax : sp.lp;
    const FL_T at = one ? a1 : a0;
    const FL_T aug = at * FL_EW_RND(u * u);
    /* ce = inf (x = +-inf on the wrong side) comes with r = 0: that term is 0 */
    const FL_T cr = r == 0 ? 0 : ce * r;
    const FL_T gm = aug * (u + (cr + cr));
    *g = one ? 0 - gm : gm;
    return FL_EW_RND(nz || at != 0 ? aug * ce : 0);
}

/* Any target: the hard-target form where y is 0 or 1 (u^2 for gamma = 2 there, as
 * in the hard-target-only blocks), the general one elsewhere, so an element gets the
 * same bits whichever kind of block it sits in. */
FL_INLINE FL_T FL_FN(ew_sigmoid_focal)(FL_T x, FL_T y, FL_T pw,
                                       const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    FL_T gh, gs;
    const FL_T lh = cx->p1 == 2 ? FL_FN(ew_focal_hard2)(x, y, cx, &gh, 0)
                                : FL_FN(ew_focal_one)(x, y, cx, &gh, 1);
    const FL_T ls = FL_FN(ew_focal_one)(x, y, cx, &gs, 0);
    const int hard = y == 0 || y == 1;
    (void)pw;
    *g = hard ? gh : gs;
    return hard ? lh : ls;
}

/* Blocks whose targets are all 0 or 1 (the usual case): the hard-target form only,
 * here for gamma other than 2 (gamma = 2, the default: ew_sigmoid_focal_hard2). */
FL_INLINE FL_T FL_FN(ew_sigmoid_focal_hard)(FL_T x, FL_T y, FL_T pw,
                                            const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    (void)pw;
    return FL_FN(ew_focal_one)(x, y, cx, g, 1);
}

/* Blocks with no target 0 or 1: the general form only. */
FL_INLINE FL_T FL_FN(ew_sigmoid_focal_soft)(FL_T x, FL_T y, FL_T pw,
                                            const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    (void)pw;
    return FL_FN(ew_focal_one)(x, y, cx, g, 0);
}

FL_INLINE FL_T FL_FN(ew_sigmoid_focal_hard2)(FL_T x, FL_T y, FL_T pw,
                                             const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    (void)pw;
    return FL_FN(ew_focal_hard2)(x, y, cx, g, 0);
}

/* ... and alpha neither 0 nor 1 (the default 0.25, or none) */
FL_INLINE FL_T FL_FN(ew_sigmoid_focal_hard2nz)(FL_T x, FL_T y, FL_T pw,
                                               const FL_FN(fl_ew_ctx) * cx, FL_T *g)
{
    (void)pw;
    return FL_FN(ew_focal_hard2)(x, y, cx, g, 1);
}
