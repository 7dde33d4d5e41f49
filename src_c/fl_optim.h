/* Fused optimizer steps: one pass over a parameter buffer and its state per step.
 *
 * Every kernel updates contiguous 1-D buffers of n elements in place: params, the
 * moment buffers (m, v, or the momentum buffer) are read and written, grads only
 * read. The buffers must not overlap (the bindings check). The scalar coefficients
 * are computed once per step in double by the caller and rounded to the buffers'
 * type here, and each element goes through the same operations, in the same order,
 * as the NumPy reference (fastloss/nn/optimizers.py, `_update_numpy`): on a path
 * without FMA the result is the reference's bits. Elementwise, no reduction: the
 * result does not depend on the thread count. */
#ifndef FL_OPTIM_H
#define FL_OPTIM_H

#include "fl_common.h"

/* Adam / AdamW step (PyTorch's rule):
 *   p = p * decay                               (AdamW; skipped when decay == 1)
 *   m = b1 m + (1 - b1) g
 *   v = b2 v + (1 - b2) g g
 *   p = p - step * m / (sqrt(v) / sqrt_bc2 + eps)
 * with step = lr / (1 - b1^t), sqrt_bc2 = sqrt(1 - b2^t), decay = 1 - lr wd. */
typedef struct {
    double decay, b1, b2, sqrt_bc2, eps, step;
} fl_adam_coef;

void fl_adam_f32(float *p, const float *g, float *m, float *v, int64_t n,
                 const fl_adam_coef *c, int n_threads);
void fl_adam_f64(double *p, const double *g, double *m, double *v, int64_t n,
                 const fl_adam_coef *c, int n_threads);

/* SGD step (PyTorch's rule). buf == NULL (or momentum == 0): p = p - lr g.
 * Otherwise buf = momentum buf + g, then p = p - lr buf, or with nesterov
 * p = p - lr (momentum buf + g). */
void fl_sgd_f32(float *p, const float *g, float *buf, int64_t n, double lr,
                double momentum, int nesterov, int n_threads);
void fl_sgd_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                double momentum, int nesterov, int n_threads);

/* Their instances, one per dtype and SIMD path (fl_optim_<path>.c). */
#define FL_OPTIM_INSTANCE(ts, T, path)                                              \
    void FL_CAT3(fl_adam_run, ts, path)(T *, const T *, T *, T *, int64_t,          \
                                        const fl_adam_coef *, int);                 \
    void FL_CAT3(fl_sgd_run, ts, path)(T *, const T *, T *, int64_t, double, double, \
                                       int, int);
FL_FOR_EACH_INSTANCE(FL_OPTIM_INSTANCE)

#endif
