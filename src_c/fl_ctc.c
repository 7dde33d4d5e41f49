/* CTC loss: argument checks and the float32 / float64 instances of fl_ctc_impl.h
 * (baseline code only: the dynamic program is a chain of dependent log-adds, not a
 * vector loop). See fl_ctc.h. */
#include <math.h>
#include <stdlib.h>

#include "fl_ctc.h"

/* log(exp(a) + exp(b) + exp(c)) as m + log1p(exp(u - m) + exp(v - m)) around the
 * largest m: no overflow, two exps (exp(m - m) = 1 is not taken), and -inf when all
 * three are -inf (where u - m would be NaN); NaN propagates. */
static inline double fl_ctc_lse3(double a, double b, double c)
{
    double m, u, v;
    if (a >= b && a >= c) {
        m = a;
        u = b;
        v = c;
    } else if (b >= c) {
        m = b;
        u = a;
        v = c;
    } else {
        m = c;
        u = a;
        v = b;
    }
    if (m == -INFINITY || m == INFINITY) /* not a finite log-probability */
        return u != u || v != v ? NAN : m;
    return m + log1p(exp(u - m) + exp(v - m));
}

/* log(exp(a) + exp(b)) = m + log1p(exp(u - m)), the same way: one exp (blank
 * states and labels that cannot skip have two predecessors). */
static inline double fl_ctc_lse2(double a, double b)
{
    const double m = a >= b ? a : b, u = a >= b ? b : a;
    if (m == -INFINITY || m == INFINITY)
        return u != u ? NAN : m;
    return m + log1p(exp(u - m));
}

/* Every length, offset and label in range before anything is read or written. */
static int fl_ctc_check(fl_ctc_args *a)
{
    int64_t i, k;
    a->loss = 0.0;
    a->bad_index = -1;
    if (a->t < 0 || a->n < 0 || a->c < 1 || a->blank < 0 || a->blank >= a->c
        || a->n_targets < 0 || a->reduction < FL_CTC_NONE || a->reduction > FL_CTC_MEAN)
        return FL_CTC_EBADARG;
    for (i = 0; i < a->n; i++) {
        const int64_t ti = a->input_lengths[i], li = a->target_lengths[i];
        const int64_t off = a->target_offsets[i];
        if (ti < 0 || ti > a->t || li < 0 || (li > 0 && (off < 0 || off > a->n_targets
                                                         || li > a->n_targets - off))
            || li > (INT64_MAX - 1) / 2) {
            a->bad_index = i;
            return FL_CTC_EBADLENGTH;
        }
        for (k = 0; k < li; k++) {
            const int64_t y = a->targets[off + k];
            if (y < 0 || y >= a->c || y == a->blank) {
                a->bad_index = off + k;
                return FL_CTC_EBADLABEL;
            }
        }
    }
    return FL_CTC_OK;
}

#define FL_T float
#define FL_TS f32
#include "fl_ctc_impl.h"
#undef FL_T
#undef FL_TS

#define FL_T double
#define FL_TS f64
#include "fl_ctc_impl.h"
#undef FL_T
#undef FL_TS
