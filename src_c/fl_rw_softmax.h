/* Softmax-type row kinds (focal, KL with teacher logits, KL with teacher
 * probabilities), included by fl_rowwise_impl.h inside each (dtype, SIMD path)
 * instantiation. No include guard on purpose.
 *
 * Every kind runs the three sweeps of the softmax cross-entropy kernel over a row
 * (all sums in float64):
 *   sweep 1  the row maximum (and the teacher's, KL)     reads the row into cache
 *   sweep 2  e_c = exp(x_c - m) stored into grad, summed  exp computed once per entry
 *   sweep 3  grad_c = ca e_c - (teacher term)            rescaled in place, in cache
 * A long row is processed as fixed FL_CHUNK chunks whose partials are added in chunk
 * order, by one thread or split across threads with the same bits.
 *
 * Focal, for a row x with target y, q = softmax(x), m = max x:
 *   d  = m - x_y >= 0,  e_y = exp(-d),  S_o = sum_{c != y} exp(x_c - m),  S = e_y + S_o
 *   q_y = e_y / S,  u = 1 - q_y = S_o / S       (S_o summed directly: no 1 - q_y
 *                                                cancellation as q_y -> 1)
 *   nu = -log q_y = log1p(S_o / e_y) when d < 1 (accurate as q_y -> 1, where
 *        d + log S would lose S_o to the rounding of S), else d + log S (e_y >= e^-1
 *        in the first form, so no overflow; q_y <= e^-1 in the second, so no loss)
 *   loss = alpha_y u^gamma nu             (log q_y is x_y - lse, never log(q))
 * Gradient: with f(q) = -(1 - q)^gamma log q and dq_y/dx_c = q_y ([c == y] - q_c),
 *   dl/dx_c = alpha_y f'(q_y) q_y ([c == y] - q_c),
 *   q f'(q) = gamma q (1 - q)^(gamma - 1) log q - (1 - q)^gamma = -K,
 *   K = u^gamma + gamma q_y nu u^(gamma - 1) = u^gamma (1 + gamma q_y rho),
 *   rho = nu / u,
 * so dl/dx_c = alpha_y K (q_c - [c == y]), the cross-entropy gradient scaled by K.
 * rho -> 1 as u -> 0 (nu = -log1p(-u)), so K -> 0 like (1 + gamma) u^gamma for any
 * gamma > 0 and K = 1 at gamma = 0: no u^(gamma - 1) blow-up for gamma < 1. rho is
 * taken as its limit 1 when u == 0 exactly, and q_y rho as 0 when q_y == 0 (a target
 * at -inf: nu = inf). The target entry is written as -alpha_y K u directly rather than
 * K q_y - K, which would cancel as q_y -> 1.
 *
 * KL, teacher logits t, student logits s, temperature T, P = softmax(t/T),
 * Q = softmax(s/T), a_c = (s_c - m_s)/T, b_c = (t_c - m_t)/T, A = exp(a), B = exp(b):
 *   KL(P||Q) = sum_c P_c (log P_c - log Q_c)
 *            = (1/T) sum_c B_c ((t_c - m_t) - (s_c - m_s)) / sum B
 *              + log sum A - log sum B
 *   (differences of logits formed in float64; a term with B_c == 0 is 0 even where
 *   s_c = -inf). Row loss T^2 KL;
 *   d/ds_c = T (Q_c - P_c) = T (A_c / sum A - B_c / sum B).
 *   Sweep 3 recomputes B_c (one more exp) instead of keeping a second row buffer.
 * KL, teacher probabilities p (used as given):
 *   KL = sum_{p_c > 0} p_c (log p_c - a_c) + (sum p) log sum A,
 *   d/ds_c = T ((sum p) Q_c - p_c); a term with p_c == 0 is 0 even where s_c = -inf. */

/* log of a probability p >= 0 in the dtype, subnormals included (the vector log
 * expects normal input: a subnormal is scaled up by 2^24 / 2^54 first). */
FL_INLINE FL_T FL_FN(rw_tlog)(FL_T p)
{
    const FL_T tiny = (FL_T)(sizeof(FL_T) == 4 ? 1.1754943508222875e-38
                                               : 2.2250738585072014e-308);
    const FL_T up = (FL_T)(sizeof(FL_T) == 4 ? 16777216.0 : 18014398509481984.0);
    const FL_T lup = (FL_T)(sizeof(FL_T) == 4 ? 24 * 0.69314718055994531
                                              : 54 * 0.69314718055994531);
    const int sub = p < tiny;
    return FL_TLOG(sub ? p * up : p) - (sub ? lup : 0);
}

/* log t for t >= 0 (0 -> -inf) in float64, subnormals included (scaled by 2^54
 * first). */
FL_INLINE double FL_FN(rw_dlog)(double t)
{
    const int sub = t < 2.2250738585072014e-308;
    return FL_DLOG(sub ? t * 18014398509481984.0 : t)
           - (sub ? 54 * 0.69314718055994531 : 0.0);
}

/* ---- sweep 2 bodies (`store` is a constant at every call site) ------------------
 * Sums run over FL_RW_LANES interleaved float64 partial sums (entry k0 + j of a
 * group goes to lane j), combined pairwise at the end. The order of every addition
 * is fixed by the source rather than by the vectoriser's choice of width and
 * unrolling, so the forward-only variant (no store) and the fused one give the same
 * bits. A tail shorter than a group goes to the first lanes, entry by entry, in one
 * out-of-line function per kind that writes no caller memory but its own lanes and
 * a local copy of the stored values: inlined, the compiler would vectorise the tail
 * in some variants and not others (and version it on aliasing, so in place could
 * differ from not), changing the contraction of its multiply-adds. (A padded copy
 * of the tail, or an overlapping last group, measured slower on short rows.)
 * A group is 16 floats on the avx512 path (one vector; focal and KL rows 1.3x
 * faster than with groups of 8 there), else 8 entries. */
#undef FL_RW_LANES
#if FL_PATH_VBYTES == 64 && !FL_F64
#define FL_RW_LANES 16
#else
#define FL_RW_LANES 8
#endif

/* The lanes added pairwise, neighbours first: ((v0 + v1) + (v2 + v3)) + ... */
FL_INLINE double FL_FN(lanes_total)(const double *v)
{
    double t[FL_RW_LANES];
    int n, j;
    for (j = 0; j < FL_RW_LANES; j++)
        t[j] = v[j];
    for (n = FL_RW_LANES / 2; n >= 1; n /= 2)
        for (j = 0; j < n; j++)
            t[j] = t[2 * j] + t[2 * j + 1];
    return t[0];
}

/* Lane of the entry `y` in the group starting at k0, or -1. */
FL_INLINE int FL_FN(lane_of)(int64_t y, int64_t k0)
{
    return y >= k0 && y < k0 + FL_RW_LANES ? (int)(y - k0) : -1;
}

/* Entry j of a group: e = exp(x_j - m) -> g (storing); s_j += e except at lane
 * `skip` (an int compare: 64-bit integer compares do not vectorise on baseline
 * SSE2). */
FL_INLINE void FL_FN(exp_elem)(const FL_T *x, FL_T *g, int j, FL_T m, int skip,
                               double *s, const int store)
{
    const FL_T e = FL_EXP(x[j] - m);
    const double add = j == skip ? 0.0 : (double)e;
    if (store)
        g[j] = e;
    s[j] += add;
}

#if FL_PATH_VBYTES != 32 /* AVX2 sums focal rows in fl_sm_avx2.h */
/* The tail of exp_sum: entries [0, rem), rem < FL_RW_LANES; e -> eb. */
FL_NOINLINE void FL_FN(exp_tail)(const FL_T *x, FL_T *eb, int rem, FL_T m, int skip,
                                 double *s)
{
    int j;
    for (j = 0; j < rem; j++)
        FL_FN(exp_elem)(x, eb, j, m, skip, s, 1);
}
#endif

/* *acc += sum_{k != y} exp(x_k - m) over [0, len) (y may lie outside: nothing is
 * left out); e_k -> g when storing. */
FL_INLINE void FL_FN(exp_sum)(const FL_T *x, FL_T *g, int64_t len, FL_T m, int64_t y,
                              double *acc, const int store)
{
#if FL_PATH_VBYTES == 32
    /* AVX2: the engine's hand-vectorised exp-sum (fl_sm_avx2.h) on either side of
     * the target, which is left out (its entry is stored as 0: sm_end writes it) */
    if (y >= 0 && y < len) {
        double left = FL_FN(sm_expsum_avx2)(x, g, y, m, store);
        *acc += left + FL_FN(sm_expsum_avx2)(x + y + 1, store ? g + y + 1 : g,
                                              len - y - 1, m, store);
        if (store)
            g[y] = 0;
    } else {
        *acc += FL_FN(sm_expsum_avx2)(x, g, len, m, store);
    }
#else
    double s[FL_RW_LANES] = {0.0};
    int64_t k0;
    int j;
    for (k0 = 0; k0 + FL_RW_LANES <= len; k0 += FL_RW_LANES) {
        FL_T *gk = store ? g + k0 : g;
        const int skip = FL_FN(lane_of)(y, k0);
#pragma omp simd
        for (j = 0; j < FL_RW_LANES; j++)
            FL_FN(exp_elem)(x + k0, gk, j, m, skip, s, store);
    }
    if (k0 < len) {
        FL_T eb[FL_RW_LANES];
        FL_FN(exp_tail)(x + k0, eb, (int)(len - k0), m, FL_FN(lane_of)(y, k0), s);
        if (store)
            for (j = 0; j < (int)(len - k0); j++)
                g[k0 + j] = eb[j];
    }
    *acc += FL_FN(lanes_total)(s);
#endif
}

/* Entry j of a KL group: A = exp((s - m_s) / T) (-> g), B = exp((t - m_t) / T),
 * and B ((t - m_t) - (s - m_s)), T (log P - log Q) up to row constants, in float64
 * so logits of 1e30 lose nothing to cancellation against their maxima; 0 where
 * B == 0 (a masked teacher class, even facing a -inf student logit). */
FL_INLINE void FL_FN(kl_elem)(const FL_T *s, const FL_T *t, FL_T *g, int j, FL_T ms,
                              FL_T mt, FL_T it, double msd, double mtd, double *sa,
                              double *sb, double *acc, const int store)
{
    const FL_T sk = s[j], tk = t[j];
    const FL_T ea = FL_EXP((sk - ms) * it);
    const FL_T eb = FL_EXP((tk - mt) * it);
    const double dl = ((double)tk - mtd) - ((double)sk - msd);
    const double term = (double)eb * dl;
    const double add = eb == 0 ? 0.0 : term; /* a select: both sides computed */
    if (store)
        g[j] = ea;
    sa[j] += (double)ea;
    sb[j] += (double)eb;
    acc[j] += add;
}

#if FL_PATH_VBYTES != 32 /* AVX2: fl_sm_avx2.h */
/* The tail of kl_sum (as exp_tail). */
FL_NOINLINE void FL_FN(kl_tail)(const FL_T *s, const FL_T *t, FL_T *eb, int rem,
                                FL_T ms, FL_T mt, FL_T it, double *sa, double *sb,
                                double *acc)
{
    int j;
    for (j = 0; j < rem; j++)
        FL_FN(kl_elem)(s, t, eb, j, ms, mt, it, (double)ms, (double)mt, sa, sb, acc, 1);
}
#endif

FL_INLINE void FL_FN(kl_sum)(const FL_T *s, const FL_T *t, FL_T *g, int64_t len,
                             FL_T ms, FL_T mt, FL_T it, double *part, const int store)
{
#if FL_PATH_VBYTES == 32
    FL_FN(sm_klsum_avx2)(s, t, g, len, ms, mt, it, part, store); /* fl_sm_avx2.h */
#else
    const double msd = (double)ms, mtd = (double)mt;
    double sa[FL_RW_LANES] = {0.0};
    double sb[FL_RW_LANES] = {0.0};
    double acc[FL_RW_LANES] = {0.0};
    int64_t k0;
    int j;
    for (k0 = 0; k0 + FL_RW_LANES <= len; k0 += FL_RW_LANES) {
        FL_T *gk = store ? g + k0 : g;
#pragma omp simd
        for (j = 0; j < FL_RW_LANES; j++)
            FL_FN(kl_elem)(s + k0, t + k0, gk, j, ms, mt, it, msd, mtd, sa, sb, acc,
                           store);
    }
    if (k0 < len) {
        FL_T eb[FL_RW_LANES];
        FL_FN(kl_tail)(s + k0, t + k0, eb, (int)(len - k0), ms, mt, it, sa, sb, acc);
        if (store)
            for (j = 0; j < (int)(len - k0); j++)
                g[k0 + j] = eb[j];
    }
    part[0] += FL_FN(lanes_total)(sa);
    part[1] += FL_FN(lanes_total)(sb);
    part[2] += FL_FN(lanes_total)(acc);
#endif
}

/* Entry j of a KL group against probabilities: A = exp((s - m_s) / T) (-> g), p,
 * and p (log p - (s - m_s) / T) with (m_s - s) >= 0 formed in float64; 0 where
 * p == 0 (even facing a -inf student logit). */
FL_INLINE void FL_FN(klp_elem)(const FL_T *s, const FL_T *p, FL_T *g, int j, FL_T ms,
                               FL_T it, double itd, double msd, double *sa, double *ps,
                               double *h, const int store)
{
    const FL_T sk = s[j], pk = p[j];
    const FL_T ea = FL_EXP((sk - ms) * it);
    const double term =
        (double)pk * ((double)FL_FN(rw_tlog)(pk) + itd * (msd - (double)sk));
    const double add = pk == 0 ? 0.0 : term; /* a select: both sides computed */
    if (store)
        g[j] = ea;
    sa[j] += (double)ea;
    ps[j] += (double)pk;
    h[j] += add;
}

/* The tail of klp_sum (as exp_tail). */
FL_NOINLINE void FL_FN(klp_tail)(const FL_T *s, const FL_T *p, FL_T *eb, int rem,
                                 FL_T ms, FL_T it, double itd, double *sa, double *ps,
                                 double *h)
{
    int j;
    for (j = 0; j < rem; j++)
        FL_FN(klp_elem)(s, p, eb, j, ms, it, itd, (double)ms, sa, ps, h, 1);
}

FL_INLINE void FL_FN(klp_sum)(const FL_T *s, const FL_T *p, FL_T *g, int64_t len,
                              FL_T ms, FL_T it, double itd, double *part,
                              const int store)
{
    const double msd = (double)ms;
    double sa[FL_RW_LANES] = {0.0};
    double ps[FL_RW_LANES] = {0.0};
    double h[FL_RW_LANES] = {0.0};
    int64_t k0;
    int j;
    for (k0 = 0; k0 + FL_RW_LANES <= len; k0 += FL_RW_LANES) {
        FL_T *gk = store ? g + k0 : g;
#pragma omp simd
        for (j = 0; j < FL_RW_LANES; j++)
            FL_FN(klp_elem)(s + k0, p + k0, gk, j, ms, it, itd, msd, sa, ps, h, store);
    }
    if (k0 < len) {
        FL_T eb[FL_RW_LANES];
        FL_FN(klp_tail)(s + k0, p + k0, eb, (int)(len - k0), ms, it, itd, sa, ps, h);
        if (store)
            for (j = 0; j < (int)(len - k0); j++)
                g[k0 + j] = eb[j];
    }
    part[0] += FL_FN(lanes_total)(sa);
    part[1] += FL_FN(lanes_total)(ps);
    part[2] += FL_FN(lanes_total)(h);
}

/* ---- the sweeps of one row or chunk (the row state is the engine's sm_row) ----- */

FL_INLINE void FL_FN(sm_sweep_max)(const FL_FN(rw_ctx) * cx, const int kind,
                                   const FL_FN(sm_row) * r, int64_t k0, int64_t len,
                                   FL_T *m)
{
    (void)cx;
    m[0] = FL_FN(sm_max)(r->x + k0, len);
    m[1] = kind == FL_RW_KL_LOGITS ? FL_FN(sm_max)(r->x2 + k0, len) : -(FL_T)INFINITY;
}

FL_INLINE void FL_FN(sm_sweep_sum)(const FL_FN(rw_ctx) * cx, const int kind,
                                   const FL_FN(sm_row) * r, int64_t k0, int64_t len,
                                   double *part)
{
    FL_T *g = r->g ? r->g + k0 : NULL;
    if (kind == FL_RW_FOCAL) {
        /* sum_{k != y} exp(x_k - m): the target left out by a lane mask */
        if (g)
            FL_FN(exp_sum)(r->x + k0, g, len, r->m1, r->y - k0, part, 1);
        else
            FL_FN(exp_sum)(r->x + k0, g, len, r->m1, r->y - k0, part, 0);
    } else if (kind == FL_RW_KL_LOGITS) {
        if (g)
            FL_FN(kl_sum)(r->x + k0, r->x2 + k0, g, len, r->m1, r->m2, cx->it, part, 1);
        else
            FL_FN(kl_sum)(r->x + k0, r->x2 + k0, g, len, r->m1, r->m2, cx->it, part, 0);
    } else {
        if (g)
            FL_FN(klp_sum)(r->x + k0, r->x2 + k0, g, len, r->m1, cx->it, cx->inv_temp,
                           part, 1);
        else
            FL_FN(klp_sum)(r->x + k0, r->x2 + k0, g, len, r->m1, cx->it, cx->inv_temp,
                           part, 0);
    }
}

FL_INLINE void FL_FN(sm_sweep_grad)(const FL_FN(rw_ctx) * cx, const int kind,
                                    const FL_FN(sm_row) * r, int64_t k0, int64_t len)
{
    FL_T *g = r->g + k0;
    const FL_T *x2 = r->x2 ? r->x2 + k0 : NULL;
    const FL_T ca = r->ca, cb = r->cb;
    int64_t k;
    if (kind == FL_RW_FOCAL) {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = ca * g[k];
    } else if (kind == FL_RW_KL_LOGITS) {
        const FL_T mt = r->m2, it = cx->it;
#if FL_PATH_VBYTES == 32
        FL_FN(sm_klgrad_avx2)(g, x2, len, mt, it, ca, cb); /* fl_sm_avx2.h */
#else
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = ca * g[k] - cb * FL_EXP((x2[k] - mt) * it);
#endif
    } else {
#pragma omp simd
        for (k = 0; k < len; k++)
            g[k] = ca * g[k] - cb * x2[k];
    }
}

/* Sets up row i (the engine's hook); returns 0 for an ignored focal row. */
FL_INLINE int FL_FN(sm_start)(const FL_FN(rw_ctx) * cx, int64_t i, FL_FN(sm_row) * r)
{
    return FL_FN(sm_begin)(r, cx->x, cx->x2, cx->g,
                           cx->kind == FL_RW_FOCAL ? cx->y : NULL, cx->ignore_index,
                           cx->c, i);
}

/* After sweep 2: the row loss (times its sample weight) and the sweep-3
 * coefficients. Scalar float64 math once per row (formulas at the top), with the
 * kernels' own exp/log rather than libm's: cheaper on short rows, and no call into
 * SSE-encoded libm code from AVX code (a transition penalty on many x86 CPUs). */
FL_INLINE double FL_FN(sm_finish)(const FL_FN(rw_ctx) * cx, const int kind,
                                  int64_t i, FL_FN(sm_row) * r)
{
    const double swi = cx->sw ? (double)cx->sw[i] : 1.0;
    const double rs = FL_FN(sm_row_scale)(cx->den, swi);
    if (kind == FL_RW_FOCAL) {
        const double gamma = cx->gamma;
        const double aw = cx->cw ? (double)cx->cw[r->y] : 1.0;
        const double so = r->sums[0];
        const double d = (double)r->m1 - r->xy;
        const double ey = FL_DEXP(-d);
        const double s = ey + so;
        const double q = ey / s, u = so / s;
        const double nu = d < 1.0 ? FL_DLOG1P(so / ey) : d + FL_DLOG(s);
        const double pw = gamma == 0.0   ? 1.0
                          : gamma == 1.0 ? u
                          : gamma == 2.0 ? u * u
                                         : FL_DEXP(gamma * FL_FN(rw_dlog)(u));
        const double rho = u > 0.0 ? nu / u : 1.0;
        const double kk = pw * (1.0 + (q == 0.0 ? 0.0 : gamma * q * rho));
        r->ca = (FL_T)(rs * aw * kk / s);
        r->gy = -(rs * aw * kk) * u;
        return swi * aw * (pw * nu);
    } else if (kind == FL_RW_KL_LOGITS) {
        const double sa = r->sums[0], sb = r->sums[1], acc = r->sums[2];
        const double kl = acc * cx->inv_temp / sb + (FL_DLOG(sa) - FL_DLOG(sb));
        r->ca = (FL_T)(rs * cx->temp / sa);
        r->cb = (FL_T)(rs * cx->temp / sb);
        return swi * (cx->temp2 * kl);
    } else {
        const double sa = r->sums[0], ps = r->sums[1], h = r->sums[2];
        const double kl = h + ps * FL_DLOG(sa);
        r->ca = (FL_T)(rs * cx->temp * ps / sa);
        r->cb = (FL_T)(rs * cx->temp);
        return swi * (cx->temp2 * kl);
    }
}

/* The engine's hooks (fl_sm_driver.h) not defined above. */
#define FL_SM_CTX FL_FN(rw_ctx)
#define FL_SM_KIND(cx) ((cx)->kind)

/* Focal writes its target entry -alpha_y K u directly (see the top). */
FL_INLINE void FL_FN(sm_end)(const FL_SM_CTX *cx, const int kind, FL_FN(sm_row) * r)
{
    (void)cx;
    if (kind == FL_RW_FOCAL)
        r->g[r->y] = (FL_T)r->gy;
}
