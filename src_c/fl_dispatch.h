/* Run-time choice of the SIMD path (no -march flag at build time). */
#ifndef FL_DISPATCH_H
#define FL_DISPATCH_H

#include "fl_common.h"

/* 1 when this CPU (and OS) can run the given path. */
int fl_simd_supported(int path);
/* The path the kernels use now. */
int fl_simd_get(void);
/* Forces a path; returns 0, or -1 (and changes nothing) when unsupported. */
int fl_simd_set(int path);
/* The best supported path. */
int fl_simd_best(void);
/* FL_PICK(name, ts): the instance of the entry point `name` for dtype `ts` (f32/f64)
 * on the path in use (the instances: fl_instances.h). */
#if FL_HAVE_AVX2_PATH
#define FL_PICK_AVX2(name, ts, other) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : (other))
#else
#define FL_PICK_AVX2(name, ts, other) (other)
#endif
#if FL_HAVE_AVX512_PATH
#define FL_PICK_AVX512(name, ts, other) \
    (fl_simd_get() == FL_SIMD_AVX512 ? FL_CAT3(name, ts, avx512) : (other))
#else
#define FL_PICK_AVX512(name, ts, other) (other)
#endif
#define FL_PICK(name, ts) \
    FL_PICK_AVX512(name, ts, FL_PICK_AVX2(name, ts, FL_CAT3(name, ts, base)))

/* 1 when built with OpenMP. */
int fl_have_openmp(void);
/* The compiler that built the kernels, e.g. "gcc 12.2.0" or "clang 14.0.6". */
const char *fl_compiler(void);
/* omp_get_max_threads(), or 1 in a serial build. */
int fl_max_threads(void);


/* Fixed-order parallel reduction shared by every kernel: runs block(ctx, b) for b in
 * [0, nb) on up to n_threads threads (static schedule; no OpenMP call at all when one
 * thread, since a parallel region costs even then) and adds the block results in
 * block order, so the total does not depend on the thread count. Returns 0, or -1
 * when out of memory for the per-block results. */
typedef double (*fl_block_fn)(const void *ctx, int64_t b);
int fl_sum_blocks(fl_block_fn block, const void *ctx, int64_t nb, int n_threads,
                  double *total);

#endif
