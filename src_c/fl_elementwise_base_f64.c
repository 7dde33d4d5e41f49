/* Elementwise losses, float64 baseline instances (see fl_instances.h). */
#include "fl_elementwise.h"

#define FL_IMPL "fl_elementwise_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#define FL_INSTANCE_DTYPE 64
#include "fl_instances.h"
