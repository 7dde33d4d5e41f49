/* Fused optimizer steps: instantiations per dtype and SIMD path, run-time dispatch. */
#include <float.h>
#include <math.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_optim.h"

/* No multiply-add fusion (the build's -ffp-contract=fast would fuse on the AVX2 and
 * AVX-512 paths and on FMA baselines such as aarch64): the loops are bound by
 * memory, not arithmetic, and unfused every path gives the NumPy reference's bits.
 * GCC takes its own pragma; clang honours its pragma under -ffp-contract=on but not
 * =fast (clang 14), so a clang build on FMA hardware (macOS arm64) may still fuse:
 * within an ulp per operation of the reference there. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#else
#pragma clang fp contract(off)
#endif

#define FL_IMPL "fl_optim_impl.h"
#include "fl_instances.h"

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
