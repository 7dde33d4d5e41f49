/* Gradient-boosting objectives: the entry points, which pick at run time the
 * instance of the SIMD path in use (fl_objectives_base.c, _avx2.c, _avx512.c; the
 * kernel body is fl_objectives_impl.h). */
#include "fl_dispatch.h"
#include "fl_objectives.h"

int fl_obj_f32(fl_obj_args *args, int n_threads)
{
    return FL_PICK(fl_obj_run, f32)(args, n_threads);
}

int fl_obj_f64(fl_obj_args *args, int n_threads)
{
    return FL_PICK(fl_obj_run, f64)(args, n_threads);
}

const char *fl_obj_kind_name(int kind)
{
    static const char *const names[] = {
#define FL_OBJ_NAME(kind) #kind,
        FL_OBJ_KINDS(FL_OBJ_NAME)
#undef FL_OBJ_NAME
    };
    return kind >= 0 && kind < FL_OBJ_COUNT ? names[kind] : NULL;
}
