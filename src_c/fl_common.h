/* Shared definitions for the fastloss C99 kernels: portability macros, OpenMP shims,
 * token pasting for the per-type / per-SIMD-path instantiations. */
#ifndef FL_COMMON_H
#define FL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define FL_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FL_INLINE static __forceinline /* MSVC's C mode: no C99 `inline` before VS 2015 */
#else
#define FL_INLINE static inline
#endif

#ifndef FL_HAVE_OPENMP
#define FL_HAVE_OPENMP 0
#endif
#if FL_HAVE_OPENMP
#include <omp.h>
#endif

/* AVX2+FMA and AVX-512 instantiations of every kernel are compiled with a
 * per-function target (no -march flag), and fl_dispatch.c picks one at run time.
 * The AVX-512 one needs the prefer-vector-width target option (gcc 8). */
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define FL_HAVE_AVX2_PATH 1
#define FL_HAVE_AVX512_PATH (__GNUC__ >= 8)
#else
#define FL_HAVE_AVX2_PATH 0
#define FL_HAVE_AVX512_PATH 0
#endif

#define FL_CAT2_(a, b) a##_##b
#define FL_CAT2(a, b) FL_CAT2_(a, b)
#define FL_CAT3_(a, b, c) a##_##b##_##c
#define FL_CAT3(a, b, c) FL_CAT3_(a, b, c)

/* SIMD paths, best last (fl_simd_best counts down), in the order of SIMD_NAMES in
 * fastloss/_kernels.pyx. Macros, not an enum: fl_instances.h tests them with #if. */
#define FL_SIMD_BASELINE 0
#define FL_SIMD_AVX2 1
#define FL_SIMD_AVX512 2

/* X(ts, T, path) for every dtype and SIMD path: each family's header declares its
 * instances' entry points with it (fl_instances.h). */
#define FL_FOR_EACH_INSTANCE(X)                                                 \
    X(f32, float, base) X(f64, double, base) X(f32, float, avx2)                 \
    X(f64, double, avx2) X(f32, float, avx512) X(f64, double, avx512)

/* Rows are split across threads only when a row is at least this long and there are
 * few rows; below FL_PARALLEL_MIN elements a call stays on one thread (a parallel
 * region costs a few microseconds). */
#define FL_SPLIT_MIN_COLS 16384
#define FL_PARALLEL_MIN 32768

/* Reductions along a row are done over fixed chunks of FL_CHUNK elements, and the chunk
 * partials are added in chunk order. The chunking does not depend on the thread
 * count, so a row split across threads gives the same bits as a row done by one. */
#define FL_CHUNK 4096

/* Rows of at most this many classes take the padded short-row path. */
#ifndef FL_TINY_MAX_C
#define FL_TINY_MAX_C 32
#endif

/* What sweep 2 of the softmax kernels accumulates besides sum exp. */
enum { FL_MODE_HARD = 0, FL_MODE_HARD_SMOOTH = 1, FL_MODE_SOFT = 2 };

#endif
