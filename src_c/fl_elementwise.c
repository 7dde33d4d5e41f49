/* Elementwise losses: instantiations per dtype and SIMD path, run-time dispatch. */
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"
#include "fl_elementwise.h"

#define FL_IMPL "fl_elementwise_impl.h"
#include "fl_instances.h"

int fl_ew_f32(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f32)(args, n_threads);
}

int fl_ew_f64(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f64)(args, n_threads);
}
