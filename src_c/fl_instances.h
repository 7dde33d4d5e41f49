/* Every SIMD path's instantiation of one kernel family, and FL_PICK, its run-time
 * choice. Included once by each family's .c file with FL_IMPL defined (the kernel
 * body header, compiled once per path and dtype: see fl_instance.h).
 *
 * The AVX2 and AVX-512 paths are the same source compiled function by function for
 * another target (no -march flag: the extension runs on any x86-64), and
 * fl_dispatch.c says which this CPU can run. */
#include "fl_dispatch.h"

#define FL_DEXP FL_CAT2(fl_exp, FL_PATH)
#define FL_DLOG FL_CAT2(fl_log, FL_PATH)
#define FL_DLOG1P FL_CAT2(fl_log1p, FL_PATH)

/* Baseline: whatever the compiler targets by default (SSE2 on x86-64). */
#define FL_PATH base
#define FL_PATH_FMA 0
#define FL_PATH_VBYTES 16
#include "fl_instance.h"
#undef FL_PATH
#undef FL_PATH_FMA
#undef FL_PATH_VBYTES

#if FL_HAVE_AVX2_PATH
/* AVX2 + FMA: x86-64-v3. */
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#define FL_PATH_FMA 1
#define FL_PATH_VBYTES 32
#include "fl_instance.h"
#undef FL_PATH
#undef FL_PATH_FMA
#undef FL_PATH_VBYTES
#pragma GCC pop_options
#define FL_PICK_AVX2(name, ts, other) \
    (fl_simd_get() == FL_SIMD_AVX2 ? FL_CAT3(name, ts, avx2) : (other))
#else
#define FL_PICK_AVX2(name, ts, other) (other)
#endif

#if FL_HAVE_AVX512_PATH
/* AVX-512 F/VL/BW/DQ on top of AVX2 (x86-64-v4). prefer-vector-width=512: loops
 * 512 bits wide (16 floats, 8 doubles) whatever -mtune the build passes (gcc 12
 * with -mtune=icelake-server, for one, stops at 256 bits). */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx,avx2,fma,bmi,bmi2,f16c," \
                   "prefer-vector-width=512")
#define FL_PATH avx512
#define FL_PATH_FMA 1
#define FL_PATH_VBYTES 64
#include "fl_instance.h"
#undef FL_PATH
#undef FL_PATH_FMA
#undef FL_PATH_VBYTES
#pragma GCC pop_options
#define FL_PICK_AVX512(name, ts, other) \
    (fl_simd_get() == FL_SIMD_AVX512 ? FL_CAT3(name, ts, avx512) : (other))
#else
#define FL_PICK_AVX512(name, ts, other) (other)
#endif

#undef FL_DEXP
#undef FL_DLOG
#undef FL_DLOG1P

/* The instance of `name` for dtype `ts` (f32/f64) on the path in use. */
#define FL_PICK(name, ts) \
    FL_PICK_AVX512(name, ts, FL_PICK_AVX2(name, ts, FL_CAT3(name, ts, base)))
