/* Gradient-boosting objectives, AVX2+FMA instances (see fl_instances.h). */
#include "fl_objectives.h"

#define FL_IMPL "fl_objectives_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX2
#include "fl_instances.h"
