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
    double grad_scale;         /* 1/D for "mean", 1 for "sum" and "none"           */
} fl_sce_args;

/* Status codes. */
#define FL_OK 0
#define FL_ENOMEM (-1)

/* Computes row losses (into loss_rows when given), the gradient (into grad when
 * given), and *loss_sum = sum of the row losses in float64, added in a fixed order:
 * the results are bit-identical for any n_threads (>= 1). Returns FL_OK or FL_ENOMEM.
 * The caller validates the inputs (targets in range, shapes); the kernel trusts them. */
int fl_sce_f32(const fl_sce_args *args, int n_threads, double *loss_sum);
int fl_sce_f64(const fl_sce_args *args, int n_threads, double *loss_sum);

/* One pass over the class-index targets: returns -1 when every target is in [0, c) or
 * equals ignore_index, else the first offending position. On success *denominator is
 * the "mean" normaliser sum_{i not ignored} sample_weight[i] * weight[target[i]]
 * (either factor 1 when its array is NULL), added in row order. */
int64_t fl_sce_check_targets_f32(const int64_t *target, int64_t n, int64_t c,
                                 int64_t ignore_index, const float *weight,
                                 const float *sample_weight, double *denominator);
int64_t fl_sce_check_targets_f64(const int64_t *target, int64_t n, int64_t c,
                                 int64_t ignore_index, const double *weight,
                                 const double *sample_weight, double *denominator);

/* The kernels' exp applied element-wise (for the accuracy tests). */
void fl_vexp_f32(const float *x, float *out, int64_t n);
void fl_vexp_f64(const double *x, double *out, int64_t n);

#endif
