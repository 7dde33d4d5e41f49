/* Elementwise losses, float32 AVX2+FMA instances (see fl_instances.h). */
#include "fl_elementwise.h"

#define FL_IMPL "fl_elementwise_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX2
#define FL_INSTANCE_DTYPE 32
#include "fl_instances.h"
