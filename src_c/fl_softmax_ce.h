/* Fused softmax cross-entropy: loss and gradient in one pass over the logits.
 *
 * Classes are the contiguous last axis: logits are n rows of c values. For each row
 * the kernel reads the logits once into cache (max), then computes e = exp(x - max)
 * once per element, storing it into the gradient buffer while summing it, and finally
 * rescales that buffer in place while the row is still in cache. No n*c temporary is
 * ever allocated; `grad` may be the logits buffer itself. */
#ifndef FL_SOFTMAX_CE_H
#define FL_SOFTMAX_CE_H

#include <stdint.h>

#include "fl_common.h"

typedef struct fl_sce_args {
    const void *logits;        /* IN  (n, c) float32 or float64, C order           */
    const int64_t *target;     /* IN  (n,) class indices, or NULL (soft targets)   */
    const void *prob;          /* IN  (n, c) target probabilities, or NULL         */
    const void *weight;        /* IN  (c,) class weights, or NULL                  */
    const void *sample_weight; /* IN  (n,) row weights, or NULL                    */
    void *grad;                /* OUT (n, c), or NULL (forward only); may == logits */
    void *loss_rows;           /* OUT (n,) per-row loss, or NULL                   */
    int64_t n;                 /* rows                                             */
    int64_t c;                 /* classes, >= 1                                    */
    int64_t ignore_index;      /* rows with this target: loss 0, gradient 0        */
    double label_smoothing;    /* in [0, 1]                                        */
    double z_loss;             /* >= 0: adds z * lse^2 per row                     */
    int mean;                  /* 1: "mean" (loss and gradient divided by D)       */
    double loss;               /* OUT sum of row losses, or sum / D for "mean"     */
    double denominator;        /* OUT D: sum over rows not ignored of
                                  sample_weight[i] * weight[target[i]] (class
                                  indices) or sum sample_weight[i] (probabilities) */
    int64_t bad_index;         /* OUT first target out of [0, c) (FL_EBADTARGET)   */
} fl_sce_args;

/* Status codes. */
#define FL_OK 0
#define FL_ENOMEM (-1)
#define FL_EBADTARGET (-2)

/* First checks every class index (in [0, c) or ignore_index) and computes D; on a bad
 * index returns FL_EBADTARGET with bad_index set, having written nothing. Then
 * computes row losses (into loss_rows when given), the gradient (into grad when
 * given) and the loss: row losses added in float64 in a fixed order, so the results
 * are bit-identical for any n_threads (>= 1). For "mean" with D == 0 the loss is 0 and
 * the gradient 0. Returns FL_OK, FL_ENOMEM or FL_EBADTARGET. Shapes and finiteness
 * of the weights are the caller's to check. */
int fl_sce_f32(fl_sce_args *args, int n_threads);
int fl_sce_f64(fl_sce_args *args, int n_threads);

/* The kernels' exp applied element-wise (for the accuracy tests). */
void fl_vexp_f32(const float *x, float *out, int64_t n);
void fl_vexp_f64(const double *x, double *out, int64_t n);

/* Their instances, one per dtype and SIMD path (fl_softmax_ce_<path>.c). */
#define FL_SCE_INSTANCE(ts, T, path)                                                \
    int FL_CAT3(fl_sce_run, ts, path)(fl_sce_args *, int);                          \
    void FL_CAT3(fl_vexp, ts, path)(const T *, T *, int64_t);
FL_FOR_EACH_INSTANCE(FL_SCE_INSTANCE)

#endif
