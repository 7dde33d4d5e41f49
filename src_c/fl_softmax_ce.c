/* Softmax cross-entropy: the entry points, which pick at run time the instance of the
 * SIMD path in use (fl_softmax_ce_base.c, _avx2.c, _avx512.c). The kernel body is
 * fl_softmax_ce_impl.h. */
#include "fl_dispatch.h"
#include "fl_softmax_ce.h"

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
