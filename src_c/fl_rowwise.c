/* Row-wise losses: instantiations per dtype and SIMD path, and the entry points that
 * dispatch between them at run time. The kernel bodies are fl_rowwise_impl.h (driver,
 * threads, reduction), fl_rw_softmax.h (focal, KL) and fl_rw_triplet.h (triplet). */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_rowwise.h"

#define FL_IMPL "fl_rowwise_impl.h"
#include "fl_instances.h"

int fl_rw_f32(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f32)(args, n_threads);
}

int fl_rw_f64(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f64)(args, n_threads);
}
