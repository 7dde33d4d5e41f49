/* Fused optimizer steps, baseline instances (see fl_instances.h). */
#include "fl_optim.h"

#define FL_IMPL "fl_optim_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#include "fl_instances.h"
