/* CTC loss (Connectionist Temporal Classification, Graves et al. 2006): the negative
 * log-likelihood of a label sequence summed over every alignment of it to the
 * frames, and its gradient, by the forward-backward dynamic program in log space.
 *
 * Per sequence n, with L = target_lengths[n] labels l_1..l_L, T_n = input_lengths[n]
 * frames and the extended sequence l' = (blank, l_1, blank, l_2, ..., l_L, blank) of
 * S = 2L + 1 states:
 *
 *   alpha_t(s) = log P(l'_1..l'_s emitted by frames 0..t, state s at t)  (emits t)
 *   beta_t(s)  = log P(the rest emitted by frames t+1..T_n-1 | state s at t)
 *   loss_n     = -log sum_s exp(alpha_{T_n-1}(s)), s in {S-1, S-2}
 *   d loss_n / d lp[t, c] = -sum_{s: l'_s = c} exp(alpha_t(s) + beta_t(s) + loss_n)
 *
 * (beta excludes frame t's emission, so the posterior needs no division by the
 * log-probability, which may be -inf). All of it is computed in float64 for either
 * dtype; the alphas of a sequence are kept (T_n x S doubles of scratch per sequence
 * at a time per thread), the betas take two rows.
 *
 * Threads: one sequence per thread at a time (dynamic schedule); each sequence's
 * loss goes to its own slot and the slots are added in sequence order on one
 * thread, so every result is bit-identical for any n_threads. */
#ifndef FL_CTC_H
#define FL_CTC_H

#include <stdint.h>

#include "fl_common.h"

enum { FL_CTC_NONE = 0, FL_CTC_SUM = 1, FL_CTC_MEAN = 2 };

typedef struct fl_ctc_args {
    const void *x;                 /* IN  (t, n, c), or (n, t, c) when batch_first:
                                          log-probabilities, or logits (from_logits) */
    const int64_t *targets;        /* IN  labels; sequence i's are targets[off_i ..
                                          off_i + target_lengths[i])                */
    int64_t n_targets;             /* its length                                     */
    const int64_t *target_offsets; /* IN  (n,) off_i                                 */
    const int64_t *input_lengths;  /* IN  (n,) T_i in [0, t]                         */
    const int64_t *target_lengths; /* IN  (n,) L_i >= 0                              */
    const void *sample_weight;     /* IN  (n,) per-sequence weights, or NULL         */
    void *grad;                    /* OUT like x, or NULL; may == x. Frames t >= T_i
                                          get 0                                      */
    void *loss_rows;               /* OUT (n,) w_i loss_i ("none"), or NULL          */
    int64_t t, n, c;               /* frames, sequences, classes (c >= 1)            */
    int64_t blank;                 /* the blank class, in [0, c)                     */
    int batch_first;               /* 1: x is (n, t, c)                              */
    int from_logits;               /* 1: x holds logits; log_softmax over c is taken
                                          and grad is d loss / d logits              */
    int zero_infinity;             /* 1: an infinite loss_i (impossible alignment)
                                          counts 0, with a 0 gradient                */
    int reduction;                 /* FL_CTC_NONE, _SUM or _MEAN (torch's: the mean
                                          over sequences of loss_i / max(L_i, 1),
                                          weighted: sum w_i loss_i / max(L_i, 1) /
                                          sum w_i)                                   */
    double loss;                   /* OUT sum, or mean (0 for none)                  */
    int64_t bad_index;             /* OUT the sequence (or, EBADLABEL, the position in
                                          targets) that failed a check               */
} fl_ctc_args;

#define FL_CTC_OK 0
#define FL_CTC_ENOMEM (-1)
#define FL_CTC_EBADLENGTH (-2) /* input or target length, or offset out of range   */
#define FL_CTC_EBADLABEL (-3)  /* a label out of [0, c) or equal to blank          */
#define FL_CTC_EBADARG (-4)    /* t, n, c, blank or reduction out of range         */

/* Checks every length, offset and label before reading x or writing anything (so no
 * call reads or writes out of bounds, whatever the lengths), then runs. An infinite
 * loss_i without zero_infinity gives NaN gradients on its frames t < T_i (as
 * torch). A sequence of weight 0 contributes exactly 0 and a 0 gradient. */
int fl_ctc_f32(fl_ctc_args *args, int n_threads);
int fl_ctc_f64(fl_ctc_args *args, int n_threads);

#endif
