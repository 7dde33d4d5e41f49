/* Softmax cross-entropy, baseline instances (see fl_instances.h). */
#include "fl_softmax_ce.h"

#define FL_IMPL "fl_softmax_ce_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_BASELINE
#include "fl_instances.h"
