/* Fused optimizer steps: instantiations per dtype and SIMD path, run-time dispatch. */
#include <float.h>
#include <math.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_optim.h"

/* No multiply-add fusion (the build's -ffp-contract=fast would fuse on the AVX2 path
 * and on FMA baselines such as aarch64): the loops are bound by memory, not
 * arithmetic, and unfused every path gives the NumPy reference's bits. GCC takes
 * its own pragma; clang honours its pragma under -ffp-contract=on but not =fast
 * (clang 14), so a clang build on FMA hardware (macOS arm64) may still fuse:
 * within an ulp per operation of the reference there. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#else
#pragma clang fp contract(off)
#endif

#define FL_PATH base
#define FL_T float
#define FL_TS f32
#include "fl_optim_impl.h"
#undef FL_T
#undef FL_TS
#define FL_T double
#define FL_TS f64
#include "fl_optim_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_PATH

#if FL_HAVE_AVX2_PATH
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#define FL_T float
#define FL_TS f32
#include "fl_optim_impl.h"
#undef FL_T
#undef FL_TS
#define FL_T double
#define FL_TS f64
#include "fl_optim_impl.h"
#undef FL_T
#undef FL_TS
#undef FL_PATH
#pragma GCC pop_options
#define FL_PICK(name, ts) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : FL_CAT3(name, ts, base))
#else
#define FL_PICK(name, ts) FL_CAT3(name, ts, base)
#endif

void fl_adam_f32(float *p, const float *g, float *m, float *v, int64_t n,
                 const fl_adam_coef *c, int n_threads)
{
    FL_PICK(fl_adam_run, f32)(p, g, m, v, n, c, n_threads);
}

void fl_adam_f64(double *p, const double *g, double *m, double *v, int64_t n,
                 const fl_adam_coef *c, int n_threads)
{
    FL_PICK(fl_adam_run, f64)(p, g, m, v, n, c, n_threads);
}

void fl_sgd_f32(float *p, const float *g, float *buf, int64_t n, double lr,
                double momentum, int nesterov, int n_threads)
{
    FL_PICK(fl_sgd_run, f32)(p, g, buf, n, lr, momentum, nesterov, n_threads);
}

void fl_sgd_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                double momentum, int nesterov, int n_threads)
{
    FL_PICK(fl_sgd_run, f64)(p, g, buf, n, lr, momentum, nesterov, n_threads);
}
