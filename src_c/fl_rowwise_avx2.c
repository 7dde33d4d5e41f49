/* Row-wise losses, AVX2+FMA instances (see fl_instances.h). */
#include "fl_rowwise.h"

#define FL_IMPL "fl_rowwise_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX2
#include "fl_instances.h"
