/* Elementwise losses, float32 baseline instances (see fl_instances.h). */
#include "fl_elementwise.h"

#define FL_IMPL "fl_elementwise_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#define FL_INSTANCE_DTYPE 32
#include "fl_instances.h"
