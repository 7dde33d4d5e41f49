/* Fused optimizer steps: the entry points, which pick at run time the instance of
 * the SIMD path in use (fl_optim_base.c, _avx2.c, _avx512.c). */
#include "fl_dispatch.h"
#include "fl_optim.h"

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
