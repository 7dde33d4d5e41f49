/* Optimizer step bodies; included once per (dtype, SIMD path) by fl_instance.h,
 * which defines FL_T, FL_TS and FL_PATH. No include guard on purpose. */

#ifndef FL_OPTIM_NO_CONTRACT
#define FL_OPTIM_NO_CONTRACT
/* No multiply-add fusion (the build's -ffp-contract=fast would fuse on the AVX2 and
 * AVX-512 paths and on FMA baselines such as aarch64): the loops are bound by
 * memory, not arithmetic, and unfused every path gives the NumPy reference's bits.
 * GCC takes its own pragma; clang honours its pragma under -ffp-contract=on but not
 * =fast (clang 14), so a clang build on FMA hardware (macOS arm64) may still fuse:
 * within an ulp per operation of the reference there. For the rest of the
 * translation unit, which holds nothing else (fl_optim_<path>.c). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#else
#pragma clang fp contract(off)
#endif
#endif

#define FL_FN(name) FL_CAT3(name, FL_TS, FL_PATH)

/* Elements [k0, k1) of an Adam step. Each line is one NumPy operation of the
 * reference, in its order, so no rounding differs (FMA contraction aside). */
FL_INLINE void FL_FN(adam_block)(FL_T *restrict p, const FL_T *restrict g,
                                 FL_T *restrict m, FL_T *restrict v, int64_t k0,
                                 int64_t k1, const fl_adam_coef *c, const int decay)
{
    const FL_T d = (FL_T)c->decay, b1 = (FL_T)c->b1, b2 = (FL_T)c->b2;
    /* 1 - b1 and 1 - b2 rounded from double, as the reference's scalars are */
    const FL_T c1 = (FL_T)(1.0 - c->b1), c2 = (FL_T)(1.0 - c->b2);
    const FL_T sbc2 = (FL_T)c->sqrt_bc2, eps = (FL_T)c->eps, step = (FL_T)c->step;
    const FL_T tiny = sizeof(FL_T) == sizeof(float) ? (FL_T)FLT_MIN : (FL_T)DBL_MIN;
    int64_t k;
#pragma omp simd
    for (k = k0; k < k1; k++) {
        const FL_T gk = g[k];
        const FL_T mk0 = m[k] * b1 + gk * c1;
        const FL_T vk0 = v[k] * b2 + (gk * gk) * c2;
        /* Moments below the smallest normal number are stored as 0: a unit whose
         * gradient stays 0 (a dead ReLU) decays m geometrically into subnormals,
         * which x86 computes ~100x slower (measured: the step went from 17% to 70%
         * of an epoch), while they move p by under lr * 1e-38. */
        const FL_T mk = (mk0 < tiny && mk0 > -tiny) ? (FL_T)0 : mk0;
        const FL_T vk = vk0 < tiny ? (FL_T)0 : vk0;
        /* sqrt(v) / sqrt(bc2), not sqrt(v / bc2): PyTorch's order of operations */
        const FL_T den = (FL_T)sqrt(vk) / sbc2 + eps;
        const FL_T pk = decay ? p[k] * d : p[k];
        m[k] = mk;
        v[k] = vk;
        p[k] = pk - (mk / den) * step;
    }
}

FL_INLINE void FL_FN(sgd_block)(FL_T *restrict p, const FL_T *restrict g,
                                FL_T *restrict buf, int64_t k0, int64_t k1, FL_T lr,
                                FL_T mu, const int mode)
{
    int64_t k;
    if (mode == 0) {
#pragma omp simd
        for (k = k0; k < k1; k++)
            p[k] = p[k] - g[k] * lr;
    } else if (mode == 1) {
#pragma omp simd
        for (k = k0; k < k1; k++) {
            const FL_T bk = buf[k] * mu + g[k];
            buf[k] = bk;
            p[k] = p[k] - bk * lr;
        }
    } else {
#pragma omp simd
        for (k = k0; k < k1; k++) {
            const FL_T gk = g[k];
            const FL_T bk = buf[k] * mu + gk;
            buf[k] = bk;
            p[k] = p[k] - (bk * mu + gk) * lr;
        }
    }
}

/* Blocks of FL_CHUNK elements, whatever the thread count: an element lands in the
 * same place of the same block's loop (vector body or remainder) on 1 thread or
 * many, so FMA contraction, if any, is the same too. */
void FL_FN(fl_adam_run)(FL_T *p, const FL_T *g, FL_T *m, FL_T *v, int64_t n,
                               const fl_adam_coef *c, int n_threads)
{
    const int64_t nb = (n + FL_CHUNK - 1) / FL_CHUNK;
    const int decay = c->decay != 1.0;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t b;
    if (n <= 0)
        return;
#if FL_HAVE_OPENMP
    if (n < FL_PARALLEL_MIN)
        nt = 1;
    if (nt > nb)
        nt = (int)nb;
#else
    nt = 1;
#endif
    /* the decay branch is a constant inside each instantiated block loop */
    if (nt > 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (b = 0; b < nb; b++) {
            const int64_t k1 = (b + 1) * FL_CHUNK < n ? (b + 1) * FL_CHUNK : n;
            if (decay)
                FL_FN(adam_block)(p, g, m, v, b * FL_CHUNK, k1, c, 1);
            else
                FL_FN(adam_block)(p, g, m, v, b * FL_CHUNK, k1, c, 0);
        }
    } else {
        for (b = 0; b < nb; b++) {
            const int64_t k1 = (b + 1) * FL_CHUNK < n ? (b + 1) * FL_CHUNK : n;
            if (decay)
                FL_FN(adam_block)(p, g, m, v, b * FL_CHUNK, k1, c, 1);
            else
                FL_FN(adam_block)(p, g, m, v, b * FL_CHUNK, k1, c, 0);
        }
    }
}

void FL_FN(fl_sgd_run)(FL_T *p, const FL_T *g, FL_T *buf, int64_t n, double lr,
                              double momentum, int nesterov, int n_threads)
{
    const int64_t nb = (n + FL_CHUNK - 1) / FL_CHUNK;
    const int mode = (buf == NULL || momentum == 0.0) ? 0 : nesterov ? 2 : 1;
    const FL_T tlr = (FL_T)lr, mu = (FL_T)momentum;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t b;
    if (n <= 0)
        return;
#if FL_HAVE_OPENMP
    if (n < FL_PARALLEL_MIN)
        nt = 1;
    if (nt > nb)
        nt = (int)nb;
#else
    nt = 1;
#endif
#define FL_SGD_BLOCK(b)                                                              \
    do {                                                                             \
        const int64_t k0_ = (b) * FL_CHUNK;                                          \
        const int64_t k1_ = k0_ + FL_CHUNK < n ? k0_ + FL_CHUNK : n;                 \
        if (mode == 0)                                                               \
            FL_FN(sgd_block)(p, g, buf, k0_, k1_, tlr, mu, 0);                       \
        else if (mode == 1)                                                          \
            FL_FN(sgd_block)(p, g, buf, k0_, k1_, tlr, mu, 1);                       \
        else                                                                         \
            FL_FN(sgd_block)(p, g, buf, k0_, k1_, tlr, mu, 2);                       \
    } while (0)
    if (nt > 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (b = 0; b < nb; b++)
            FL_SGD_BLOCK(b);
    } else {
        for (b = 0; b < nb; b++)
            FL_SGD_BLOCK(b);
    }
#undef FL_SGD_BLOCK
}

#undef FL_FN
