/* Cross-architecture check of the kernels (tools/check_aarch64.sh): calls every
 * kernel family of src_c/ on fixed, deterministic inputs and writes the inputs and
 * the results to one file, which tools/aarch64/compare.py checks against the stored
 * x86-64 results and float64 twins (tools/aarch64/expected.npz, written by
 * make_data.py from this driver's native x86-64 output).
 *
 *   driver OUT_FILE
 *
 * Runs on the baseline SIMD path (fl_simd_set(FL_SIMD_BASELINE)), the only path an
 * aarch64 build has, so x86-64 and aarch64 run the same source. Compile this file
 * with -ffp-contract=off: the inputs are made here from integers by single IEEE
 * operations, and a fused multiply-add on one architecture only would change them
 * (compare.py also checks that both made the same input bits).
 *
 * Besides the stored results, each case checks invariants the kernels promise on
 * any architecture, bit for bit, and records the number of differing elements
 * (compare.py wants 0): the forward-only call (no gradient) gives the loss of the
 * fused call ("chk.fwd"); 2 threads give the bits of 1 ("chk.nt2", for sizes past
 * the kernels' parallel thresholds; a serial build runs 1 thread twice); the
 * gradient written into the input buffer (in place) equals the one written apart
 * ("chk.inplace"). Cases marked "threads only" record just those counts (their
 * arrays are too big to store).
 *
 * File format, read by compare.py: a line "C <case> key=value ..." starts a case;
 * each array is a line "A <field> <f32|f64|i64> <count>" followed by count
 * little-endian items and a newline; "E" ends the file. Fields "in.*" are inputs,
 * "out.*" results, "chk.*" the invariant counts. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_dispatch.h"
#include "fl_elementwise.h"
#include "fl_optim.h"
#include "fl_rowwise.h"
#include "fl_softmax_ce.h"

/* Element types: the value is the item size. */
enum { F32 = 4, F64 = 8, I64 = 9 };

static FILE *out_file;

static void *xmalloc(size_t bytes)
{
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) {
        fprintf(stderr, "driver: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- output records ------------------------------------------------------------ */

static const char *type_name(int t)
{
    return t == F32 ? "f32" : t == F64 ? "f64" : "i64";
}

static void begin_case(const char *fmt, ...)
{
    va_list ap;
    fputs("C ", out_file);
    va_start(ap, fmt);
    vfprintf(out_file, fmt, ap);
    va_end(ap);
    fputc('\n', out_file);
}

static void put(const char *field, int t, const void *p, int64_t count)
{
    const size_t item = t == F32 ? 4 : 8;
    fprintf(out_file, "A %s %s %lld\n", field, type_name(t), (long long)count);
    if (count > 0 && fwrite(p, item, (size_t)count, out_file) != (size_t)count) {
        fprintf(stderr, "driver: write failed\n");
        exit(2);
    }
    fputc('\n', out_file);
}

static void put_f64(const char *field, double v) { put(field, F64, &v, 1); }
static void put_i64(const char *field, int64_t v) { put(field, I64, &v, 1); }

/* Elements of `count` items of `item` bytes that differ in any bit. */
static int64_t n_diff(const void *a, const void *b, int64_t count, int item)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    int64_t k, bad = 0;
    if (!a || !b)
        return a == b ? 0 : count;
    for (k = 0; k < count; k++)
        bad += memcmp(pa + k * item, pb + k * item, (size_t)item) != 0;
    return bad;
}

/* ---- deterministic inputs ------------------------------------------------------ */

/* splitmix64, seeded from the case name (FNV-1a), so a case's inputs do not depend
 * on the other cases. */
typedef struct {
    uint64_t s;
} rng_t;

static rng_t rng_for(const char *name, uint64_t salt)
{
    rng_t r;
    uint64_t h = 1469598103934665603ULL;
    for (; *name; name++) {
        h ^= (unsigned char)*name;
        h *= 1099511628211ULL;
    }
    r.s = h ^ (salt * 0x9E3779B97F4A7C15ULL);
    return r;
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform on [0, 1), exactly (53 bits times a power of two). */
static double unif(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }
/* Triangular on (-a, a): bell-shaped enough for logits and residuals. */
static double sym(rng_t *r, double a) { return a * ((unif(r) + unif(r)) - 1.0); }
static int64_t below(rng_t *r, int64_t k)
{
    return (int64_t)(rng_next(r) % (uint64_t)k);
}

/* A new buffer holding v in type t (rounded to nearest for float32). */
static void *cvt(const double *v, int64_t n, int t)
{
    void *p = xmalloc((size_t)n * (size_t)t);
    int64_t k;
    for (k = 0; k < n; k++) {
        if (t == F32)
            ((float *)p)[k] = (float)v[k];
        else
            ((double *)p)[k] = v[k];
    }
    return p;
}

static void *dup(const void *p, int64_t n, int t)
{
    void *q = xmalloc((size_t)n * (size_t)t);
    memcpy(q, p, (size_t)n * (size_t)t);
    return q;
}

static double *dvec(int64_t n) { return (double *)xmalloc((size_t)n * sizeof(double)); }

/* Logit patterns. Extreme rows cycle through: random; all equal; all -1e4; spread
 * over +-1e4; -inf masks on about a third of the entries; every entry -inf but one;
 * near-ties around 1e4. A row always keeps a finite entry (an all -inf row is NaN by
 * contract, docs/softmax_cross_entropy.md). Periodic rows (long ones, stored
 * compactly) repeat a table of 257 values, with -inf masks at chunk starts and the
 * maximum in the last entry. */
enum { P_RANDOM, P_EXTREME, P_PERIODIC };

/* Row of c logits; `keep` (or -1) is an entry left finite (the target). */
static void logit_row(rng_t *r, double *x, int64_t i, int64_t c, int64_t keep,
                      int pattern, const double *table)
{
    const int kind = pattern == P_EXTREME ? (int)(i % 7) : 0;
    const int64_t one = keep >= 0 ? keep : 0;
    int64_t k;
    for (k = 0; k < c; k++) {
        switch (pattern == P_PERIODIC ? -1 : kind) {
        case -1:
            x[k] = table[(k + 31 * i) % 257];
            break;
        case 1:
            x[k] = 2.5;
            break;
        case 2:
            x[k] = -1e4;
            break;
        case 3:
            x[k] = sym(r, 1e4);
            break;
        case 4:
            x[k] = k != one && below(r, 3) == 0 ? -INFINITY : sym(r, 4.0);
            break;
        case 5:
            x[k] = k == one ? sym(r, 4.0) : -INFINITY;
            break;
        case 6:
            x[k] = 1e4 + sym(r, 1.0);
            break;
        default:
            x[k] = sym(r, 4.0);
        }
    }
    if (pattern == P_PERIODIC) {
        for (k = 4096; k < c; k += 4096)
            if (k != keep)
                x[k] = -INFINITY;
        x[c - 1] = 6.5;
    }
}

/* v[k] = v[start + (k - start) % 257] for k in [start + 257, end): long inputs
 * whose results the stored data holds compactly (they repeat). */
static void repeat257(double *v, int64_t start, int64_t end)
{
    int64_t k;
    for (k = start + 257; k < end; k++)
        v[k] = v[start + (k - start) % 257];
}

static double *periodic_table(rng_t *r)
{
    double *t = dvec(257);
    int k;
    for (k = 0; k < 257; k++)
        t[k] = sym(r, 4.0);
    return t;
}

/* Probability rows (soft targets, KL teachers): 0 where the logits are -inf (and
 * at random entries when `zeros`), the rest u^2 + 1e-3 normalised; repeating with
 * period 257 along long (`periodic`) rows. */
static double *prob_rows(rng_t *r, const double *x, int64_t n, int64_t c, int zeros,
                         int periodic)
{
    double *p = dvec(n * c);
    int64_t i, k;
    for (i = 0; i < n; i++) {
        double s = 0.0;
        for (k = 0; k < c; k++) {
            const double u = unif(r);
            p[i * c + k] = zeros && below(r, 5) == 0 ? 0.0 : u * u + 1e-3;
        }
        if (periodic)
            repeat257(p + i * c, 0, c);
        for (k = 0; k < c; k++) {
            if (x[i * c + k] == -INFINITY)
                p[i * c + k] = 0.0;
            s += p[i * c + k];
        }
        for (k = 0; k < c; k++)
            p[i * c + k] = s > 0 ? p[i * c + k] / s : 0.0;
    }
    return p;
}

/* Class / sample weights in [0.25, 2) or [0, 2), one of them 0 when there are
 * more than 2 entries (a weight of 0 is legal and exercised). */
static double *weights(rng_t *r, int64_t n, double lo, int64_t zero_at)
{
    double *w = dvec(n);
    int64_t k;
    for (k = 0; k < n; k++)
        w[k] = lo + (2.0 - lo) * unif(r);
    if (n > 2 && zero_at < n)
        w[zero_at] = 0.0;
    return w;
}

/* ---- softmax cross-entropy ----------------------------------------------------- */

typedef struct {
    const char *name;
    int t;                /* F32 or F64                                         */
    int64_t n, c;
    int soft;             /* probability targets                                */
    int weight, sw;       /* class weights, sample weights                      */
    int64_t ignore;       /* ignore_index                                       */
    int ignore_every;     /* every k-th row (from row 0) is ignored; 0: none    */
    double ls, z;         /* label smoothing, z_loss                            */
    int mean;
    int pattern;
    int store;            /* 0: threads only (record the chk counts alone)      */
} sce_case;

static int sce_call(fl_sce_args *a, int t, int nt)
{
    return t == F32 ? fl_sce_f32(a, nt) : fl_sce_f64(a, nt);
}

static void run_sce(const sce_case *k)
{
    rng_t r = rng_for(k->name, 1);
    const int64_t n = k->n, c = k->c, nc = n * c;
    const int t = k->t;
    double *xd = dvec(nc), *pd = NULL, *wd = NULL, *swd = NULL;
    double *table = periodic_table(&r);
    int64_t *y = NULL, i;
    void *x, *p = NULL, *w = NULL, *sw = NULL, *g, *rows, *g2, *rows2, *gi;
    fl_sce_args a, b;
    int status;

    if (!k->soft) {
        y = (int64_t *)xmalloc((size_t)n * sizeof(int64_t));
        for (i = 0; i < n; i++)
            y[i] = k->ignore_every && i % k->ignore_every == 0 ? k->ignore
                                                                : below(&r, c);
    }
    for (i = 0; i < n; i++) {
        const int64_t keep = y && y[i] >= 0 && y[i] < c ? y[i] : -1;
        logit_row(&r, xd + i * c, i, c, keep, k->pattern, table);
    }
    if (k->soft)
        pd = prob_rows(&r, xd, n, c, 0, k->pattern == P_PERIODIC);
    if (k->weight) {
        wd = weights(&r, c, 0.25, 2);
        if (k->pattern == P_PERIODIC)
            repeat257(wd, 0, c);
    }
    if (k->sw)
        swd = weights(&r, n, 0.0, 1);
    x = cvt(xd, nc, t);
    if (pd)
        p = cvt(pd, nc, t);
    if (wd)
        w = cvt(wd, c, t);
    if (swd)
        sw = cvt(swd, n, t);
    g = xmalloc((size_t)nc * t);
    rows = xmalloc((size_t)n * t);
    g2 = xmalloc((size_t)nc * t);
    rows2 = xmalloc((size_t)n * t);

    memset(&a, 0, sizeof a);
    a.logits = x;
    a.target = k->soft ? NULL : y;
    a.prob = p;
    a.weight = w;
    a.sample_weight = sw;
    a.grad = g;
    a.loss_rows = rows;
    a.n = n;
    a.c = c;
    a.ignore_index = k->ignore;
    a.label_smoothing = k->ls;
    a.z_loss = k->z;
    a.mean = k->mean;
    status = sce_call(&a, t, 1);

    begin_case("sce/%s family=sce dtype=%s n=%lld c=%lld soft=%d ignore_index=%lld "
               "label_smoothing=%.17g z_loss=%.17g mean=%d store=%d",
               k->name, type_name(t), (long long)n, (long long)c, k->soft,
               (long long)k->ignore, k->ls, k->z, k->mean, k->store);
    put_i64("out.status", status);
    /* forward only: the loss of the fused call */
    b = a;
    b.grad = NULL;
    b.loss_rows = NULL;
    sce_call(&b, t, 1);
    put_i64("chk.fwd", n_diff(&a.loss, &b.loss, 1, 8));
    /* 2 threads: the bits of 1 */
    b = a;
    b.grad = g2;
    b.loss_rows = rows2;
    sce_call(&b, t, 2);
    put_i64("chk.nt2", n_diff(g, g2, nc, t) + n_diff(rows, rows2, n, t)
                           + n_diff(&a.loss, &b.loss, 1, 8));
    /* in place: the gradient written over the logits */
    gi = dup(x, nc, t);
    b = a;
    b.logits = gi;
    b.grad = gi;
    b.loss_rows = rows2;
    sce_call(&b, t, 1);
    put_i64("chk.inplace", n_diff(g, gi, nc, t) + n_diff(&a.loss, &b.loss, 1, 8));
    if (k->store) {
        put("in.x", t, x, nc);
        if (y)
            put("in.y", I64, y, n);
        if (p)
            put("in.p", t, p, nc);
        if (w)
            put("in.w", t, w, c);
        if (sw)
            put("in.sw", t, sw, n);
        put_f64("out.loss", a.loss);
        put_f64("out.den", a.denominator);
        put("out.grad", t, g, nc);
        put("out.rows", t, rows, n);
    }
    free(xd);
    free(pd);
    free(wd);
    free(swd);
    free(table);
    free(y);
    free(x);
    free(p);
    free(w);
    free(sw);
    free(g);
    free(rows);
    free(g2);
    free(rows2);
    free(gi);
}

static void sce_cases(int t)
{
    char name[96];
    const char *ts = t == F32 ? "f32" : "f64";
    sce_case k;
    int64_t c;

    /* Short rows, c = 1..33: 9 rows (c <= 16) or 17 take the transposed lane path
     * (a group of 32 lanes, partly filled) or, for float64 rows of 25 to 32 classes,
     * the padded window path; 5 rows the window path (below FL_TINY_MIN_ROWS), for
     * the c around its window widths 16 and 32; c = 33 the general row loop.
     * Options rotate with c. */
    for (c = 1; c <= 33; c++) {
        const int window = c <= 3 || c == 7 || (c >= 15 && c <= 17) || c >= 24;
        int64_t sizes[2];
        int q, nsizes = 0;
        if (window)
            sizes[nsizes++] = 5;
        sizes[nsizes++] = c <= 16 ? 9 : 17;
        for (q = 0; q < nsizes; q++) {
            const int64_t rows = sizes[q];
            memset(&k, 0, sizeof k);
            snprintf(name, sizeof name, "short_c%02lld_n%lld_%s", (long long)c,
                     (long long)rows, ts);
            k.name = name;
            k.t = t;
            k.n = rows;
            k.c = c;
            k.ignore = -100;
            k.mean = (int)(c % 2);
            k.weight = c % 4 == 0;
            k.sw = c % 4 == 1 || c % 8 == 0;
            k.ignore_every = c % 4 == 2 ? 3 : 0;
            if (c % 4 == 3) { /* an ignore_index inside [0, c) */
                k.ignore = 1;
                k.ignore_every = 4;
            }
            k.pattern = c % 3 == 0 ? P_EXTREME : P_RANDOM;
            k.store = 1;
            run_sce(&k);
        }
    }

    {
        /* Rows of 37 classes (general row loop), every option. */
        static const struct {
            const char *tag;
            int soft, weight, sw, ignore_every, mean, pattern;
            double ls, z;
            int64_t n, c;
        } v[] = {
            {"plain_mean", 0, 0, 0, 0, 1, P_RANDOM, 0.0, 0.0, 8, 37},
            {"lanes_40rows", 0, 0, 0, 0, 1, P_EXTREME, 0.0, 0.0, 40, 10},
            {"smooth_sum", 0, 0, 0, 0, 0, P_RANDOM, 0.1, 0.0, 8, 37},
            {"smooth_one", 0, 0, 0, 0, 1, P_RANDOM, 1.0, 0.0, 8, 37},
            {"zloss_mean", 0, 0, 0, 0, 1, P_RANDOM, 0.0, 1e-2, 8, 37},
            {"weights_ignore_mean", 0, 1, 1, 3, 1, P_RANDOM, 0.0, 0.0, 8, 37},
            {"all_options_mean", 0, 1, 1, 3, 1, P_RANDOM, 0.2, 1e-3, 8, 37},
            {"all_options_extreme", 0, 1, 1, 3, 0, P_EXTREME, 0.2, 1e-3, 14, 37},
            {"extreme_mean", 0, 0, 0, 0, 1, P_EXTREME, 0.0, 0.0, 14, 37},
            {"soft_mean", 1, 0, 0, 0, 1, P_RANDOM, 0.0, 0.0, 8, 37},
            {"soft_all_sum", 1, 1, 1, 0, 0, P_RANDOM, 0.1, 1e-3, 8, 37},
            {"soft_extreme_mean", 1, 1, 0, 0, 1, P_EXTREME, 0.0, 1e-2, 14, 37},
            /* crossing FL_CHUNK in the whole-row loop, and the chunked path of rows
             * of at least FL_SPLIT_MIN_COLS (split across 2 threads in chk.nt2) */
            {"row5000_mean", 0, 1, 1, 0, 1, P_PERIODIC, 0.1, 1e-3, 2, 5000},
            {"row16500_mean", 0, 1, 1, 0, 1, P_PERIODIC, 0.1, 1e-3, 2, 16500},
            {"row16500_soft_sum", 1, 1, 1, 0, 0, P_PERIODIC, 0.0, 1e-3, 2, 16500},
            {"row16500_plain_sum", 0, 0, 0, 0, 0, P_PERIODIC, 0.0, 0.0, 2, 16500},
        };
        size_t j;
        for (j = 0; j < sizeof v / sizeof v[0]; j++) {
            memset(&k, 0, sizeof k);
            snprintf(name, sizeof name, "%s_%s", v[j].tag, ts);
            k.name = name;
            k.t = t;
            k.n = v[j].n;
            k.c = v[j].c;
            k.soft = v[j].soft;
            k.weight = v[j].weight;
            k.sw = v[j].sw;
            k.ignore = -100;
            k.ignore_every = v[j].ignore_every;
            k.mean = v[j].mean;
            k.pattern = v[j].pattern;
            k.ls = v[j].ls;
            k.z = v[j].z;
            k.store = 1;
            run_sce(&k);
        }
    }

    /* Threads only: many rows in several reduction blocks across 2 threads. */
    memset(&k, 0, sizeof k);
    snprintf(name, sizeof name, "threads_rows_%s", ts);
    k.name = name;
    k.t = t;
    k.n = 3000;
    k.c = 24;
    k.ignore = -100;
    k.ignore_every = 5;
    k.sw = 1;
    k.mean = 1;
    k.pattern = P_EXTREME;
    run_sce(&k);
    snprintf(name, sizeof name, "threads_rows_smooth_%s", ts);
    k.c = 70;
    k.ls = 0.1;
    run_sce(&k);
}

/* ---- elementwise --------------------------------------------------------------- */

/* Input patterns: residual-type (x, y both spread), logits, probabilities; targets
 * real, 0/1, soft in (0, 1), mixed, or 0/1 in the first FL_EW_BLOCK block and soft
 * after (each block takes its own specialised form). */
enum { X_REG, X_LOGIT, X_PROB };
enum { Y_REAL, Y_HARD, Y_SOFT, Y_MIXED, Y_SPLIT };

typedef struct {
    const char *name;
    int t, kind;
    int64_t a, b, c;   /* shape (a, b, c): n = a b c, sample weights per row of a */
    double p[4];
    int weight, sw, pw, mean;
    int xpat, ypat;
    int extreme;       /* 1: every 8th element an awkward value; 2: also +-inf/NaN */
    int periodic;      /* inputs repeat with period 257 within each FL_EW_BLOCK block */
    int store;
} ew_case;

static double ew_y(rng_t *r, const ew_case *k, int64_t i)
{
    switch (k->ypat) {
    case Y_HARD:
        return (double)below(r, 2);
    case Y_SOFT:
        return 0.01 + 0.98 * unif(r);
    case Y_MIXED:
        return below(r, 2) ? (double)below(r, 2) : unif(r);
    case Y_SPLIT:
        return i < 4096 ? (double)below(r, 2) : 0.01 + 0.98 * unif(r);
    default:
        return sym(r, 4.0);
    }
}

/* Element i: the target, then the input (an awkward value at every 8th element
 * when k->extreme). */
static void ew_xy(rng_t *r, const ew_case *k, int64_t i, double *x, double *y)
{
    const int e = k->extreme ? (int)(i % 8) : 0;
    *y = ew_y(r, k, i);
    if (k->xpat == X_REG) {
        /* residuals 0, +-delta (the kink of Huber / smooth L1), +-1e4, 1e-20 (on a
         * zero target), the log-cosh cut-off 1/2; NaN (extreme == 2) */
        static const double res[8] = {0.0, 0.0, 1.0, -1.0, 1e4, -1e4, 1e-20, 0.5};
        if (e == 6)
            *y = 0.0;
        if (e == 0)
            *x = sym(r, 4.0);
        else if (k->extreme == 2 && e == 4 && i % 16 == 4)
            *x = (double)NAN;
        else
            *x = *y + (e == 2 || e == 3 ? res[e] * k->p[0] : res[e]);
    } else if (k->xpat == X_LOGIT) {
        /* 0, +-1e4, sigmoid rounding to 1, exp(-|x|) below float32's normal
         * range; +-inf (extreme == 2) */
        static const double lg[8] = {0.0, 0.0, 1e4, -1e4, 30.0, -30.0, 88.8, -88.8};
        if (k->extreme == 2 && e >= 6)
            *x = e == 6 ? INFINITY : -INFINITY;
        else
            *x = e == 0 ? sym(r, 6.0) : lg[e];
    } else {
        /* probabilities 0 and 1, below and above the clip, epsilon itself */
        static const double pr[8] = {0.0, 0.0, 1.0, 1e-9, 1.0 - 1e-9, 1e-7, 0.5, 1e-30};
        *x = e == 0 ? unif(r) : pr[e];
    }
}

static int ew_call(fl_ew_args *a, int t, int nt)
{
    return t == F32 ? fl_ew_f32(a, nt) : fl_ew_f64(a, nt);
}

static void run_ew(const ew_case *k)
{
    rng_t r = rng_for(k->name, 2);
    const int t = k->t;
    const int64_t n = k->a * k->b * k->c, per = k->b * k->c;
    double *xd = dvec(n), *yd = dvec(n), *wd = NULL, *swd = NULL, *pwd = NULL;
    double den;
    void *x, *y, *w = NULL, *sw = NULL, *pw = NULL, *g, *l, *g2, *l2, *gi;
    fl_ew_args a, b;
    int64_t i;
    int status;

    for (i = 0; i < n; i++)
        ew_xy(&r, k, i, xd + i, yd + i);
    if (k->weight) {
        wd = weights(&r, n, 0.0, n);
        for (i = 3; i < n; i += 7)
            wd[i] = 0.0; /* weight 0 removes an element, even a non-finite one */
    }
    for (i = 0; i < n && k->periodic; i += 4096) {
        const int64_t end = i + 4096 < n ? i + 4096 : n;
        repeat257(xd, i, end);
        repeat257(yd, i, end);
        if (wd)
            repeat257(wd, i, end);
    }
    if (k->sw)
        swd = weights(&r, k->a, 0.0, 1);
    if (k->pw)
        pwd = weights(&r, k->c, 0.5, k->c);
    x = cvt(xd, n, t);
    y = cvt(yd, n, t);
    if (wd)
        w = cvt(wd, n, t);
    if (swd)
        sw = cvt(swd, k->a, t);
    if (pwd)
        pw = cvt(pwd, k->c, t);
    g = xmalloc((size_t)n * t);
    l = xmalloc((size_t)n * t);
    g2 = xmalloc((size_t)n * t);
    l2 = xmalloc((size_t)n * t);

    /* "mean" as fastloss/_elementwise.py: D = n, or sum(sample_weight) * elements
     * per sample; the gradient scaled by 1 / D, the loss divided by D */
    den = (double)n;
    if (sw) {
        den = 0.0;
        for (i = 0; i < k->a; i++)
            den += t == F32 ? (double)((float *)sw)[i] : ((double *)sw)[i];
        den *= (double)per;
    }
    memset(&a, 0, sizeof a);
    a.kind = k->kind;
    a.input = x;
    a.target = y;
    a.weight = w;
    a.sample_weight = sw;
    a.pos_weight = pw;
    a.grad = g;
    a.loss_elems = l;
    a.n = n;
    a.c = k->c;
    a.t = per;
    memcpy(a.p, k->p, sizeof a.p);
    a.grad_scale = k->mean ? (den != 0 ? 1.0 / den : 0.0) : 1.0;
    status = ew_call(&a, t, 1);

    begin_case("ew/%s family=ew dtype=%s kind=%d shape=%lld,%lld,%lld p=%.17g,%.17g,"
               "%.17g,%.17g mean=%d store=%d",
               k->name, type_name(t), k->kind, (long long)k->a, (long long)k->b,
               (long long)k->c, k->p[0], k->p[1], k->p[2], k->p[3], k->mean, k->store);
    put_i64("out.status", status);
    b = a;
    b.grad = NULL;
    b.loss_elems = NULL;
    ew_call(&b, t, 1);
    put_i64("chk.fwd", n_diff(&a.loss, &b.loss, 1, 8));
    b = a;
    b.grad = g2;
    b.loss_elems = l2;
    ew_call(&b, t, 2);
    put_i64("chk.nt2", n_diff(g, g2, n, t) + n_diff(l, l2, n, t)
                           + n_diff(&a.loss, &b.loss, 1, 8));
    gi = dup(x, n, t);
    b = a;
    b.input = gi;
    b.grad = gi;
    b.loss_elems = l2;
    ew_call(&b, t, 1);
    put_i64("chk.inplace", n_diff(g, gi, n, t) + n_diff(&a.loss, &b.loss, 1, 8));
    if (k->store) {
        put("in.x", t, x, n);
        put("in.y", t, y, n);
        if (w)
            put("in.w", t, w, n);
        if (sw)
            put("in.sw", t, sw, k->a);
        if (pw)
            put("in.pw", t, pw, k->c);
        put_f64("out.loss", k->mean ? (den != 0 ? a.loss / den : 0.0) : a.loss);
        put("out.grad", t, g, n);
        put("out.elems", t, l, n);
    }
    free(xd);
    free(yd);
    free(wd);
    free(swd);
    free(pwd);
    free(x);
    free(y);
    free(w);
    free(sw);
    free(pw);
    free(g);
    free(l);
    free(g2);
    free(l2);
    free(gi);
}

static void ew_cases(int t)
{
    char name[96];
    const char *ts = t == F32 ? "f32" : "f64";
    static const struct {
        const char *tag;
        int kind;
        double p[4];
        int weight, sw, pw, mean, xpat, ypat, extreme;
        int64_t a, b, c;
    } v[] = {
        {"mse", FL_EW_MSE, {0}, 0, 0, 0, 1, X_REG, Y_REAL, 1, 8, 4, 5},
        {"mse_weights_nan", FL_EW_MSE, {0}, 1, 1, 0, 0, X_REG, Y_REAL, 2, 8, 4, 5},
        {"l1", FL_EW_L1, {0}, 0, 1, 0, 1, X_REG, Y_REAL, 1, 8, 4, 5},
        {"huber", FL_EW_HUBER, {1.0}, 1, 0, 0, 1, X_REG, Y_REAL, 1, 8, 4, 5},
        {"huber_half", FL_EW_HUBER, {0.5}, 0, 0, 0, 0, X_REG, Y_REAL, 1, 8, 4, 5},
        {"smooth_l1", FL_EW_SMOOTH_L1, {1.0}, 0, 1, 0, 1, X_REG, Y_REAL, 1, 8, 4, 5},
        {"smooth_l1_beta0", FL_EW_SMOOTH_L1, {0.0}, 0, 0, 0, 0, X_REG, Y_REAL, 1, 8,
         4, 5},
        {"log_cosh", FL_EW_LOG_COSH, {0}, 1, 1, 0, 1, X_REG, Y_REAL, 1, 8, 4, 5},
        {"bce_logits_hard", FL_EW_BCE_LOGITS, {0}, 0, 0, 0, 1, X_LOGIT, Y_HARD, 1, 8,
         4, 5},
        {"bce_logits_soft_pw", FL_EW_BCE_LOGITS, {0}, 1, 1, 1, 1, X_LOGIT, Y_SOFT, 1,
         8, 4, 5},
        {"bce_logits_smooth", FL_EW_BCE_LOGITS, {0.1}, 0, 0, 1, 0, X_LOGIT, Y_MIXED,
         1, 8, 4, 5},
        {"bce_logits_inf", FL_EW_BCE_LOGITS, {0}, 1, 0, 0, 0, X_LOGIT, Y_HARD, 2, 8,
         4, 5},
        {"bce_prob_hard", FL_EW_BCE_PROB, {1e-7}, 0, 0, 0, 1, X_PROB, Y_HARD, 1, 8,
         4, 5},
        {"bce_prob_soft", FL_EW_BCE_PROB, {1e-7}, 1, 1, 0, 1, X_PROB, Y_SOFT, 1, 8,
         4, 5},
        {"bce_prob_smooth", FL_EW_BCE_PROB, {1e-7, 0.1}, 0, 0, 0, 0, X_PROB, Y_MIXED,
         1, 8, 4, 5},
        {"focal_hard", FL_EW_SIGMOID_FOCAL, {0.25, 2.0}, 0, 0, 0, 1, X_LOGIT, Y_HARD,
         1, 8, 4, 5},
        {"focal_hard_alpha1", FL_EW_SIGMOID_FOCAL, {1.0, 2.0}, 0, 0, 0, 1, X_LOGIT,
         Y_HARD, 1, 8, 4, 5},
        {"focal_hard_gamma1_5", FL_EW_SIGMOID_FOCAL, {0.25, 1.5}, 1, 0, 0, 0, X_LOGIT,
         Y_HARD, 1, 8, 4, 5},
        {"focal_soft_noalpha", FL_EW_SIGMOID_FOCAL, {-1.0, 2.0}, 0, 1, 0, 1, X_LOGIT,
         Y_SOFT, 1, 8, 4, 5},
        {"focal_mixed_gamma0_5", FL_EW_SIGMOID_FOCAL, {0.25, 0.5}, 0, 0, 0, 1,
         X_LOGIT, Y_MIXED, 1, 8, 4, 5},
        {"focal_inf", FL_EW_SIGMOID_FOCAL, {0.25, 2.0}, 0, 0, 0, 0, X_LOGIT, Y_MIXED,
         2, 8, 4, 5},
        /* two reduction blocks of FL_EW_BLOCK, hard targets in the first only */
        {"focal_blocks", FL_EW_SIGMOID_FOCAL, {0.25, 2.0}, 0, 0, 0, 1, X_LOGIT,
         Y_SPLIT, 0, 2, 1025, 2},
        {"bce_logits_blocks", FL_EW_BCE_LOGITS, {0}, 0, 1, 0, 1, X_LOGIT, Y_SPLIT, 0,
         2, 1025, 2},
        {"bce_prob_blocks", FL_EW_BCE_PROB, {1e-7}, 0, 0, 0, 1, X_PROB, Y_SPLIT, 0, 2,
         1025, 2},
    };
    ew_case k;
    size_t j;
    for (j = 0; j < sizeof v / sizeof v[0]; j++) {
        memset(&k, 0, sizeof k);
        snprintf(name, sizeof name, "%s_%s", v[j].tag, ts);
        k.name = name;
        k.t = t;
        k.kind = v[j].kind;
        memcpy(k.p, v[j].p, sizeof k.p);
        k.weight = v[j].weight;
        k.sw = v[j].sw;
        k.pw = v[j].pw;
        k.mean = v[j].mean;
        k.xpat = v[j].xpat;
        k.ypat = v[j].ypat;
        k.extreme = v[j].extreme;
        k.periodic = v[j].a * v[j].b * v[j].c > 4096;
        k.a = v[j].a;
        k.b = v[j].b;
        k.c = v[j].c;
        k.store = 1;
        run_ew(&k);
    }
    /* Threads only: every kind over 10 blocks, across 2 threads. */
    for (j = 0; j < FL_EW_COUNT; j++) {
        memset(&k, 0, sizeof k);
        snprintf(name, sizeof name, "threads_kind%d_%s", (int)j, ts);
        k.name = name;
        k.t = t;
        k.kind = (int)j;
        k.p[0] = j == FL_EW_BCE_PROB ? 1e-7 : j == FL_EW_SIGMOID_FOCAL ? 0.25 : 1.0;
        k.p[1] = j == FL_EW_SIGMOID_FOCAL ? 2.0 : 0.0;
        k.sw = 1;
        k.pw = j == FL_EW_BCE_LOGITS;
        k.mean = 1;
        k.xpat = j == FL_EW_BCE_PROB ? X_PROB
                 : (j == FL_EW_BCE_LOGITS || j == FL_EW_SIGMOID_FOCAL) ? X_LOGIT
                                                                       : X_REG;
        k.ypat = k.xpat == X_REG ? Y_REAL : Y_MIXED;
        k.extreme = 1;
        k.a = 40;
        k.b = 64;
        k.c = 16;
        run_ew(&k);
    }
}

/* ---- row-wise ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int t, kind;
    int64_t n, c;
    double p[4];
    int cw, sw, mean;
    int64_t ignore;
    int ignore_every;
    int pattern;
    int store;
} rw_case;

static int rw_call(fl_rw_args *a, int t, int nt)
{
    return t == F32 ? fl_rw_f32(a, nt) : fl_rw_f64(a, nt);
}

static void run_rw(const rw_case *k)
{
    rng_t r = rng_for(k->name, 3);
    const int t = k->t, tri = k->kind == FL_RW_TRIPLET;
    const int64_t n = k->n, c = k->c, nc = n * c;
    double *xd = dvec(nc), *x2d = NULL, *x3d = NULL, *cwd = NULL, *swd = NULL;
    double *table = periodic_table(&r);
    int64_t *y = NULL, i, j;
    void *x, *x2 = NULL, *x3 = NULL, *cw = NULL, *sw = NULL;
    void *g[3] = {NULL, NULL, NULL}, *h[3] = {NULL, NULL, NULL}, *rows, *rows2, *gi;
    fl_rw_args a, b;
    int status, m, ng = tri ? 3 : 1;

    if (k->kind == FL_RW_FOCAL) {
        y = (int64_t *)xmalloc((size_t)n * sizeof(int64_t));
        for (i = 0; i < n; i++)
            y[i] = k->ignore_every && i % k->ignore_every == 0 ? k->ignore
                                                                : below(&r, c);
    }
    for (i = 0; i < n && !tri; i++) {
        const int64_t keep = y && y[i] >= 0 && y[i] < c ? y[i] : -1;
        logit_row(&r, xd + i * c, i, c, keep, k->pattern, table);
    }
    if (k->kind == FL_RW_KL_LOGITS) {
        /* the teacher is -inf wherever the student is (else the loss is inf), and
         * on its own masks too (extreme rows) */
        rng_t r2 = rng_for(k->name, 4);
        x2d = dvec(nc);
        for (i = 0; i < n; i++)
            logit_row(&r2, x2d + i * c, i + 3, c, -1, k->pattern, table);
        for (i = 0; i < n; i++) {
            int64_t finite = -1;
            for (j = 0; j < c; j++) {
                if (xd[i * c + j] == -INFINITY)
                    x2d[i * c + j] = -INFINITY;
                else if (x2d[i * c + j] != -INFINITY)
                    finite = j;
            }
            for (j = 0; j < c && finite < 0; j++)
                if (xd[i * c + j] != -INFINITY) {
                    x2d[i * c + j] = xd[i * c + j];
                    finite = j;
                }
        }
    } else if (k->kind == FL_RW_KL_PROBS) {
        x2d = prob_rows(&r, xd, n, c, 1, k->pattern == P_PERIODIC);
    } else if (tri) {
        /* positive near the anchor, negative further off; a row whose positive is
         * the anchor, and (swap) one whose negative is nearer the positive.
         * "Extreme": entries of order 1e4. */
        const double a = k->pattern == P_EXTREME ? 1e4 : 2.0;
        x2d = dvec(nc);
        x3d = dvec(nc);
        for (i = 0; i < n; i++)
            for (j = 0; j < c; j++) {
                const int64_t q = i * c + j;
                xd[q] = sym(&r, a);
                x2d[q] = i % 4 == 1 ? xd[q] : xd[q] + sym(&r, a / 4);
                x3d[q] = i % 4 == 2 ? x2d[q] + sym(&r, a / 10)
                                    : xd[q] + sym(&r, 1.5 * a);
            }
    }
    if (k->cw) {
        cwd = weights(&r, c, 0.25, 2);
        if (k->pattern == P_PERIODIC)
            repeat257(cwd, 0, c);
    }
    if (k->sw)
        swd = weights(&r, n, 0.0, 1);
    x = cvt(xd, nc, t);
    if (x2d)
        x2 = cvt(x2d, nc, t);
    if (x3d)
        x3 = cvt(x3d, nc, t);
    if (cwd)
        cw = cvt(cwd, c, t);
    if (swd)
        sw = cvt(swd, n, t);
    for (m = 0; m < ng; m++) {
        g[m] = xmalloc((size_t)nc * t);
        h[m] = xmalloc((size_t)nc * t);
    }
    rows = xmalloc((size_t)n * t);
    rows2 = xmalloc((size_t)n * t);

    memset(&a, 0, sizeof a);
    a.kind = k->kind;
    a.x = x;
    a.x2 = x2;
    a.x3 = x3;
    a.target = y;
    a.class_weight = cw;
    a.sample_weight = sw;
    a.grad = g[0];
    a.grad2 = g[1];
    a.grad3 = g[2];
    a.loss_rows = rows;
    a.n = n;
    a.c = c;
    a.ignore_index = k->ignore;
    memcpy(a.p, k->p, sizeof a.p);
    a.mean = k->mean;
    status = rw_call(&a, t, 1);

    begin_case("rw/%s family=rw dtype=%s kind=%d n=%lld c=%lld ignore_index=%lld "
               "p=%.17g,%.17g,%.17g,%.17g mean=%d store=%d",
               k->name, type_name(t), k->kind, (long long)n, (long long)c,
               (long long)k->ignore, k->p[0], k->p[1], k->p[2], k->p[3], k->mean,
               k->store);
    put_i64("out.status", status);
    b = a;
    b.grad = b.grad2 = b.grad3 = NULL;
    b.loss_rows = NULL;
    rw_call(&b, t, 1);
    put_i64("chk.fwd", n_diff(&a.loss, &b.loss, 1, 8));
    b = a;
    b.grad = h[0];
    b.grad2 = h[1];
    b.grad3 = h[2];
    b.loss_rows = rows2;
    rw_call(&b, t, 2);
    {
        int64_t bad = n_diff(rows, rows2, n, t) + n_diff(&a.loss, &b.loss, 1, 8);
        for (m = 0; m < ng; m++)
            bad += n_diff(g[m], h[m], nc, t);
        put_i64("chk.nt2", bad);
    }
    gi = dup(x, nc, t);
    b = a;
    b.x = gi;
    b.grad = gi;
    b.grad2 = h[1];
    b.grad3 = h[2];
    b.loss_rows = rows2;
    rw_call(&b, t, 1);
    put_i64("chk.inplace", n_diff(g[0], gi, nc, t) + n_diff(&a.loss, &b.loss, 1, 8));
    if (k->store) {
        put("in.x", t, x, nc);
        if (x2)
            put("in.x2", t, x2, nc);
        if (x3)
            put("in.x3", t, x3, nc);
        if (y)
            put("in.y", I64, y, n);
        if (cw)
            put("in.cw", t, cw, c);
        if (sw)
            put("in.sw", t, sw, n);
        put_f64("out.loss", a.loss);
        put_f64("out.den", a.denominator);
        put("out.grad", t, g[0], nc);
        if (tri) {
            put("out.grad2", t, g[1], nc);
            put("out.grad3", t, g[2], nc);
        }
        put("out.rows", t, rows, n);
    }
    free(xd);
    free(x2d);
    free(x3d);
    free(cwd);
    free(swd);
    free(table);
    free(y);
    free(x);
    free(x2);
    free(x3);
    free(cw);
    free(sw);
    for (m = 0; m < ng; m++) {
        free(g[m]);
        free(h[m]);
    }
    free(rows);
    free(rows2);
    free(gi);
}

static void rw_cases(int t)
{
    char name[96];
    const char *ts = t == F32 ? "f32" : "f64";
    /* Row lengths around the sweep-2 groups of 8 (16 on avx512) lanes. */
    static const int64_t cs[] = {1, 8, 9, 17, 33};
    static const struct {
        const char *tag;
        int kind;
        double p[4];
        int cw, sw, mean, ignore_every, pattern;
        int64_t n;
    } v[] = {
        {"focal_g2", FL_RW_FOCAL, {2.0}, 0, 0, 1, 0, P_RANDOM, 5},
        {"focal_g0_weights", FL_RW_FOCAL, {0.0}, 1, 1, 1, 3, P_RANDOM, 5},
        {"focal_g0_5_extreme", FL_RW_FOCAL, {0.5}, 1, 0, 0, 0, P_EXTREME, 7},
        {"focal_g1_ignore", FL_RW_FOCAL, {1.0}, 0, 1, 0, 2, P_RANDOM, 5},
        {"kl_t1", FL_RW_KL_LOGITS, {1.0}, 0, 0, 1, 0, P_RANDOM, 5},
        {"kl_t2_extreme", FL_RW_KL_LOGITS, {2.0}, 0, 1, 0, 0, P_EXTREME, 7},
        {"klp_t1", FL_RW_KL_PROBS, {1.0}, 0, 1, 1, 0, P_RANDOM, 5},
        {"klp_t3_extreme", FL_RW_KL_PROBS, {3.0}, 0, 0, 0, 0, P_EXTREME, 7},
        {"triplet_p2", FL_RW_TRIPLET, {1.0, 2.0, 1e-6, 0.0}, 0, 0, 1, 0, P_RANDOM, 4},
        {"triplet_p1_swap", FL_RW_TRIPLET, {1.0, 1.0, 1e-6, 1.0}, 0, 1, 0, 0, P_RANDOM,
         4},
        {"triplet_p3_swap", FL_RW_TRIPLET, {2.0, 3.0, 1e-6, 1.0}, 0, 1, 1, 0, P_RANDOM,
         4},
        {"triplet_p2_large", FL_RW_TRIPLET, {1.0, 2.0, 0.0, 0.0}, 0, 0, 0, 0, P_EXTREME,
         4},
    };
    rw_case k;
    size_t j, q;
    for (j = 0; j < sizeof v / sizeof v[0]; j++)
        for (q = 0; q < sizeof cs / sizeof cs[0]; q++) {
            memset(&k, 0, sizeof k);
            snprintf(name, sizeof name, "%s_c%02lld_%s", v[j].tag, (long long)cs[q],
                     ts);
            k.name = name;
            k.t = t;
            k.kind = v[j].kind;
            memcpy(k.p, v[j].p, sizeof k.p);
            k.cw = v[j].cw;
            k.sw = v[j].sw;
            k.mean = v[j].mean;
            k.ignore = -100;
            k.ignore_every = v[j].ignore_every;
            k.pattern = v[j].pattern;
            k.n = v[j].n;
            k.c = cs[q];
            k.store = 1;
            run_rw(&k);
        }
    /* Long rows: the chunked path (split across 2 threads in chk.nt2). */
    for (j = 0; j < 3; j++) {
        memset(&k, 0, sizeof k);
        k.kind = (int)j;
        snprintf(name, sizeof name, "%s_row16500_%s",
                 j == 0 ? "focal" : j == 1 ? "kl" : "klp", ts);
        k.name = name;
        k.t = t;
        k.p[0] = j == 0 ? 2.0 : 1.5;
        k.sw = 1;
        k.cw = j == 0;
        k.mean = 1;
        k.ignore = -100;
        k.pattern = P_PERIODIC;
        k.n = 2;
        k.c = 16500;
        k.store = 1;
        run_rw(&k);
    }
    /* Threads only: many rows across 2 threads. */
    for (j = 0; j < FL_RW_COUNT; j++) {
        memset(&k, 0, sizeof k);
        k.kind = (int)j;
        snprintf(name, sizeof name, "threads_kind%d_%s", (int)j, ts);
        k.name = name;
        k.t = t;
        k.p[0] = j == FL_RW_TRIPLET ? 1.0 : 2.0;
        k.p[1] = j == FL_RW_TRIPLET ? 2.0 : 0.0;
        k.p[2] = j == FL_RW_TRIPLET ? 1e-6 : 0.0;
        k.sw = 1;
        k.mean = 1;
        k.ignore = -100;
        k.ignore_every = j == FL_RW_FOCAL ? 5 : 0;
        k.pattern = j == FL_RW_TRIPLET ? P_RANDOM : P_EXTREME;
        k.n = 1500;
        k.c = 33;
        run_rw(&k);
    }
}

/* ---- optimizer steps ----------------------------------------------------------- */

/* Gradients with exact zeros (dead units), tiny values (moments below the smallest
 * normal number are stored as 0) and large ones. */
static double opt_grad(rng_t *r, int64_t k)
{
    switch (k % 11) {
    case 3:
        return 0.0;
    case 5:
        return sym(r, 1e-20);
    case 7:
        return sym(r, 1e4);
    default:
        return sym(r, 2.0);
    }
}

/* Three steps of Adam(W) (`adam`) or SGD, n elements; inputs p0 and the gradients
 * of every step, the per-step coefficients as the optimizers compute them (powers
 * by repeated products, sqrt correctly rounded: the same bits everywhere). */
static void run_opt(const char *name, int t, int adam, int64_t n, double lr, double wd,
                    double mu, int nesterov, int store)
{
    enum { STEPS = 3 };
    rng_t r = rng_for(name, 5);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
    double *pd = dvec(n), *gd = dvec(STEPS * n), coef[6 * STEPS], b1t = 1.0, b2t = 1.0;
    void *p, *g, *m, *v, *p2, *m2, *v2;
    int64_t k;
    int s, nt;
    for (k = 0; k < n; k++)
        pd[k] = sym(&r, 3.0);
    for (k = 0; k < STEPS * n; k++)
        gd[k] = opt_grad(&r, k);
    if (store) {
        repeat257(pd, 0, n);
        for (s = 0; s < STEPS; s++)
            repeat257(gd + s * n, 0, n);
    }
    for (s = 0; s < STEPS; s++) {
        b1t *= b1;
        b2t *= b2;
        coef[6 * s + 0] = 1.0 - lr * wd;
        coef[6 * s + 1] = b1;
        coef[6 * s + 2] = b2;
        coef[6 * s + 3] = sqrt(1.0 - b2t);
        coef[6 * s + 4] = eps;
        coef[6 * s + 5] = lr / (1.0 - b1t);
    }
    g = cvt(gd, STEPS * n, t);
    p = cvt(pd, n, t);
    p2 = cvt(pd, n, t);
    m = xmalloc((size_t)n * t);
    v = xmalloc((size_t)n * t);
    m2 = xmalloc((size_t)n * t);
    v2 = xmalloc((size_t)n * t);
    for (nt = 1; nt <= 2; nt++) {
        void *pp = nt == 1 ? p : p2, *mm = nt == 1 ? m : m2, *vv = nt == 1 ? v : v2;
        for (s = 0; s < STEPS; s++) {
            const char *gs = (const char *)g + (size_t)s * (size_t)n * (size_t)t;
            if (adam) {
                fl_adam_coef cf;
                cf.decay = coef[6 * s + 0];
                cf.b1 = coef[6 * s + 1];
                cf.b2 = coef[6 * s + 2];
                cf.sqrt_bc2 = coef[6 * s + 3];
                cf.eps = coef[6 * s + 4];
                cf.step = coef[6 * s + 5];
                if (t == F32)
                    fl_adam_f32((float *)pp, (const float *)gs, (float *)mm,
                                (float *)vv, n, &cf, nt);
                else
                    fl_adam_f64((double *)pp, (const double *)gs, (double *)mm,
                                (double *)vv, n, &cf, nt);
            } else if (t == F32) {
                fl_sgd_f32((float *)pp, (const float *)gs, mu > 0 ? (float *)mm : NULL,
                           n, lr, mu, nesterov, nt);
            } else {
                fl_sgd_f64((double *)pp, (const double *)gs,
                           mu > 0 ? (double *)mm : NULL, n, lr, mu, nesterov, nt);
            }
        }
    }
    begin_case("opt/%s family=%s dtype=%s n=%lld steps=%d lr=%.17g weight_decay=%.17g "
               "momentum=%.17g nesterov=%d store=%d",
               name, adam ? "adam" : "sgd", type_name(t), (long long)n, STEPS, lr, wd,
               mu, nesterov, store);
    put_i64("chk.nt2", n_diff(p, p2, n, t) + n_diff(m, m2, n, t) + n_diff(v, v2, n, t));
    if (store) {
        void *p0 = cvt(pd, n, t);
        put("in.p", t, p0, n);
        free(p0);
        put("in.g", t, g, STEPS * n);
        put("in.coef", F64, coef, 6 * STEPS);
        put("out.p", t, p, n);
        if (adam || mu > 0)
            put("out.m", t, m, n);
        if (adam)
            put("out.v", t, v, n);
    }
    free(pd);
    free(gd);
    free(g);
    free(p);
    free(p2);
    free(m);
    free(v);
    free(m2);
    free(v2);
}

static void opt_cases(int t)
{
    char name[96];
    const char *ts = t == F32 ? "f32" : "f64";
    int big;
    /* 4103 elements: one whole FL_CHUNK block and a short one; 40000 (threads
     * only) crosses FL_PARALLEL_MIN */
    for (big = 0; big <= 1; big++) {
        const int64_t n = big ? 40000 : 4103;
        const char *sz = big ? "threads_" : "";
        snprintf(name, sizeof name, "%sadam_%s", sz, ts);
        run_opt(name, t, 1, n, 1e-2, 0.0, 0.0, 0, !big);
        snprintf(name, sizeof name, "%sadamw_%s", sz, ts);
        run_opt(name, t, 1, n, 1e-2, 0.1, 0.0, 0, !big);
        snprintf(name, sizeof name, "%ssgd_%s", sz, ts);
        run_opt(name, t, 0, n, 0.1, 0.0, 0.0, 0, !big);
        snprintf(name, sizeof name, "%ssgd_momentum_%s", sz, ts);
        run_opt(name, t, 0, n, 0.1, 0.0, 0.9, 0, !big);
        snprintf(name, sizeof name, "%ssgd_nesterov_%s", sz, ts);
        run_opt(name, t, 0, n, 0.1, 0.0, 0.9, 1, !big);
    }
}

/* ---- the kernels' exp ---------------------------------------------------------- */

static void vexp_case(int t)
{
    /* A sweep from below the underflow clamp to 88 (float32) / 709 (float64), the
     * range-reduction boundaries, the clamps, signed zeros, infinities and NaN.
     * Not (88.38, 88.72] / (709.44, 709.78]: there 2^n of the range reduction
     * overflows and the kernels' exp gives inf on every architecture (finite
     * exp(x) just below the overflow clamp; no kernel calls it with x > 0). */
    const double lo = t == F32 ? -104.0 : -750.0, hi = t == F32 ? 88.0 : 709.0;
    const double special[] = {0.0, -0.0, 1e-30, -1e-30, 0.34657359027997264,
                              -0.34657359027997264, 0.6931471805599453,
                              -0.6931471805599453, -87.33654, -87.336548, 88.73, 92.0,
                              -708.3964185322641, -708.39641853226424, 709.79, 712.0,
                              INFINITY, -INFINITY, (double)NAN};
    const int64_t ns = (int64_t)(sizeof special / sizeof special[0]), nsweep = 700;
    const int64_t n = nsweep + ns + 100;
    char name[32];
    rng_t r;
    double *xd = dvec(n);
    void *x, *o;
    int64_t k;
    snprintf(name, sizeof name, "vexp_%s", type_name(t));
    r = rng_for(name, 6);
    for (k = 0; k < nsweep; k++)
        xd[k] = lo + (hi - lo) * ((double)k / (double)(nsweep - 1));
    for (k = 0; k < ns; k++)
        xd[nsweep + k] = special[k];
    for (k = nsweep + ns; k < n; k++)
        xd[k] = sym(&r, 10.0);
    x = cvt(xd, n, t);
    o = xmalloc((size_t)n * t);
    if (t == F32)
        fl_vexp_f32((const float *)x, (float *)o, n);
    else
        fl_vexp_f64((const double *)x, (double *)o, n);
    begin_case("vexp/%s family=vexp dtype=%s n=%lld store=1", name, type_name(t),
               (long long)n);
    put("in.x", t, x, n);
    put("out.y", t, o, n);
    free(xd);
    free(x);
    free(o);
}

int main(int argc, char **argv)
{
    int t;
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_FILE\n", argv[0]);
        return 2;
    }
    out_file = fopen(argv[1], "wb");
    if (!out_file) {
        perror(argv[1]);
        return 2;
    }
    /* The baseline path: the one every architecture has (and the x86-64 default
     * until the bindings pick a better one). */
    if (fl_simd_set(FL_SIMD_BASELINE) != 0) {
        fprintf(stderr, "driver: the baseline SIMD path is not available\n");
        return 2;
    }
    fprintf(out_file, "# fastloss kernel check, openmp=%d max_threads=%d\n",
            fl_have_openmp(), fl_max_threads());
    for (t = F32; t <= F64; t += F64 - F32) {
        sce_cases(t);
        ew_cases(t);
        rw_cases(t);
        opt_cases(t);
        vexp_case(t);
    }
    fputs("E\n", out_file);
    if (fclose(out_file) != 0) {
        perror(argv[1]);
        return 2;
    }
    return 0;
}
