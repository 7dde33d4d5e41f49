/* Row-wise losses: a loss per row of the contiguous last axis, and its gradient, in
 * one fused pass per row.
 *
 *   FL_RW_FOCAL       softmax focal loss   -alpha_y (1 - q_y)^gamma log q_y,
 *                                          q = softmax(x_i), class-index targets
 *   FL_RW_KL_LOGITS   T^2 KL(softmax(t/T) || softmax(s/T)), gradient for s only
 *   FL_RW_KL_PROBS    the same with the teacher row given as probabilities
 *   FL_RW_TRIPLET     max(d(a, p) - d(a, n) + margin, 0), d(u, v) = ||u - v + eps||_p
 *   FL_RW_COSINE      -cos(p, t), Keras's l2 normalisation (norms below eps clamped)
 *   FL_RW_DICE        1 - 2 t.p / (sum t + sum p + eps)
 *   FL_RW_TVERSKY     1 - t.p / (t.p + alpha sum (1-p) t + beta sum p (1-t) + eps)
 *                     (the last three: x = prediction p, x2 = target t, gradient for
 *                     p only; fl_rw_pair.h)
 *   FL_RW_CIRCLE      Keras's circle loss on a row i of the similarities S = E E^T
 *                     (x, n x n), labels in `target` (any int64 values); grad is
 *                     d loss / d S (fl_rw_circle.h)
 *   FL_RW_CAT_HINGE   max(max_k (1 - t_k) p_k - t . p + 1, 0), x = scores p,
 *                     x2 = target t, gradient for p only (fl_rw_categorical.h)
 *   FL_RW_GCE         (1 - x_y^q) / q, x probabilities, class-index targets
 *                     (fl_rw_categorical.h)
 *
 * The softmax kinds follow the softmax cross-entropy kernel (fl_softmax_ce_impl.h):
 * each row is read once into cache (max), exp(x - max) is computed once, stored into
 * the gradient buffer while it is summed in float64, and rescaled in place while the
 * row is still in cache. Rows with few of them are split across threads over fixed
 * chunks. No n*c temporary is allocated; `grad` may be the `x` buffer itself. */
#ifndef FL_ROWWISE_H
#define FL_ROWWISE_H

#include <stdint.h>

#include "fl_common.h"

enum {
    FL_RW_FOCAL = 0,     /* p[0] gamma >= 0                                       */
    FL_RW_KL_LOGITS = 1, /* p[0] temperature > 0                                  */
    FL_RW_KL_PROBS = 2,  /* p[0] temperature > 0                                  */
    FL_RW_TRIPLET = 3,   /* p[0] margin, p[1] norm order >= 1, p[2] eps, p[3] swap */
    FL_RW_COSINE = 4,    /* p[0] eps > 0                                          */
    FL_RW_DICE = 5,      /* p[0] eps                                              */
    FL_RW_TVERSKY = 6,   /* p[0] alpha, p[1] beta, p[2] eps                       */
    FL_RW_CIRCLE = 7,    /* p[0] gamma, p[1] margin, p[2] remove_diagonal (0 / 1) */
    FL_RW_CAT_HINGE = 8, /* no parameters                                         */
    FL_RW_GCE = 9,       /* p[0] q in (0, 1]                                      */
    FL_RW_COUNT
};

typedef struct fl_rw_args {
    int kind;                  /* FL_RW_*                                            */
    const void *x;             /* IN  (n, c) logits / student logits / anchor        */
    const void *x2;            /* IN  (n, c) teacher logits or probabilities / positive,
                                      or NULL (focal)                                */
    const void *x3;            /* IN  (n, c) negative (triplet), else NULL           */
    const int64_t *target;     /* IN  (n,) class indices (focal, GCE), else NULL     */
    const void *class_weight;  /* IN  (c,) alpha (focal), or NULL                    */
    const void *sample_weight; /* IN  (n,) row weights, or NULL                      */
    void *grad;                /* OUT (n, c) d loss / d x, or NULL; may == x         */
    void *grad2;               /* OUT (n, c) d loss / d x2 (triplet), or NULL;
                                      may == x2                                     */
    void *grad3;               /* OUT (n, c) d loss / d x3 (triplet), or NULL;
                                      may == x3                                     */
    void *loss_rows;           /* OUT (n,) row losses (times sample weight), or NULL */
    int64_t n;                 /* rows                                               */
    int64_t c;                 /* row length (classes, embedding size), >= 1         */
    int64_t ignore_index;      /* focal, GCE: rows with this target give loss 0,
                                      grad 0                                         */
    double p[4];               /* kind parameters (above)                            */
    int mean;                  /* 1: "mean" (loss and gradient divided by D)         */
    double loss;               /* OUT sum of row losses, or sum / D for "mean"       */
    double denominator;        /* OUT D: sum of sample_weight (1 each when NULL) over
                                      the rows (focal, GCE: rows not ignored)        */
    int64_t bad_index;         /* OUT first target out of [0, c) (FL_RW_EBADTARGET)  */
} fl_rw_args;

#define FL_RW_OK 0
#define FL_RW_ENOMEM (-1)
#define FL_RW_EBADTARGET (-2)
#define FL_RW_EKIND (-3)

/* Checks the kind and (focal, GCE) every class index first, and computes D; on a bad
 * index returns FL_RW_EBADTARGET with bad_index set, having written nothing. Row
 * losses are added in float64 in blocks of rows fixed by c alone, block sums in block
 * order, so every result is bit-identical for any n_threads (>= 1). For "mean" with
 * D == 0 the loss is 0 and the gradient 0. Triplet needs grad, grad2 and grad3 all set
 * or all NULL. Shapes and parameter domains are the caller's to check. */
int fl_rw_f32(fl_rw_args *args, int n_threads);
int fl_rw_f64(fl_rw_args *args, int n_threads);

/* Their instances, one per dtype and SIMD path (fl_rowwise_<path>.c). */
#define FL_RW_INSTANCE(ts, T, path) int FL_CAT3(fl_rw_run, ts, path)(fl_rw_args *, int);
FL_FOR_EACH_INSTANCE(FL_RW_INSTANCE)

#endif
