/* Fused optimizer steps, AVX-512 instances (see fl_instances.h). */
#include "fl_optim.h"

#define FL_IMPL "fl_optim_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX512
#include "fl_instances.h"
