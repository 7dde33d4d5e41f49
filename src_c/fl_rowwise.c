/* Row-wise losses: instantiations per dtype and SIMD path, and the entry points that
 * dispatch between them at run time. The kernel bodies are fl_rowwise_impl.h (driver,
 * threads, reduction), fl_rw_softmax.h (focal, KL) and fl_rw_triplet.h (triplet). */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_rowwise.h"

/* Baseline path: whatever the compiler targets by default (SSE2 on x86-64). */
#define FL_PATH base
#include "fl_math_impl.h"
#define FL_DEXP fl_exp_base
#define FL_DLOG fl_log_base
#define FL_DLOG1P fl_log1p_base
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_base
#define FL_TLOG fl_logf_base
#include "fl_rowwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_base
#define FL_TLOG fl_log_base
#include "fl_rowwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_DEXP
#undef FL_DLOG
#undef FL_DLOG1P
#undef FL_PATH

#if FL_HAVE_AVX2_PATH
/* AVX2 + FMA path: the same source compiled for x86-64-v3 function by function. */
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#include "fl_math_impl.h"
#define FL_DEXP fl_exp_avx2
#define FL_DLOG fl_log_avx2
#define FL_DLOG1P fl_log1p_avx2
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_avx2
#define FL_TLOG fl_logf_avx2
#include "fl_rowwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_avx2
#define FL_TLOG fl_log_avx2
#include "fl_rowwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_DEXP
#undef FL_DLOG
#undef FL_DLOG1P
#undef FL_PATH
#pragma GCC pop_options
#define FL_PICK(name, ts) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : FL_CAT3(name, ts, base))
#else
#define FL_PICK(name, ts) FL_CAT3(name, ts, base)
#endif

int fl_rw_f32(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f32)(args, n_threads);
}

int fl_rw_f64(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f64)(args, n_threads);
}
