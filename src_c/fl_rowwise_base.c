/* Row-wise losses, baseline instances (see fl_instances.h). */
#include "fl_rowwise.h"

#define FL_IMPL "fl_rowwise_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#include "fl_instances.h"
