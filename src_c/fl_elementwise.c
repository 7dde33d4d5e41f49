/* Elementwise losses: the entry points, which pick at run time the instance of the
 * SIMD path in use (fl_elementwise_<path>_<dtype>.c: base, avx2, avx512 x f32, f64). */
#include "fl_dispatch.h"
#include "fl_elementwise.h"

int fl_ew_f32(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f32)(args, n_threads);
}

int fl_ew_f64(fl_ew_args *args, int n_threads)
{
    return FL_PICK(fl_ew_run, f64)(args, n_threads);
}

const char *fl_ew_kind_name(int kind)
{
    static const char *const names[] = {
#define FL_EW_NAME(kind) #kind,
        FL_EW_PUBLIC_KINDS(FL_EW_NAME)
#undef FL_EW_NAME
    };
    return kind >= 0 && kind < FL_EW_COUNT ? names[kind] : NULL;
}
