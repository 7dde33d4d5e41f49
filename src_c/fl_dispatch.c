#include <stdlib.h>

#include "fl_dispatch.h"

/* Set once at import by the bindings (fl_simd_set(fl_simd_best()) or the user's
 * choice); read by every kernel entry point. */
static int fl_simd_path = FL_SIMD_BASELINE;

int fl_simd_supported(int path)
{
    if (path == FL_SIMD_BASELINE)
        return 1;
#if FL_HAVE_AVX2_PATH
    if (path == FL_SIMD_AVX2) {
        /* libgcc's check includes the OS's XSAVE support for the AVX state. */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
#endif
#if FL_HAVE_AVX512_PATH
    if (path == FL_SIMD_AVX512) {
        /* Also false when the OS does not save the ZMM and mask registers. */
        __builtin_cpu_init();
        return fl_simd_supported(FL_SIMD_AVX2) && __builtin_cpu_supports("avx512f")
               && __builtin_cpu_supports("avx512vl")
               && __builtin_cpu_supports("avx512bw")
               && __builtin_cpu_supports("avx512dq");
    }
#endif
    return 0;
}

int fl_simd_best(void)
{
    int path = FL_SIMD_AVX512;
    while (path > FL_SIMD_BASELINE && !fl_simd_supported(path))
        path--;
    return path;
}

int fl_simd_get(void) { return fl_simd_path; }

int fl_simd_set(int path)
{
    if (!fl_simd_supported(path))
        return -1;
    fl_simd_path = path;
    return 0;
}

int fl_have_openmp(void) { return FL_HAVE_OPENMP; }

#define FL_STR_(x) #x
#define FL_STR(x) FL_STR_(x)

const char *fl_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " FL_STR(_MSC_FULL_VER);
#else
    return "unknown";
#endif
}

int fl_max_threads(void)
{
#if FL_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int fl_sum_blocks(fl_block_fn block, const void *ctx, int64_t nb, int n_threads,
                  double *total)
{
    double stack_partial[256], *partial = stack_partial, sum = 0.0;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t b;
    if (nt > nb)
        nt = nb < 1 ? 1 : (int)nb;
    if (nb > (int64_t)(sizeof(stack_partial) / sizeof(double))) {
        partial = (double *)malloc((size_t)nb * sizeof(double));
        if (!partial)
            return -1;
    }
    if (nt > 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (b = 0; b < nb; b++)
            partial[b] = block(ctx, b);
    } else {
        for (b = 0; b < nb; b++)
            partial[b] = block(ctx, b);
    }
    for (b = 0; b < nb; b++)
        sum += partial[b];
    if (partial != stack_partial)
        free(partial);
    *total = sum;
    return 0;
}
