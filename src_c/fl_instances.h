/* One SIMD path's instances of one kernel family. Each family has one file per path,
 * fl_<family>_base.c, _avx2.c and _avx512.c, that defines FL_IMPL (the family's
 * kernel body header, compiled once per dtype: see fl_instance.h) and
 * FL_INSTANCE_PATH (FL_SIMD_BASELINE, FL_SIMD_AVX2 or FL_SIMD_AVX512) and includes
 * this header; the elementwise losses have one per path and dtype
 * (fl_elementwise_<path>_f32.c, _f64.c: FL_INSTANCE_DTYPE too). The family's entry
 * points (fl_<family>.c) pick an instance at run time with FL_PICK (fl_dispatch.h).
 * One path per translation unit, so that the paths compile in parallel and no
 * compiler process holds them all (the three paths of the elementwise losses in one
 * file took 190 s and 1.1 GB to compile).
 *
 * An instance's entry points are extern, named <name>_<f32|f64>_<path> and declared
 * in the family's header; the rest is static. The AVX2 and AVX-512 paths are the
 * same source compiled function by function for another target (no -march flag: the
 * extension runs on any x86-64); where the compiler cannot build them (fl_common.h)
 * their files compile to nothing, and fl_dispatch.c says which this CPU can run. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fl_common.h"
#include "fl_dispatch.h"

#define FL_DEXP FL_CAT2(fl_exp, FL_PATH)
#define FL_DLOG FL_CAT2(fl_log, FL_PATH)
#define FL_DLOG1P FL_CAT2(fl_log1p, FL_PATH)

#if FL_INSTANCE_PATH == FL_SIMD_BASELINE
/* Baseline: whatever the compiler targets by default (SSE2 on x86-64). */
#define FL_PATH base
#define FL_PATH_FMA 0
#define FL_PATH_VBYTES 16
#include "fl_instance.h"

#elif FL_INSTANCE_PATH == FL_SIMD_AVX2
#if FL_HAVE_AVX2_PATH
/* AVX2 + FMA: x86-64-v3. */
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,bmi,bmi2,f16c")
#define FL_PATH avx2
#define FL_PATH_FMA 1
#define FL_PATH_VBYTES 32
#include "fl_instance.h"
#pragma GCC pop_options
#endif

#elif FL_INSTANCE_PATH == FL_SIMD_AVX512
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
#pragma GCC pop_options
#endif

#else
#error "FL_INSTANCE_PATH must be FL_SIMD_BASELINE, FL_SIMD_AVX2 or FL_SIMD_AVX512"
#endif
