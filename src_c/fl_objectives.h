/* Gradient-boosting objectives: the gradient and the hessian of a loss with respect
 * to the raw scores (what XGBoost and LightGBM ask a custom objective for), or the
 * loss alone, in one pass (fastloss/objectives.py is the Python side).
 *
 * Two engines: the elementwise objectives (one raw score per sample, kinds below)
 * and the softmax objective (n rows of k scores, a class index per row). Each is a
 * block loop over fixed blocks whose loss partials are added in block order
 * (fl_sum_blocks), so every output is bit-identical for any thread count. */
#ifndef FL_OBJECTIVES_H
#define FL_OBJECTIVES_H

#include <stdint.h>

#include "fl_common.h"

/* Kinds, with the parameter slots p[0..3] each reads (formulas: fl_objectives_impl.h)
 *   LOGISTIC      p[0] label smoothing, p[1] pos_weight
 *   FOCAL         p[0] alpha (< 0: none), p[1] gamma
 *   SQUARED       (x - y)^2 / 2
 *   PSEUDO_HUBER  p[0] delta
 *   HUBER         p[0] delta, p[1] 1: exact hessian (0 outside), 0: hessian 1
 *   LOG_COSH      log cosh(x - y)
 *   SQUARED_LOG   (log1p(x) - log1p(y))^2 / 2, x clamped to >= -1 + 1e-6
 *   POISSON       exp(x) - y x; p[0] max_delta_step (hessian exp(x + p[0]))
 *   GAMMA         y exp(-x) + x
 *   TWEEDIE       p[0] power in (1, 2)
 *   QUANTILE      p[0] alpha
 *   ABSOLUTE      |x - y|
 *   SOFTMAX       rows of k scores; p[0] focal gamma (0: cross-entropy) */
#define FL_OBJ_KINDS(X)                                                             \
    X(LOGISTIC) X(FOCAL) X(SQUARED) X(PSEUDO_HUBER) X(HUBER) X(LOG_COSH)            \
    X(SQUARED_LOG) X(POISSON) X(GAMMA) X(TWEEDIE) X(QUANTILE) X(ABSOLUTE) X(SOFTMAX)
#define FL_OBJ_ENUM(kind) FL_OBJ_##kind,
enum { FL_OBJ_KINDS(FL_OBJ_ENUM) FL_OBJ_COUNT };
#undef FL_OBJ_ENUM

/* The name of kind `kind` ("LOGISTIC", ...), NULL for any other number. */
const char *fl_obj_kind_name(int kind);

typedef struct fl_obj_args {
    int kind;                  /* FL_OBJ_*                                          */
    const void *raw;           /* IN  (n,) raw scores, or (n, k) for SOFTMAX       */
    const void *target;        /* IN  (n,) of the dtype; int64 class indices for   */
                               /*     SOFTMAX, each in [0, k)                      */
    const void *sample_weight; /* IN  (n,), or NULL                                */
    const void *class_weight;  /* IN  (k,) for SOFTMAX, or NULL                    */
    void *grad;                /* OUT like raw, or NULL (then hess is NULL too)    */
    void *hess;                /* OUT like raw, or NULL                            */
    int64_t n;                 /* samples (rows)                                   */
    int64_t k;                 /* scores per row: 1, or k >= 2 for SOFTMAX         */
    double p[4];               /* kind parameters                                  */
    double hess_scale;         /* SOFTMAX: multiplies the hessian (1, 2, k/(k-1))  */
    double min_hess;           /* each unweighted hessian is max(h, min_hess)      */
    double loss;               /* OUT sum of the weighted losses (loss-only call)  */
} fl_obj_args;

#define FL_OBJ_OK 0
#define FL_OBJ_ENOMEM (-1)
#define FL_OBJ_EKIND (-2)
#define FL_OBJ_ETARGET (-3) /* a class index outside [0, k) */

/* With grad == NULL the loss sum alone, else grad and hess alone (loss = 0). The
 * caller validates shapes and parameters. */
int fl_obj_f32(fl_obj_args *args, int n_threads);
int fl_obj_f64(fl_obj_args *args, int n_threads);

#define FL_OBJ_INSTANCE(ts, T, path) \
    int FL_CAT3(fl_obj_run, ts, path)(fl_obj_args *, int);
FL_FOR_EACH_INSTANCE(FL_OBJ_INSTANCE)

#endif
