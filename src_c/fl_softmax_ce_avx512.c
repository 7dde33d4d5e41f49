/* Softmax cross-entropy, AVX-512 instances (see fl_instances.h). */
#include "fl_softmax_ce.h"

#define FL_IMPL "fl_softmax_ce_impl.h"
#define FL_INSTANCE_PATH FL_SIMD_AVX512
#include "fl_instances.h"
