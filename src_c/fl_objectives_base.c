/* Gradient-boosting objectives, baseline instances (see fl_instances.h). */
#include "fl_objectives.h"

#define FL_IMPL "fl_objectives_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#include "fl_instances.h"
