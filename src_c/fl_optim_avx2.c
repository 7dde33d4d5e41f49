/* Fused optimizer steps, AVX2+FMA instances (see fl_instances.h). */
#include "fl_optim.h"

#define FL_IMPL "fl_optim_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX2
#include "fl_instances.h"
