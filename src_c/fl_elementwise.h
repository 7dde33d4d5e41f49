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

/* Loss kinds. The parameter slots p[0..3] each kind reads are listed; the per-element
 * functions live in fl_ew_regression.h and fl_ew_binary.h. */
enum {
    FL_EW_MSE = 0,            /* (x - y)^2                                         */
    FL_EW_BCE_LOGITS = 1,     /* p[0] label smoothing; pos_weight                 */
    FL_EW_L1 = 2,             /* |x - y|                                          */
    FL_EW_HUBER = 3,          /* p[0] delta                                       */
    FL_EW_SMOOTH_L1 = 4,      /* p[0] beta                                        */
    FL_EW_LOG_COSH = 5,       /* log cosh(x - y)                                  */
    FL_EW_BCE_PROB = 6,       /* p[0] clip epsilon, p[1] label smoothing          */
    FL_EW_SIGMOID_FOCAL = 7,  /* p[0] alpha (< 0: none), p[1] gamma               */
    FL_EW_COUNT
};

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
