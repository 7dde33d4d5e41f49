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
    return 0;
}

int fl_simd_best(void)
{
    return fl_simd_supported(FL_SIMD_AVX2) ? FL_SIMD_AVX2 : FL_SIMD_BASELINE;
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

int fl_max_threads(void)
{
#if FL_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
