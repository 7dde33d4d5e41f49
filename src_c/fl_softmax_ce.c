/* Softmax cross-entropy: instantiations per dtype and SIMD path, and the entry points
 * that dispatch between them at run time. The kernel body is fl_softmax_ce_impl.h. */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_softmax_ce.h"

#define FL_IMPL "fl_softmax_ce_impl.h"
#include "fl_instances.h"

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
