/* Elementwise losses: instantiations per dtype and SIMD path, run-time dispatch. */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_elementwise.h"

/* acc + w * l for the weighted sums. gcc fuses a float64 w * l into the sum (FMA)
 * in some loop specialisations and not in others, so the avx2 float64 instance
 * fuses explicitly; elsewhere nothing can fuse (no FMA on the baseline path; a
 * float32 product converted to double cannot fuse into a double add). l is already
 * 0 where w == 0; the fused form needs the test itself (0 * inf). */
#define FL_WSUM(acc, w, l0, l) ((acc) + (double)(l))
#define FL_PATH base
#include "fl_math_impl.h"
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_base
#define FL_TLOG fl_logf_base
#define FL_TLOG1P fl_log1pf_base
#include "fl_elementwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_TLOG1P
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_base
#define FL_TLOG fl_log_base
#define FL_TLOG1P fl_log1p_base
#include "fl_elementwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_TLOG1P
#undef FL_PATH

#if FL_HAVE_AVX2_PATH
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#include "fl_math_impl.h"
#define FL_T float
#define FL_TS f32
#define FL_EXP fl_expf_avx2
#define FL_TLOG fl_logf_avx2
#define FL_TLOG1P fl_log1pf_avx2
#include "fl_elementwise_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_TLOG1P
#define FL_T double
#define FL_TS f64
#define FL_EXP fl_exp_avx2
#define FL_TLOG fl_log_avx2
#define FL_TLOG1P fl_log1p_avx2
#undef FL_WSUM
#define FL_WSUM(acc, w, l0, l) ((w) == 0 ? (acc) : __builtin_fma((w), (l0), (acc)))
#include "fl_elementwise_impl.h"
#undef FL_WSUM
#define FL_WSUM(acc, w, l0, l) ((acc) + (double)(l))
#undef FL_T
#undef FL_TS
#undef FL_EXP
#undef FL_TLOG
#undef FL_TLOG1P
#undef FL_PATH
#pragma GCC pop_options
#define FL_PICK(name, ts) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : FL_CAT3(name, ts, base))
#else
#define FL_PICK(name, ts) FL_CAT3(name, ts, base)
#endif

int fl_ew_f32(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f32)(args, n_threads);
}

int fl_ew_f64(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f64)(args, n_threads);
}
