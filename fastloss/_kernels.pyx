# cython: language_level=3
"""Bindings to the C kernels in src_c/: typed memoryviews to pointers, GIL released.

Nothing here validates semantics (fastloss/_validation.py does); the memoryview
conversions are a last guard on dtype and contiguity, so a wrong buffer raises
instead of being read out of bounds.
"""

from libc.stdint cimport int64_t

cdef extern from "fl_softmax_ce.h" nogil:
    ctypedef struct fl_sce_args:
        const void *logits
        const int64_t *target
        const void *prob
        const void *weight
        const void *sample_weight
        void *grad
        void *loss_rows
        int64_t n
        int64_t c
        int64_t ignore_index
        double label_smoothing
        double z_loss
        double grad_scale
    int FL_OK
    int FL_ENOMEM
    int fl_sce_f32(const fl_sce_args *args, int n_threads, double *loss_sum)
    int fl_sce_f64(const fl_sce_args *args, int n_threads, double *loss_sum)
    int64_t fl_sce_check_targets_f32(const int64_t *target, int64_t n, int64_t c,
                                     int64_t ignore_index, const float *weight,
                                     const float *sample_weight, double *denominator)
    int64_t fl_sce_check_targets_f64(const int64_t *target, int64_t n, int64_t c,
                                     int64_t ignore_index, const double *weight,
                                     const double *sample_weight, double *denominator)
    void fl_vexp_f32(const float *x, float *out, int64_t n)
    void fl_vexp_f64(const double *x, double *out, int64_t n)

cdef extern from "fl_dispatch.h" nogil:
    int FL_SIMD_BASELINE
    int FL_SIMD_AVX2
    int fl_simd_supported(int path)
    int fl_simd_get()
    int fl_simd_set(int path)
    int fl_simd_best()
    int fl_have_openmp()
    int fl_max_threads()


# Pointer from a contiguous array, or NULL for None / empty (never dereferenced then).
cdef inline const float *_cf32(const float[::1] v):
    return &v[0] if v is not None and v.shape[0] > 0 else NULL

cdef inline const double *_cf64(const double[::1] v):
    return &v[0] if v is not None and v.shape[0] > 0 else NULL

cdef inline float *_wf32(float[::1] v):
    return &v[0] if v is not None and v.shape[0] > 0 else NULL

cdef inline double *_wf64(double[::1] v):
    return &v[0] if v is not None and v.shape[0] > 0 else NULL

cdef inline const int64_t *_ci64(const int64_t[::1] v):
    return &v[0] if v is not None and v.shape[0] > 0 else NULL


def softmax_cross_entropy(
    logits,            # IN  (n*c,) float32/float64, C order
    target,            # IN  (n,) int64 class indices, or None
    prob,              # IN  (n*c,) probabilities (logits' dtype), or None
    weight,            # IN  (c,) or None
    sample_weight,     # IN  (n,) or None
    grad,              # OUT (n*c,) or None; may be `logits` itself
    loss_rows,         # OUT (n,) or None
    int64_t n,
    int64_t c,
    int64_t ignore_index,
    double label_smoothing,
    double z_loss,
    double grad_scale,
    int n_threads,
):
    """Fused loss and gradient; returns the float64 sum of the row losses."""
    cdef fl_sce_args a
    cdef double loss_sum = 0.0
    cdef int status
    cdef bint f32 = logits.dtype.itemsize == 4
    if f32:
        a.logits = _cf32(logits)
        a.prob = _cf32(prob)
        a.weight = _cf32(weight)
        a.sample_weight = _cf32(sample_weight)
        a.grad = _wf32(grad)
        a.loss_rows = _wf32(loss_rows)
    else:
        a.logits = _cf64(logits)
        a.prob = _cf64(prob)
        a.weight = _cf64(weight)
        a.sample_weight = _cf64(sample_weight)
        a.grad = _wf64(grad)
        a.loss_rows = _wf64(loss_rows)
    a.target = _ci64(target)
    a.n = n
    a.c = c
    a.ignore_index = ignore_index
    a.label_smoothing = label_smoothing
    a.z_loss = z_loss
    a.grad_scale = grad_scale
    if n == 0:
        return 0.0
    if a.target == NULL and a.prob == NULL:
        raise ValueError("softmax_cross_entropy kernel: no target")
    with nogil:
        if f32:
            status = fl_sce_f32(&a, n_threads, &loss_sum)
        else:
            status = fl_sce_f64(&a, n_threads, &loss_sum)
    if status == FL_ENOMEM:
        raise MemoryError("softmax_cross_entropy: out of memory for scratch space")
    return loss_sum


def check_targets(target, int64_t c, int64_t ignore_index, weight, sample_weight):
    """Returns (first bad position or -1, "mean" normaliser)."""
    cdef double denom = 0.0
    cdef int64_t bad
    cdef const int64_t *t = _ci64(target)
    cdef int64_t n = target.shape[0]
    cdef const float *w32
    cdef const float *s32
    cdef const double *w64
    cdef const double *s64
    if n == 0:
        return -1, 0.0
    if weight is not None and weight.dtype.itemsize == 4 or (
        sample_weight is not None and sample_weight.dtype.itemsize == 4
    ):
        w32 = _cf32(weight)
        s32 = _cf32(sample_weight)
        with nogil:
            bad = fl_sce_check_targets_f32(t, n, c, ignore_index, w32, s32, &denom)
    else:
        w64 = _cf64(weight)
        s64 = _cf64(sample_weight)
        with nogil:
            bad = fl_sce_check_targets_f64(t, n, c, ignore_index, w64, s64, &denom)
    return bad, denom


def vexp(x, out):
    """The kernels' vectorised exp, element-wise (for accuracy tests)."""
    cdef int64_t n = x.shape[0]
    cdef const float *x32
    cdef float *o32
    cdef const double *x64
    cdef double *o64
    if n == 0:
        return out
    if x.dtype.itemsize == 4:
        x32 = _cf32(x)
        o32 = _wf32(out)
        with nogil:
            fl_vexp_f32(x32, o32, n)
    else:
        x64 = _cf64(x)
        o64 = _wf64(out)
        with nogil:
            fl_vexp_f64(x64, o64, n)
    return out


SIMD_NAMES = ("baseline", "avx2")


def simd_supported(int path):
    return bool(fl_simd_supported(path))


def simd_get():
    return fl_simd_get()


def simd_set(int path):
    if fl_simd_set(path) != 0:
        raise RuntimeError(
            f"SIMD path {SIMD_NAMES[path]!r} is not supported by this CPU or build"
        )


def simd_best():
    return fl_simd_best()


def have_openmp():
    return bool(fl_have_openmp())


def max_threads():
    return fl_max_threads()
