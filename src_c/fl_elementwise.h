/* Elementwise losses: loss(x, y) and d loss / d x for every element in one pass.
 *
 * One kernel body for every kind: each kind is an inline per-element function
 * (fl_elementwise_impl.h) specialised at compile time, so the loops vectorise with no
 * per-element branch on the kind. Weights that broadcast (sample_weight per sample,
 * pos_weight per class) are expanded per block into L1 buffers, never per call. */
#ifndef FL_ELEMENTWISE_H
#define FL_ELEMENTWISE_H

#include <stdint.h>

#include "fl_common.h"

/* Loss kinds, numbered in the order of FL_EW_PUBLIC_KINDS: the enum, the names the
 * bindings give Python (fastloss._elementwise.KINDS, fl_ew_kind_name) and the loss
 * table's `kind` column all come from this one list. The parameter slots p[0..3]
 * each kind reads; the per-element functions live in fl_ew_regression.h and
 * fl_ew_binary.h.
 *   MSE            (x - y)^2
 *   BCE_LOGITS     p[0] label smoothing; pos_weight
 *   L1             |x - y|
 *   HUBER          p[0] delta
 *   SMOOTH_L1      p[0] beta
 *   LOG_COSH       log cosh(x - y)
 *   BCE_PROB       p[0] clip epsilon, p[1] label smoothing
 *   SIGMOID_FOCAL  p[0] alpha (< 0: none), p[1] gamma
 *   POISSON_LOG    exp(x) - y x, x a log-rate
 *   POISSON        x - y log(x + p[0]), x a rate, p[0] eps
 *   HINGE          max(1 - y' x, 0), y' = p[0] y + p[1] (fl_ew_keras.h)
 *   SQUARED_HINGE  max(1 - y' x, 0)^2, y' as HINGE
 *   MSLE           (log1p(max(x, p[0])) - log1p(max(y, p[0])))^2, p[0] eps
 *   MAPE           100 |x - y| / max(|y|, p[0]), p[0] eps */
#define FL_EW_PUBLIC_KINDS(X)                                                       \
    X(MSE) X(BCE_LOGITS) X(L1) X(HUBER) X(SMOOTH_L1) X(LOG_COSH) X(BCE_PROB)        \
    X(SIGMOID_FOCAL) X(POISSON_LOG) X(POISSON) X(HINGE) X(SQUARED_HINGE) X(MSLE)     \
    X(MAPE)
#define FL_EW_ENUM(kind) FL_EW_##kind,
enum { FL_EW_PUBLIC_KINDS(FL_EW_ENUM) FL_EW_COUNT };
#undef FL_EW_ENUM

/* The name of public kind `kind` ("MSE", ...), NULL for any other number. */
const char *fl_ew_kind_name(int kind);

typedef struct fl_ew_args {
    int kind;                  /* FL_EW_*                                          */
    const void *input;         /* IN  (n,) predictions or logits, C order          */
    const void *target;        /* IN  (n,)                                         */
    const void *weight;        /* IN  (n,) per-element weight, or NULL             */
    const void *sample_weight; /* IN  (n / t,) one per run of t elements, or NULL  */
    const void *pos_weight;    /* IN  (c,) repeated along the last axis, or NULL   */
    void *grad;                /* OUT (n,), or NULL; may == input                  */
    void *loss_elems;          /* OUT (n,) per-element loss, or NULL               */
    int64_t n;                 /* elements                                         */
    int64_t c;                 /* period of pos_weight (the last axis), >= 1       */
    int64_t t;                 /* elements per sample_weight entry, >= 1           */
    double p[4];               /* kind parameters                                  */
    double grad_scale;         /* multiplies the gradient: 1/D for "mean", else 1   */
    double loss;               /* OUT sum of the (weighted) element losses         */
} fl_ew_args;

#define FL_EW_OK 0
#define FL_EW_ENOMEM (-1)
#define FL_EW_EKIND (-2)

/* Sums in float64 over fixed blocks added in a fixed order: bit-identical for any
 * n_threads. The caller validates shapes and parameters. */
int fl_ew_f32(fl_ew_args *args, int n_threads);
int fl_ew_f64(fl_ew_args *args, int n_threads);

/* Their instances, one per dtype and SIMD path (fl_elementwise_<path>_<dtype>.c). */
#define FL_EW_INSTANCE(ts, T, path) int FL_CAT3(fl_ew_run, ts, path)(fl_ew_args *, int);
FL_FOR_EACH_INSTANCE(FL_EW_INSTANCE)

#endif
