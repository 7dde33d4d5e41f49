/* One SIMD path's instantiation of a kernel family, included by fl_instances.h with
 * FL_PATH (the suffix of every function name), FL_PATH_FMA (1 where the target has
 * FMA), FL_PATH_VBYTES (its vector width in bytes) and FL_IMPL (the family's kernel
 * body) defined. No include guard on purpose.
 *
 * Includes the path's math helpers, then FL_IMPL once per dtype with FL_T, FL_TS
 * (f32/f64), FL_F64 and the helpers' names defined: FL_EXP, FL_TLOG, FL_TLOG1P (and
 * FL_EXPNP, exp for arguments <= 0 without the overflow clamp, and FL_TLOG1P01,
 * log1p for arguments in [0, 1] in one division) for
 * FL_T, and FL_DEXP, FL_DLOG, FL_DLOG1P for double (defined by fl_instances.h).
 * With FL_INSTANCE_DTYPE defined (32 or 64), that dtype alone: a family whose
 * instances take long to compile has a file per path and dtype. */
#include "fl_math_impl.h"

#if !defined(FL_INSTANCE_DTYPE) || FL_INSTANCE_DTYPE == 32
#define FL_T float
#define FL_TS f32
#define FL_F64 0
#define FL_EXP FL_CAT2(fl_expf, FL_PATH)
#define FL_EXPNP FL_CAT2(fl_expf_nonpos, FL_PATH)
#define FL_TLOG FL_CAT2(fl_logf, FL_PATH)
#define FL_TLOG1P FL_CAT2(fl_log1pf, FL_PATH)
#define FL_TLOG1P01 FL_CAT2(fl_log1pf01, FL_PATH)
#define FL_FABS fabsf
#include FL_IMPL
#undef FL_T
#undef FL_TS
#undef FL_F64
#undef FL_EXP
#undef FL_EXPNP
#undef FL_TLOG
#undef FL_TLOG1P
#undef FL_TLOG1P01
#undef FL_FABS
#endif

#if !defined(FL_INSTANCE_DTYPE) || FL_INSTANCE_DTYPE == 64
#define FL_T double
#define FL_TS f64
#define FL_F64 1
#define FL_EXP FL_DEXP
#define FL_EXPNP FL_CAT2(fl_exp_nonpos, FL_PATH)
#define FL_TLOG FL_DLOG
#define FL_TLOG1P FL_DLOG1P
#define FL_TLOG1P01 FL_CAT2(fl_log1p01, FL_PATH)
#define FL_FABS fabs
#include FL_IMPL
#undef FL_T
#undef FL_TS
#undef FL_F64
#undef FL_EXP
#undef FL_EXPNP
#undef FL_TLOG
#undef FL_TLOG1P
#undef FL_TLOG1P01
#undef FL_FABS
#endif
