/* Row-wise losses: the entry points, which pick at run time the instance of the SIMD
 * path in use (fl_rowwise_base.c, _avx2.c, _avx512.c). The kernel bodies are
 * fl_rowwise_impl.h (driver, threads, reduction), fl_rw_softmax.h (focal, KL),
 * fl_rw_triplet.h (triplet), fl_rw_pair.h (cosine, Dice, Tversky),
 * fl_rw_circle.h (circle) and fl_rw_categorical.h (categorical hinge, GCE). */
#include "fl_dispatch.h"
#include "fl_rowwise.h"

int fl_rw_f32(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f32)(args, n_threads);
}

int fl_rw_f64(fl_rw_args *args, int n_threads)
{
    return FL_PICK(fl_rw_run, f64)(args, n_threads);
}
