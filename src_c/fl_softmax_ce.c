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
#define FL_LOG fl_log_base
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
#undef FL_LOG

#if FL_HAVE_AVX2_PATH
/* AVX2 + FMA path: the same source compiled for x86-64-v3 function by function. */
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#include "fl_math_impl.h"
#define FL_LOG fl_log_avx2
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
#undef FL_LOG
#pragma GCC pop_options
#define FL_PICK(name, ts) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : FL_CAT3(name, ts, base))
#else
#define FL_PICK(name, ts) FL_CAT3(name, ts, base)
#endif

int fl_sce_f32(fl_sce_args *args, int n_threads)
{
    return FL_PICK(fl_sce_run, f32)(args, n_threads);
}

int fl_sce_f64(fl_sce_args *args, int n_threads)
{
    return FL_PICK(fl_sce_run, f64)(args, n_threads);
}

void fl_vexp_f32(const float *x, float *out, int64_t n)
{
    FL_PICK(fl_vexp, f32)(x, out, n);
}

void fl_vexp_f64(const double *x, double *out, int64_t n)
{
    FL_PICK(fl_vexp, f64)(x, out, n);
}
