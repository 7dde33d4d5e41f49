/* Softmax cross-entropy: instantiations per dtype and SIMD path, and the entry points
 * that dispatch between them at run time. The kernel body is fl_softmax_ce_impl.h. */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_softmax_ce.h"

/* Baseline path: whatever the compiler targets by default (SSE2 on x86-64). */
#define FL_PATH base
#include "fl_math_impl.h"
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_base
#include "fl_softmax_ce_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_base
#include "fl_softmax_ce_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_PATH

#if FL_HAVE_AVX2_PATH
/* AVX2 + FMA path: the same source compiled for x86-64-v3 function by function. */
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#include "fl_math_impl.h"
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_avx2
#include "fl_softmax_ce_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_avx2
#include "fl_softmax_ce_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_PATH
#pragma GCC pop_options
#define FL_PICK(name, ts) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : FL_CAT3(name, ts, base))
#else
#define FL_PICK(name, ts) FL_CAT3(name, ts, base)
#endif

int fl_sce_f32(const fl_sce_args *args, int n_threads, double *loss_sum)
{
    return FL_PICK(fl_sce_run, f32)(args, n_threads, loss_sum);
}

int fl_sce_f64(const fl_sce_args *args, int n_threads, double *loss_sum)
{
    return FL_PICK(fl_sce_run, f64)(args, n_threads, loss_sum);
}

/* Target validation and the "mean" normaliser, in row order (serial: O(n) reads of
 * an int64 array, small next to the n*c kernel). */
#define FL_CHECK_TARGETS(T)                                                          \
    {                                                                                \
        double d = 0.0;                                                              \
        int64_t i;                                                                   \
        for (i = 0; i < n; i++) {                                                    \
            const int64_t t = target[i];                                             \
            if (t == ignore_index)                                                   \
                continue;                                                            \
            if (t < 0 || t >= c)                                                     \
                return i;                                                            \
            d += (sample_weight ? (double)sample_weight[i] : 1.0)                    \
                 * (weight ? (double)weight[t] : 1.0);                               \
        }                                                                            \
        *denominator = d;                                                            \
        return -1;                                                                   \
    }

int64_t fl_sce_check_targets_f32(const int64_t *target, int64_t n, int64_t c,
                                 int64_t ignore_index, const float *weight,
                                 const float *sample_weight, double *denominator)
FL_CHECK_TARGETS(float)

int64_t fl_sce_check_targets_f64(const int64_t *target, int64_t n, int64_t c,
                                 int64_t ignore_index, const double *weight,
                                 const double *sample_weight, double *denominator)
FL_CHECK_TARGETS(double)

void fl_vexp_f32(const float *x, float *out, int64_t n)
{
    FL_PICK(fl_vexp, f32)(x, out, n);
}

void fl_vexp_f64(const double *x, double *out, int64_t n)
{
    FL_PICK(fl_vexp, f64)(x, out, n);
}
