# cython: language_level=3
"""Bindings to the C kernels in src_c/: typed memoryviews to pointers, GIL released.

Nothing here validates semantics (fastloss/_validation.py does); the memoryview
conversions are a last guard on dtype and contiguity, and every buffer's length is
compared with the n, c (and t) it is read or written with, so a direct call with
wrong lengths raises ValueError instead of reading or writing out of bounds. A
buffer not aligned to its itemsize, which NumPy allows and C does not, is passed
through an aligned copy (`_realigned`). The one exception is `fast_call`: it
checks the common call of any loss in C (the scalar options by the general path's
own validators) and runs it, or declines (returns None) so that the validated path
runs instead.
"""

cimport numpy as cnp
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport INT64_MAX, int64_t, int8_t, int16_t, int32_t
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

import numpy as np

cnp.import_array()

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
        int mean
        double loss
        double denominator
        int64_t bad_index
    int FL_OK
    int FL_ENOMEM
    int FL_EBADTARGET
    int fl_sce_f32(fl_sce_args *args, int n_threads)
    int fl_sce_f64(fl_sce_args *args, int n_threads)
    void fl_vexp_f32(const float *x, float *out, int64_t n)
    void fl_vexp_f64(const double *x, double *out, int64_t n)

cdef extern from "fl_elementwise.h" nogil:
    ctypedef struct fl_ew_args:
        int kind
        const void *input
        const void *target
        const void *weight
        const void *sample_weight
        const void *pos_weight
        void *grad
        void *loss_elems
        int64_t n
        int64_t c
        int64_t t
        double p[4]
        double grad_scale
        double loss
    int FL_EW_OK
    int FL_EW_ENOMEM
    int FL_EW_EKIND
    int FL_EW_COUNT
    int fl_ew_f32(fl_ew_args *args, int n_threads)
    int fl_ew_f64(fl_ew_args *args, int n_threads)
    const char *fl_ew_kind_name(int kind)

cdef extern from "fl_rowwise.h" nogil:
    ctypedef struct fl_rw_args:
        int kind
        const void *x
        const void *x2
        const void *x3
        const int64_t *target
        const void *class_weight
        const void *sample_weight
        void *grad
        void *grad2
        void *grad3
        void *loss_rows
        int64_t n
        int64_t c
        int64_t ignore_index
        double p[4]
        int mean
        double loss
        double denominator
        int64_t bad_index
    int FL_RW_FOCAL
    int FL_RW_KL_LOGITS
    int FL_RW_KL_PROBS
    int FL_RW_TRIPLET
    int FL_RW_COSINE
    int FL_RW_DICE
    int FL_RW_TVERSKY
    int FL_RW_CIRCLE
    int FL_RW_CAT_HINGE
    int FL_RW_GCE
    int FL_RW_COUNT
    int FL_RW_OK
    int FL_RW_ENOMEM
    int FL_RW_EBADTARGET
    int FL_RW_EKIND
    int fl_rw_f32(fl_rw_args *args, int n_threads)
    int fl_rw_f64(fl_rw_args *args, int n_threads)

cdef extern from "fl_dispatch.h" nogil:
    int FL_SIMD_BASELINE
    int FL_SIMD_AVX2
    int FL_SIMD_AVX512
    int fl_simd_supported(int path)
    int fl_simd_get()
    int fl_simd_set(int path)
    int fl_simd_best()
    int fl_have_openmp()
    const char *fl_compiler()
    int fl_max_threads()


cdef int _bad_buffer(
    str fn, str arg, bint none, Py_ssize_t have, Py_ssize_t need
) except -1:
    if none:
        raise ValueError(f"{fn} kernel: {arg} is required, got None")
    raise ValueError(f"{fn} kernel: {arg} has length {have}, expected {need}")


cdef Py_ssize_t _n_by_c(str fn, int64_t n, int64_t c, int64_t min_c) except -1:
    """n * c, once n >= 0, c >= min_c and the product fits a buffer length (a
    wrapped product could match a short buffer)."""
    if n < 0:
        raise ValueError(f"{fn} kernel: n must be >= 0, got {n}")
    if c < min_c:
        raise ValueError(f"{fn} kernel: c must be >= {min_c}, got {c}")
    if n > PY_SSIZE_T_MAX or c > PY_SSIZE_T_MAX or (c > 0 and n > PY_SSIZE_T_MAX // c):
        raise ValueError(f"{fn} kernel: n * c = {n} * {c} is too large")
    return n * c


# Pointer from a contiguous array of exactly `need` elements, or NULL for None (when
# not `required`) or need == 0 (never dereferenced then). A wrong length raises
# ValueError naming the argument `arg` of the binding `fn`: compared on the
# memoryview, so a check costs one integer comparison.
cdef inline int _take(
    bint none, Py_ssize_t have, Py_ssize_t need, str fn, str arg, bint required
) except -1:
    """1 when the pointer is to be taken, 0 for NULL, or raises."""
    if none:
        if required:
            _bad_buffer(fn, arg, none, have, need)
        return 0
    if have != need:
        _bad_buffer(fn, arg, none, have, need)
    return need > 0

cdef inline const float *_cf32(
    const float[::1] v, Py_ssize_t need, str fn, str arg, bint required=False
) except? NULL:
    return &v[0] if _take(v is None, 0 if v is None else v.shape[0], need, fn, arg, required) else NULL

cdef inline const double *_cf64(
    const double[::1] v, Py_ssize_t need, str fn, str arg, bint required=False
) except? NULL:
    return &v[0] if _take(v is None, 0 if v is None else v.shape[0], need, fn, arg, required) else NULL

cdef inline float *_wf32(
    float[::1] v, Py_ssize_t need, str fn, str arg, bint required=False
) except? NULL:
    return &v[0] if _take(v is None, 0 if v is None else v.shape[0], need, fn, arg, required) else NULL

cdef inline double *_wf64(
    double[::1] v, Py_ssize_t need, str fn, str arg, bint required=False
) except? NULL:
    return &v[0] if _take(v is None, 0 if v is None else v.shape[0], need, fn, arg, required) else NULL

# The same for an array of the compute dtype (float32 when `f32`, else float64): a
# binding written once for both dtypes.
cdef inline const void *_cin(
    object v, bint f32, Py_ssize_t need, str fn, str arg, bint required=False
) except? NULL:
    if f32:
        return _cf32(v, need, fn, arg, required)
    return _cf64(v, need, fn, arg, required)

cdef inline void *_wout(
    object v, bint f32, Py_ssize_t need, str fn, str arg
) except? NULL:
    if f32:
        return _wf32(v, need, fn, arg)
    return _wf64(v, need, fn, arg)

cdef inline const int64_t *_ci64(
    const int64_t[::1] v, Py_ssize_t need, str fn, str arg
) except? NULL:
    return &v[0] if _take(v is None, 0 if v is None else v.shape[0], need, fn, arg, False) else NULL


cdef inline bint _overlap(const void *a, Py_ssize_t na, const void *b, Py_ssize_t nb):
    """Byte ranges [a, a + na) and [b, b + nb) intersect."""
    cdef const char *pa = <const char *>a
    cdef const char *pb = <const char *>b
    return a != NULL and b != NULL and pa < pb + nb and pb < pa + na


cdef inline bint _misaligned(size_t ored, size_t align) noexcept nogil:
    """Any of the pointers OR-ed into `ored` is not a multiple of `align` (a power
    of 2; NULL counts as aligned)."""
    return (ored & (align - 1)) != 0


def _realigned(fn, args, int first, int n_in, int n_out):
    """Calls the binding `fn` with aligned copies of its misaligned buffers and copies
    the outputs back: NumPy allows arrays whose data is not aligned to their itemsize
    (a view into a byte buffer at an odd offset), C does not (undefined behaviour;
    a fault wherever the compiler used an aligned vector access). args[first:]
    holds n_in input buffers, then n_out output buffers. The caller has checked the
    overlaps on the caller's buffers: an output shares no memory with the inputs or
    is exactly one of them (in place), and then shares that input's copy. Nothing
    is copied back when `fn` raises, so the caller's outputs stay untouched."""
    args = list(args)
    ins = args[first:first + n_in]
    addr = [None if v is None else v.__array_interface__["data"][0] for v in ins]
    for k in range(n_in):
        if ins[k] is not None and not ins[k].flags.aligned:
            args[first + k] = ins[k].copy()
    staged = []
    for j in range(first + n_in, first + n_in + n_out):
        o = args[j]
        if o is None:
            continue
        p = o.__array_interface__["data"][0]
        k = next((k for k in range(n_in) if addr[k] == p and o.size), None)
        if k is not None and args[first + k] is not ins[k]:
            args[j] = args[first + k]  # in place over a misaligned input's copy
        elif k is None and not o.flags.aligned:
            args[j] = np.empty_like(o)
        if args[j] is not o:
            staged.append((o, args[j]))
    result = fn(*args)
    for o, tmp in staged:
        o[...] = tmp
    return result


cdef _check_grad_alias(fl_sce_args *a, Py_ssize_t item):
    """The gradient buffer may be the logits exactly, and touch no other input."""
    cdef Py_ssize_t nc = a.n * a.c * item
    if a.grad == NULL:
        return
    if a.grad != a.logits and _overlap(a.grad, nc, a.logits, nc):
        raise ValueError("out overlaps logits without being the logits array itself")
    if (_overlap(a.grad, nc, a.target, a.n * 8)
            or _overlap(a.grad, nc, a.prob, nc)
            or _overlap(a.grad, nc, a.weight, a.c * item)
            or _overlap(a.grad, nc, a.sample_weight, a.n * item)
            or _overlap(a.grad, nc, a.loss_rows, a.n * item)):
        raise ValueError("out overlaps an input (target, weight or sample_weight)")


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
    bint mean,
    int n_threads,
):
    """Fused loss and gradient. Returns the loss ("sum", or "mean" when `mean`), or
    raises IndexError(position) for the first class index out of range, in which
    case nothing was written. ValueError, before anything is read or written, for
    n < 0, c < 1, or a buffer whose length is not the one above."""
    cdef fl_sce_args a
    cdef int status
    cdef str fn = "softmax_cross_entropy"
    cdef bint f32 = logits.dtype.itemsize == 4
    cdef Py_ssize_t nc = _n_by_c(fn, n, c, 1)
    a.logits = _cin(logits, f32, nc, fn, "logits", True)
    a.prob = _cin(prob, f32, nc, fn, "prob")
    a.weight = _cin(weight, f32, c, fn, "weight")
    a.sample_weight = _cin(sample_weight, f32, n, fn, "sample_weight")
    a.grad = _wout(grad, f32, nc, fn, "grad")
    a.loss_rows = _wout(loss_rows, f32, n, fn, "loss_rows")
    a.target = _ci64(target, n, fn, "target")
    a.n = n
    a.c = c
    a.ignore_index = ignore_index
    a.label_smoothing = label_smoothing
    a.z_loss = z_loss
    a.mean = mean
    if n == 0:
        return 0.0
    if a.target == NULL and a.prob == NULL:
        raise ValueError("softmax_cross_entropy kernel: no target")
    _check_grad_alias(&a, 4 if f32 else 8)
    if _misaligned(<size_t>a.logits | <size_t>a.prob | <size_t>a.weight
                   | <size_t>a.sample_weight | <size_t>a.grad | <size_t>a.loss_rows,
                   4 if f32 else 8) or _misaligned(<size_t>a.target, 8):
        return _realigned(softmax_cross_entropy, (
            logits, target, prob, weight, sample_weight, grad, loss_rows, n, c,
            ignore_index, label_smoothing, z_loss, mean, n_threads), 0, 5, 2)
    with nogil:
        if f32:
            status = fl_sce_f32(&a, n_threads)
        else:
            status = fl_sce_f64(&a, n_threads)
    if status == FL_EBADTARGET:
        raise IndexError(a.bad_index)
    if status == FL_ENOMEM:
        raise MemoryError("softmax_cross_entropy: out of memory for scratch space")
    return a.loss


# ---- shared by the fast path (below) -------------------------------------------

cdef object _config_module = None  # fastloss._config, imported on first use
cdef long long _max_threads = 0  # its MAX_THREADS
cdef object _DT_F32 = cnp.PyArray_DescrFromType(cnp.NPY_FLOAT32)
cdef object _DT_F64 = cnp.PyArray_DescrFromType(cnp.NPY_FLOAT64)
cdef enum:
    _SMALL_TARGET = 256  # converted class indices up to this many: on the stack


cdef object _config():
    # _config imports this module, so it cannot be imported at this module's import.
    global _config_module, _max_threads
    if _config_module is None:
        from . import _config as module
        _config_module = module
        _max_threads = module.MAX_THREADS
    return _config_module


cdef int _fast_threads(object n_threads) except -2:
    """What `_config._resolve_n_threads(n_threads)` returns, or -1 where it would
    raise or take anything but a plain int (the general path decides then)."""
    cdef int overflow = 0
    cdef long long v
    if n_threads is None:  # get_num_threads(), read afresh on every call
        if not fl_have_openmp():
            return 1
        n_threads = _config()._n_threads
        if n_threads is None:
            return fl_max_threads()  # follows OMP_NUM_THREADS and threadpoolctl
    if type(n_threads) is not int:
        return -1
    v = PyLong_AsLongLongAndOverflow(n_threads, &overflow)
    if _max_threads == 0:
        _config()
    if overflow or v < 1 or v > _max_threads:
        return -1
    return <int>v


cdef inline bint _aligned(const void *p, Py_ssize_t item) noexcept nogil:
    return (<size_t>p & <size_t>(item - 1)) == 0


cdef inline int _sce_run(fl_sce_args *a, bint f32, int n_threads) noexcept nogil:
    return fl_sce_f32(a, n_threads) if f32 else fl_sce_f64(a, n_threads)


cdef bint _widen_target(
    const void *src, bint is_signed, Py_ssize_t item, int64_t n, int64_t *dst
) noexcept nogil:
    """Class indices of a narrower integer type, or uint64, as int64, the values
    `np.asarray(t, dtype=np.int64)` gives; False for a uint64 beyond int64 (which
    the general path refuses)."""
    cdef int64_t i
    if is_signed and item == 1:
        for i in range(n):
            dst[i] = (<const int8_t *>src)[i]
    elif is_signed and item == 2:
        for i in range(n):
            dst[i] = (<const int16_t *>src)[i]
    elif is_signed and item == 4:
        for i in range(n):
            dst[i] = (<const int32_t *>src)[i]
    elif item == 1:
        for i in range(n):
            dst[i] = (<const uint8_t *>src)[i]
    elif item == 2:
        for i in range(n):
            dst[i] = (<const uint16_t *>src)[i]
    elif item == 4:
        for i in range(n):
            dst[i] = (<const uint32_t *>src)[i]
    elif not is_signed and item == 8:
        for i in range(n):
            if (<const uint64_t *>src)[i] > <uint64_t>INT64_MAX:
                return False
            dst[i] = <int64_t>(<const uint64_t *>src)[i]
    else:
        return False
    return True


# ---- the generic fast path: every family, from the family's own specification ---
#
# `fast_call` is offered the common call of every loss (the family modules of
# fastloss/). It takes a call only when the general path would pass every array
# through unchanged, and returns None for anything else, so the general path runs
# and raises its own error: it never raises for a bad argument, and returns only
# what the general path would return for the same call, bit for bit. It checks only the *form* of the arguments
# (exact ndarray, dtype object, shape, C order, alignment, overlap with `out`); the
# scalar options are validated by the family's `check(dtype, *check_args)`, built
# from the validators of fastloss/_validation.py that the general path uses, which
# returns the kernel's parameters (p0, p1, p2, p3, ignore_index) or raises (then
# None here, and the general path raises it again).

FAST_ELEMENTWISE = 0
FAST_ROWWISE = 1
FAST_SOFTMAX_CE = 2

cdef enum:
    _MAX_IN = 3  # float inputs: x, x2, x3


cdef inline bint _canonical(object v, void *descr, int nd, cnp.npy_intp *dims,
                            Py_ssize_t item):
    """`v` an exact ndarray of the dtype object `descr`, of shape dims[:nd],
    C-contiguous and aligned: an array float_input() returns as it is."""
    cdef cnp.ndarray a
    cdef int k
    if type(v) is not cnp.ndarray:
        return False
    a = <cnp.ndarray>v
    if (<void *>cnp.PyArray_DESCR(a) != descr or cnp.PyArray_NDIM(a) != nd
            or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not _aligned(cnp.PyArray_DATA(a), item)):
        return False
    for k in range(nd):
        if cnp.PyArray_DIMS(a)[k] != dims[k]:
            return False
    return True


cdef inline bint _writable_out(object v, void *descr, int nd, cnp.npy_intp *dims,
                               Py_ssize_t item):
    """What check_out() accepts, in its canonical form (exact ndarray, aligned)."""
    return _canonical(v, descr, nd, dims, item) and cnp.PyArray_ISWRITEABLE(
        <cnp.ndarray>v)


# The last parameters each `check` returned, with the arguments and dtype it was
# given: a call repeating them (the same objects, each an immutable built-in
# scalar, so the same values) gets them without running the check again. The checks
# are pure functions of their arguments and the dtype.
cdef dict _params_seen = {}


cdef inline bint _same_scalars(tuple a, tuple b):
    """`a` and `b` hold the same objects, each a float, int, bool, None or str,
    or a tuple of those (one level)."""
    cdef Py_ssize_t i
    if len(a) != len(b):
        return False
    for i in range(len(a)):
        u, v = a[i], b[i]
        if type(u) is tuple and type(v) is tuple:
            if not _same_scalars_flat(<tuple>u, <tuple>v):
                return False
        elif u is not v or not _immutable_scalar(u):
            return False
    return True


cdef inline bint _same_scalars_flat(tuple a, tuple b):
    cdef Py_ssize_t i
    if len(a) != len(b):
        return False
    for i in range(len(a)):
        if a[i] is not b[i] or not _immutable_scalar(a[i]):
            return False
    return True


cdef inline bint _immutable_scalar(object v):
    return (type(v) is float or type(v) is int or type(v) is bool or v is None
            or type(v) is str)


cdef object _checked_params(object check, tuple check_args, bint f32):
    """check(dtype, *check_args), from _params_seen when the same call passed
    before; None when the check raises (the general path raises it again)."""
    seen = _params_seen.get(check)
    if (seen is not None and (<tuple>seen)[1] == f32
            and _same_scalars((<tuple>seen)[0], check_args)):
        return (<tuple>seen)[2]
    try:
        params = check(_DT_F32 if f32 else _DT_F64, *check_args)
    except Exception:  # the general path raises it, in its own order
        return None
    _params_seen[check] = (check_args, f32, params)
    return params


def fast_call(
    int family,        # FAST_ELEMENTWISE, FAST_ROWWISE or FAST_SOFTMAX_CE
    int kind,          # FL_EW_* / FL_RW_* (unused for FAST_SOFTMAX_CE)
    x,                 # IN  the first float input (its dtype is the call's)
    x2,                # IN  a second float input of x's shape, or None
    x3,                # IN  a third, or None
    target,            # IN  class indices of shape x.shape[:-1], or None
    check,             # check(dtype, *check_args) -> (p0, p1, p2, p3, ignore_index)
    tuple check_args,
    reduction,
    n_threads,
    out,               # OUT None, an array, or (x3 given) a tuple/list of 3
    bint want_grad,
):
    """The general path's result for a call in canonical form, or None. Takes the
    call when: x, x2, x3 exact ndarrays of one dtype object (float32 or float64),
    one shape with at least one element (and, row-wise, at least one class),
    C-contiguous and aligned; target None or an exact ndarray of a native-order
    integer dtype of shape x.shape[:-1], C-contiguous, aligned; reduction one of
    the three strings; n_threads None or an int in [1, MAX_THREADS]; `check`
    returning; out (with want_grad) None or, for each float input, an exact
    ndarray of its shape and dtype, C-contiguous, aligned, writeable, that is that
    input's memory exactly or overlaps no input and no other output. A class
    index out of range returns None, nothing written (the kernels check first)."""
    cdef cnp.ndarray x0, t, rows = None
    cdef const void *ins[_MAX_IN + 1]
    cdef void *outs[_MAX_IN]
    cdef Py_ssize_t in_bytes[_MAX_IN + 1]
    cdef void *descr
    cdef int typenum, typenum_t = 0, nd, k, j, n_in, status, nt
    cdef bint is_mean, is_none, f32, row_like
    cdef bint bad_target = False, no_memory = False, bad_kind = False
    cdef Py_ssize_t item, titem = 0, nbytes
    cdef cnp.npy_intp *dims
    cdef int64_t n, c, ignore
    cdef const void *tp = NULL
    cdef int64_t small[_SMALL_TARGET]
    cdef int64_t *widened = NULL
    cdef double p[4]
    cdef fl_ew_args ea
    cdef fl_rw_args ra
    cdef fl_sce_args sa

    if type(reduction) is not str or type(x) is not cnp.ndarray:
        return None
    if (family == FAST_ELEMENTWISE and (x2 is None or target is not None)) or (
            target is None and (family == FAST_SOFTMAX_CE or family == FAST_ROWWISE
                                and (kind == FL_RW_FOCAL or kind == FL_RW_GCE))):
        return None  # not a call of a family's form (the caller's mistake)
    is_mean = <str>reduction == "mean"
    is_none = not is_mean and <str>reduction == "none"
    if not (is_mean or is_none or <str>reduction == "sum"):
        return None
    row_like = family != FAST_ELEMENTWISE

    # the float inputs: float_input() keeps them as they are
    x0 = <cnp.ndarray>x
    descr = <void *>cnp.PyArray_DESCR(x0)
    if descr == <void *>_DT_F32:
        f32, item, typenum = True, 4, cnp.NPY_FLOAT32
    elif descr == <void *>_DT_F64:
        f32, item, typenum = False, 8, cnp.NPY_FLOAT64
    else:
        return None
    nd = cnp.PyArray_NDIM(x0)
    dims = cnp.PyArray_DIMS(x0)
    if (cnp.PyArray_SIZE(x0) == 0 or (row_like and nd < 1)
            or not _canonical(x0, descr, nd, dims, item)):
        return None
    c = dims[nd - 1] if nd > 0 else 1
    n = cnp.PyArray_SIZE(x0) // c  # rows (row-wise); elements are n * c
    nbytes = n * c * item
    n_in = 1 + (x2 is not None) + (x3 is not None)
    if (x3 is not None and x2 is None) or (
            n_in > 1 and not _canonical(x2, descr, nd, dims, item)) or (
            n_in > 2 and not _canonical(x3, descr, nd, dims, item)):
        return None
    ins[0] = cnp.PyArray_DATA(x0)
    ins[1] = NULL if n_in < 2 else cnp.PyArray_DATA(<cnp.ndarray>x2)
    ins[2] = NULL if n_in < 3 else cnp.PyArray_DATA(<cnp.ndarray>x3)
    in_bytes[0] = in_bytes[1] = in_bytes[2] = nbytes

    # class indices of shape x.shape[:-1] (class_index_target())
    ins[3] = NULL
    in_bytes[3] = 0
    if target is not None:
        if type(target) is not cnp.ndarray or not row_like:
            return None
        t = <cnp.ndarray>target
        typenum_t = cnp.PyArray_TYPE(t)
        if (not cnp.PyTypeNum_ISINTEGER(typenum_t) or cnp.PyArray_ISBYTESWAPPED(t)
                or cnp.PyArray_NDIM(t) != nd - 1
                or not cnp.PyArray_IS_C_CONTIGUOUS(t)):
            return None
        for k in range(nd - 1):
            if cnp.PyArray_DIMS(t)[k] != dims[k]:
                return None
        titem = cnp.PyArray_ITEMSIZE(t)
        tp = cnp.PyArray_DATA(t)
        if not _aligned(tp, titem):
            return None
        ins[3] = tp
        in_bytes[3] = n * titem

    nt = _fast_threads(n_threads)
    if nt < 0:
        return None
    p[0] = p[1] = p[2] = p[3] = 0.0
    ignore = 0
    if check is not None:
        params = _checked_params(check, check_args, f32)
        if params is None:
            return None
        p[0], p[1], p[2], p[3], ignore = params

    # gradient buffers: out= as check_out() and the bindings' pointer checks take
    # it, else new arrays (grad_buffer(): x is the caller's, so not ours to write)
    grads = [None, None, None]
    for j in range(_MAX_IN):
        outs[j] = NULL
    if want_grad:
        if out is None:
            for j in range(n_in):
                grads[j] = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
        elif n_in == 3:
            if not ((type(out) is tuple or type(out) is list) and len(out) == 3):
                return None
            for j in range(3):
                grads[j] = out[j]
        else:
            grads[0] = out
        for j in range(_MAX_IN):
            if grads[j] is None:
                continue
            if not _writable_out(grads[j], descr, nd, dims, item):
                return None
            outs[j] = cnp.PyArray_DATA(<cnp.ndarray>grads[j])
            for k in range(_MAX_IN + 1):  # its own input exactly, or no overlap
                if not (k == j and outs[j] == ins[k]) and _overlap(
                        outs[j], nbytes, ins[k], in_bytes[k]):
                    return None
            for k in range(j):
                if _overlap(outs[j], nbytes, outs[k], nbytes):
                    return None
    if is_none:  # per-element losses (elementwise) or per-row ones
        rows = cnp.PyArray_EMPTY(nd - row_like, dims, typenum, 0)

    if tp != NULL:
        if titem == 8 and cnp.PyTypeNum_ISSIGNED(typenum_t):
            ins[3] = tp
        else:  # as class_index_target() converts them, into scratch space of ours
            widened = &small[0] if n <= _SMALL_TARGET else <int64_t *>malloc(n * 8)
            if widened == NULL:  # the general path's copy meets the same shortage
                return None
            if not _widen_target(
                    tp, cnp.PyTypeNum_ISSIGNED(typenum_t), titem, n, widened):
                if widened != &small[0]:
                    free(widened)
                return None
            ins[3] = widened

    if family == FAST_ROWWISE and kind == FL_RW_FOCAL and p[0] == 0.0:
        family = FAST_SOFTMAX_CE  # _focal(): gamma 0 without alpha is plain CE
        p[0] = p[1] = 0.0
    if family == FAST_SOFTMAX_CE:
        sa.logits = ins[0]
        sa.target = <const int64_t *>ins[3]
        sa.prob = NULL
        sa.weight = NULL
        sa.sample_weight = NULL
        sa.grad = outs[0]
        sa.loss_rows = NULL if rows is None else cnp.PyArray_DATA(rows)
        sa.n = n
        sa.c = c
        sa.ignore_index = ignore
        sa.label_smoothing = p[0]
        sa.z_loss = p[1]
        sa.mean = is_mean
        with nogil:
            status = _sce_run(&sa, f32, nt)
        total = sa.loss
        bad_target, no_memory = status == FL_EBADTARGET, status == FL_ENOMEM
    elif family == FAST_ROWWISE:
        ra.kind = kind
        ra.x = ins[0]
        ra.x2 = ins[1]
        ra.x3 = ins[2]
        ra.target = <const int64_t *>ins[3]
        ra.class_weight = NULL
        ra.sample_weight = NULL
        ra.grad = outs[0]
        ra.grad2 = outs[1]
        ra.grad3 = outs[2]
        ra.loss_rows = NULL if rows is None else cnp.PyArray_DATA(rows)
        ra.n = n
        ra.c = c
        ra.ignore_index = ignore
        ra.p[0], ra.p[1], ra.p[2], ra.p[3] = p[0], p[1], p[2], p[3]
        ra.mean = is_mean
        with nogil:
            status = fl_rw_f32(&ra, nt) if f32 else fl_rw_f64(&ra, nt)
        total = ra.loss
        bad_target, no_memory = status == FL_RW_EBADTARGET, status == FL_RW_ENOMEM
        bad_kind = status == FL_RW_EKIND
    else:
        ea.kind = kind
        ea.input = ins[0]
        ea.target = ins[1]
        ea.weight = NULL
        ea.sample_weight = NULL
        ea.pos_weight = NULL
        ea.grad = outs[0]
        ea.loss_elems = NULL if rows is None else cnp.PyArray_DATA(rows)
        ea.n = n * c
        ea.c = c
        ea.t = 1
        ea.p[0], ea.p[1], ea.p[2], ea.p[3] = p[0], p[1], p[2], p[3]
        # elementwise_loss(): "mean" scales the gradient by 1 / D, D = n elements
        ea.grad_scale = 1.0 / <double>(n * c) if is_mean else 1.0
        with nogil:
            status = fl_ew_f32(&ea, nt) if f32 else fl_ew_f64(&ea, nt)
        no_memory, bad_kind = status == FL_EW_ENOMEM, status == FL_EW_EKIND
        total = ea.loss / <double>(n * c) if is_mean else ea.loss
    if widened != NULL and widened != &small[0]:
        free(widened)
    if bad_target:  # nothing written: the general path reports it
        return None
    if no_memory:
        raise MemoryError("loss kernel: out of memory for scratch space")
    if bad_kind:
        raise ValueError(f"fast_call: unknown kind {kind}")
    loss = rows if is_none else total
    if not want_grad:
        return loss
    if n_in == 3:
        return loss, tuple(grads)
    return loss, grads[0]


def elementwise(
    int kind,
    x,                 # IN  (n,) float32/float64, C order
    y,                 # IN  (n,) same dtype
    weight,            # IN  (n,) or None
    sample_weight,     # IN  (n // t,) or None
    pos_weight,        # IN  (c,) or None
    grad,              # OUT (n,) or None; may be `x` itself
    loss_elems,        # OUT (n,) or None
    int64_t c,
    int64_t t,
    double p0,
    double p1,
    double p2,
    double p3,
    double grad_scale,
    int n_threads,
):
    """Elementwise loss of kind `kind` (FL_EW_* in fl_elementwise.h): returns the
    float64 sum of the (weighted) element losses; writes grad * grad_scale. n is
    len(x); ValueError, before anything is read or written, for c < 1, t < 1 (t == 0
    is allowed with n == 0, as for a trailing axis of length 0), or a buffer whose
    length is not the one above (sample_weight: t must divide n; with n == 0 the
    lengths of sample_weight and pos_weight are free, as nothing is read)."""
    cdef fl_ew_args a
    cdef int status
    cdef str fn = "elementwise"
    cdef bint f32 = x.dtype.itemsize == 4
    cdef Py_ssize_t item = 4 if f32 else 8
    cdef Py_ssize_t nb
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_sw = 0
    cdef Py_ssize_t n_pw = c
    if c < 1:
        raise ValueError(f"elementwise kernel: c must be >= 1, got {c}")
    if t < 0 or (t == 0 and n > 0):
        raise ValueError(f"elementwise kernel: t must be >= 1, got {t}")
    if c > PY_SSIZE_T_MAX:
        raise ValueError(f"elementwise kernel: c = {c} is too large")
    if sample_weight is not None:
        # one weight per run of t elements: n == len(sample_weight) * t
        if t == 0:
            n_sw = len(sample_weight)  # then n == 0: nothing is read
        elif n % t != 0:
            raise ValueError(
                f"elementwise kernel: t = {t} does not divide n = {n} (sample_weight)"
            )
        else:
            n_sw = n // t
    if n == 0 and pos_weight is not None:
        # nothing is read: a trailing axis of length 0 comes with a pos_weight of
        # length 0 (or 1, broadcast), while the caller passes c >= 1
        n_pw = len(pos_weight)
    a.input = _cin(x, f32, n, fn, "x", True)
    a.target = _cin(y, f32, n, fn, "y", True)
    a.weight = _cin(weight, f32, n, fn, "weight")
    a.sample_weight = _cin(sample_weight, f32, n_sw, fn, "sample_weight")
    a.pos_weight = _cin(pos_weight, f32, n_pw, fn, "pos_weight")
    a.grad = _wout(grad, f32, n, fn, "grad")
    a.loss_elems = _wout(loss_elems, f32, n, fn, "loss_elems")
    a.kind = kind
    a.n = n
    a.c = c
    a.t = t
    a.p[0] = p0
    a.p[1] = p1
    a.p[2] = p2
    a.p[3] = p3
    a.grad_scale = grad_scale
    if a.n == 0:
        return 0.0
    if a.grad != NULL:
        nb = a.n * item
        if a.grad != a.input and _overlap(a.grad, nb, a.input, nb):
            raise ValueError("out overlaps the input without being the input itself")
        if (_overlap(a.grad, nb, a.target, nb)
                or _overlap(a.grad, nb, a.weight, nb)
                or _overlap(a.grad, nb, a.sample_weight, n_sw * item)
                or (a.pos_weight != NULL
                    and _overlap(a.grad, nb, a.pos_weight, c * item))
                or _overlap(a.grad, nb, a.loss_elems, nb)):
            raise ValueError("out overlaps an input (target or a weight)")
    if _misaligned(<size_t>a.input | <size_t>a.target | <size_t>a.weight
                   | <size_t>a.sample_weight | <size_t>a.pos_weight | <size_t>a.grad
                   | <size_t>a.loss_elems, item):
        return _realigned(elementwise, (
            kind, x, y, weight, sample_weight, pos_weight, grad, loss_elems, c, t,
            p0, p1, p2, p3, grad_scale, n_threads), 1, 5, 2)
    with nogil:
        if f32:
            status = fl_ew_f32(&a, n_threads)
        else:
            status = fl_ew_f64(&a, n_threads)
    if status == FL_EW_EKIND:
        raise ValueError(f"elementwise kernel: unknown kind {kind}")
    if status == FL_EW_ENOMEM:
        raise MemoryError("elementwise loss: out of memory for scratch space")
    return a.loss


# Row-wise kinds (FL_RW_* in src_c/fl_rowwise.h), for fastloss/_rowwise.py.
# The elementwise kinds by name, from the kernel's own list (FL_EW_PUBLIC_KINDS in
# src_c/fl_elementwise.h): fastloss/_elementwise.py takes its constants from here.
EW_KINDS = {fl_ew_kind_name(k).decode(): k for k in range(FL_EW_COUNT)}

RW_FOCAL = FL_RW_FOCAL
RW_KL_LOGITS = FL_RW_KL_LOGITS
RW_KL_PROBS = FL_RW_KL_PROBS
RW_TRIPLET = FL_RW_TRIPLET
RW_COSINE = FL_RW_COSINE
RW_DICE = FL_RW_DICE
RW_TVERSKY = FL_RW_TVERSKY
RW_CIRCLE = FL_RW_CIRCLE
RW_CAT_HINGE = FL_RW_CAT_HINGE
RW_GCE = FL_RW_GCE

_RW_IN_NAMES = {
    FL_RW_FOCAL: ("logits", "", ""),
    FL_RW_KL_LOGITS: ("student_logits", "teacher_logits", ""),
    FL_RW_KL_PROBS: ("student_logits", "teacher_logits", ""),
    FL_RW_TRIPLET: ("anchor", "positive", "negative"),
    FL_RW_COSINE: ("pred", "target", ""),
    FL_RW_DICE: ("pred", "target", ""),
    FL_RW_TVERSKY: ("pred", "target", ""),
    FL_RW_CIRCLE: ("similarities", "", ""),
    FL_RW_CAT_HINGE: ("pred", "target", ""),
    FL_RW_GCE: ("probs", "", ""),
}


cdef _check_rw_alias(fl_rw_args *a, Py_ssize_t item):
    """Each gradient buffer may be its own input exactly (grad: x, grad2: x2, grad3:
    x3) and overlap nothing else: no other input, no other output."""
    cdef Py_ssize_t nc = a.n * a.c * item
    cdef const void *ins[6]
    cdef Py_ssize_t in_size[6]
    cdef void *outs[4]
    cdef Py_ssize_t out_size[4]
    cdef int j, k
    ins[0] = a.x
    ins[1] = a.x2
    ins[2] = a.x3
    ins[3] = a.target
    ins[4] = a.class_weight
    ins[5] = a.sample_weight
    in_size[0] = nc
    in_size[1] = nc
    in_size[2] = nc
    in_size[3] = a.n * 8
    in_size[4] = a.c * item
    in_size[5] = a.n * item
    outs[0] = a.grad
    outs[1] = a.grad2
    outs[2] = a.grad3
    outs[3] = a.loss_rows
    out_size[0] = nc
    out_size[1] = nc
    out_size[2] = nc
    out_size[3] = a.n * item
    names = _RW_IN_NAMES[a.kind] + ("target", "alpha", "sample_weight")
    out_names = ("out[0]", "out[1]", "out[2]") if a.kind == FL_RW_TRIPLET else (
        "out", "out", "out")
    for j in range(4):
        if outs[j] == NULL:
            continue
        for k in range(6):
            if k == j and outs[j] == ins[k]:
                continue  # in place: the gradient written over its own input
            if _overlap(outs[j], out_size[j], ins[k], in_size[k]):
                what = out_names[j] if j < 3 else "the loss buffer"
                raise ValueError(
                    f"{what} overlaps {names[k]}"
                    + (" without being that array itself" if k == j else "")
                )
        for k in range(j + 1, 4):
            if _overlap(outs[j], out_size[j], outs[k], out_size[k]):
                raise ValueError("the output buffers overlap each other")


def rowwise(
    int kind,
    x,                 # IN  (n*c,) float32/float64, C order
    x2,                # IN  (n*c,) same dtype, or None
    x3,                # IN  (n*c,) same dtype, or None
    target,            # IN  (n,) int64 class indices, or None
    class_weight,      # IN  (c,) or None
    sample_weight,     # IN  (n,) or None
    grad,              # OUT (n*c,) or None; may be `x` itself
    grad2,             # OUT (n*c,) or None; may be `x2` itself
    grad3,             # OUT (n*c,) or None; may be `x3` itself
    loss_rows,         # OUT (n,) or None
    int64_t n,
    int64_t c,
    int64_t ignore_index,
    double p0,
    double p1,
    double p2,
    double p3,
    bint mean,
    int n_threads,
):
    """Row-wise loss of kind `kind` (FL_RW_* in fl_rowwise.h). Returns the loss
    ("sum", or "mean" when `mean`), or raises IndexError(position) for the first class
    index out of range, in which case nothing was written. ValueError, before
    anything is read or written, for n < 0, c < 0, or a buffer whose length is not
    the one above."""
    cdef fl_rw_args a
    cdef int status
    cdef str fn = "rowwise"
    cdef bint f32 = x.dtype.itemsize == 4
    if kind < 0 or kind >= FL_RW_COUNT:
        raise ValueError(f"rowwise kernel: unknown kind {kind}")
    cdef Py_ssize_t nc = _n_by_c(fn, n, c, 0)
    a.x = _cin(x, f32, nc, fn, "x", True)
    a.x2 = _cin(x2, f32, nc, fn, "x2")
    a.x3 = _cin(x3, f32, nc, fn, "x3")
    a.class_weight = _cin(class_weight, f32, c, fn, "class_weight")
    a.sample_weight = _cin(sample_weight, f32, n, fn, "sample_weight")
    a.grad = _wout(grad, f32, nc, fn, "grad")
    a.grad2 = _wout(grad2, f32, nc, fn, "grad2")
    a.grad3 = _wout(grad3, f32, nc, fn, "grad3")
    a.loss_rows = _wout(loss_rows, f32, n, fn, "loss_rows")
    a.target = _ci64(target, n, fn, "target")
    a.kind = kind
    a.n = n
    a.c = c
    a.ignore_index = ignore_index
    a.p[0] = p0
    a.p[1] = p1
    a.p[2] = p2
    a.p[3] = p3
    a.mean = mean
    if n == 0 or c == 0:
        return 0.0
    indexed = (kind == FL_RW_FOCAL or kind == FL_RW_CIRCLE
               or kind == FL_RW_GCE)  # class indices, no second row
    if ((indexed and a.target == NULL) or (not indexed and a.x2 == NULL)
            or (kind == FL_RW_TRIPLET and a.x3 == NULL)):
        raise ValueError("rowwise kernel: missing input")
    if kind == FL_RW_TRIPLET and not (
            (a.grad == NULL) == (a.grad2 == NULL) == (a.grad3 == NULL)):
        raise ValueError("rowwise kernel: triplet needs all three gradients or none")
    _check_rw_alias(&a, 4 if f32 else 8)
    if _misaligned(<size_t>a.x | <size_t>a.x2 | <size_t>a.x3 | <size_t>a.class_weight
                   | <size_t>a.sample_weight | <size_t>a.grad | <size_t>a.grad2
                   | <size_t>a.grad3 | <size_t>a.loss_rows,
                   4 if f32 else 8) or _misaligned(<size_t>a.target, 8):
        return _realigned(rowwise, (
            kind, x, x2, x3, target, class_weight, sample_weight, grad, grad2, grad3,
            loss_rows, n, c, ignore_index, p0, p1, p2, p3, mean, n_threads), 1, 6, 4)
    with nogil:
        if f32:
            status = fl_rw_f32(&a, n_threads)
        else:
            status = fl_rw_f64(&a, n_threads)
    if status == FL_RW_EBADTARGET:
        raise IndexError(a.bad_index)
    if status == FL_RW_ENOMEM:
        raise MemoryError("row-wise loss: out of memory for scratch space")
    if status == FL_RW_EKIND:
        raise ValueError(f"rowwise kernel: unknown kind {kind}")
    return a.loss


def vexp(x, out):
    """The kernels' vectorised exp, element-wise (for accuracy tests); `out` is
    required and of x's length (else ValueError)."""
    cdef int64_t n = x.shape[0]
    cdef const float *x32
    cdef float *o32
    cdef const double *x64
    cdef double *o64
    # one branch per dtype, each setting and using its own pointers (two tests of
    # the dtype left gcc unsure the pointers were set: -Wmaybe-uninitialized)
    if x.dtype.itemsize == 4:
        x32 = _cf32(x, n, "vexp", "x", True)
        o32 = _wf32(out, n, "vexp", "out", True)
        if n > 0:
            with nogil:
                fl_vexp_f32(x32, o32, n)
    else:
        x64 = _cf64(x, n, "vexp", "x", True)
        o64 = _wf64(out, n, "vexp", "out", True)
        if n > 0:
            with nogil:
                fl_vexp_f64(x64, o64, n)
    return out


SIMD_NAMES = ("baseline", "avx2", "avx512")


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


def compiler():
    return fl_compiler().decode("ascii", "replace")


def max_threads():
    return fl_max_threads()


# ---- fused optimizer steps (src_c/fl_optim.c) ------------------------------------

cdef extern from "fl_optim.h" nogil:
    ctypedef struct fl_adam_coef:
        double decay
        double b1
        double b2
        double sqrt_bc2
        double eps
        double step
    void fl_adam_f32(float *p, const float *g, float *m, float *v, int64_t n,
                     const fl_adam_coef *c, int n_threads)
    void fl_adam_f64(double *p, const double *g, double *m, double *v, int64_t n,
                     const fl_adam_coef *c, int n_threads)
    void fl_sgd_f32(float *p, const float *g, float *buf, int64_t n, double lr,
                    double momentum, int nesterov, int n_threads)
    void fl_sgd_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                    double momentum, int nesterov, int n_threads)


cdef int _check_disjoint(
    str name, const char **ptrs, int k, Py_ssize_t nbytes
) except -1:
    """ValueError when two of the k buffers of nbytes bytes share a byte (the kernels
    read and write them in one pass, so overlap would change the result)."""
    cdef int i, j
    for i in range(k):
        for j in range(i):
            if ptrs[i] < ptrs[j] + nbytes and ptrs[j] < ptrs[i] + nbytes:
                raise ValueError(f"{name}: the arrays overlap in memory")
    return 0


def _optim_dtype(str name, arrays, arg_names):
    """The common dtype (float32 or float64) of 1-D ndarrays of one length (the
    kernels read and write len(p) elements of each), or a TypeError / ValueError
    naming the argument. Contiguity and writability are checked again by the
    memoryviews."""
    for a, arg in zip(arrays, arg_names):
        if not isinstance(a, np.ndarray):
            raise TypeError(
                f"{name}: {arg} must be a numpy array, got {type(a).__name__}"
            )
    dtype = arrays[0].dtype
    if dtype != np.float32 and dtype != np.float64:
        raise TypeError(f"{name}: expected float32 or float64 arrays, got {dtype}")
    n = arrays[0].shape[0] if arrays[0].ndim == 1 else -1
    for a, arg in zip(arrays, arg_names):
        if a.dtype != dtype:
            raise TypeError(f"{name}: mixed dtypes {dtype} and {a.dtype} ({arg})")
        if a.ndim != 1:
            raise ValueError(f"{name}: {arg} must be 1-D, got {a.ndim}-D")
        if a.shape[0] != n:
            raise ValueError(
                f"{name}: {arg} has length {a.shape[0]}, expected len(p) = {n}"
            )
        if not a.flags.c_contiguous:
            raise ValueError(f"{name}: {arg} must be contiguous")
    return dtype


def adam_step(p, g, m, v, double decay, double b1, double b2, double sqrt_bc2,
              double eps, double step, int n_threads):
    """One fused Adam(W) step in place on p, m, v (1-D, one dtype); see fl_optim.h."""
    cdef fl_adam_coef c
    cdef float[::1] p32, m32, v32
    cdef const float[::1] g32
    cdef double[::1] p64, m64, v64
    cdef const double[::1] g64
    cdef const char *ptrs[4]
    cdef int64_t n
    dtype = _optim_dtype("adam_step", (p, g, m, v), ("p", "g", "m", "v"))
    n = p.shape[0]
    if n == 0:
        return
    c.decay, c.b1, c.b2 = decay, b1, b2
    c.sqrt_bc2, c.eps, c.step = sqrt_bc2, eps, step
    if dtype == np.float32:
        p32, g32, m32, v32 = p, g, m, v
        ptrs[0], ptrs[1] = <const char *>&p32[0], <const char *>&g32[0]
        ptrs[2], ptrs[3] = <const char *>&m32[0], <const char *>&v32[0]
        _check_disjoint("adam_step", ptrs, 4, n * 4)
        with nogil:
            fl_adam_f32(&p32[0], &g32[0], &m32[0], &v32[0], n, &c, n_threads)
    else:
        p64, g64, m64, v64 = p, g, m, v
        ptrs[0], ptrs[1] = <const char *>&p64[0], <const char *>&g64[0]
        ptrs[2], ptrs[3] = <const char *>&m64[0], <const char *>&v64[0]
        _check_disjoint("adam_step", ptrs, 4, n * 8)
        with nogil:
            fl_adam_f64(&p64[0], &g64[0], &m64[0], &v64[0], n, &c, n_threads)


def sgd_step(p, g, buf, double lr, double momentum, bint nesterov, int n_threads):
    """One fused SGD step in place on p (and the momentum buffer `buf`, or None for
    plain SGD); see fl_optim.h."""
    cdef float[::1] p32, b32
    cdef const float[::1] g32
    cdef double[::1] p64, b64
    cdef const double[::1] g64
    cdef float *bp32 = NULL
    cdef double *bp64 = NULL
    cdef const char *ptrs[3]
    cdef int64_t n
    dtype = _optim_dtype(
        "sgd_step", (p, g) if buf is None else (p, g, buf), ("p", "g", "buf")
    )
    n = p.shape[0]
    if n == 0:
        return
    if dtype == np.float32:
        p32, g32 = p, g
        if buf is not None:
            b32 = buf
            bp32 = &b32[0]
        ptrs[0], ptrs[1] = <const char *>&p32[0], <const char *>&g32[0]
        ptrs[2] = <const char *>bp32
        _check_disjoint("sgd_step", ptrs, 2 if bp32 == NULL else 3, n * 4)
        with nogil:
            fl_sgd_f32(&p32[0], &g32[0], bp32, n, lr, momentum, nesterov, n_threads)
    else:
        p64, g64 = p, g
        if buf is not None:
            b64 = buf
            bp64 = &b64[0]
        ptrs[0], ptrs[1] = <const char *>&p64[0], <const char *>&g64[0]
        ptrs[2] = <const char *>bp64
        _check_disjoint("sgd_step", ptrs, 2 if bp64 == NULL else 3, n * 8)
        with nogil:
            fl_sgd_f64(&p64[0], &g64[0], bp64, n, lr, momentum, nesterov, n_threads)


# ---- CTC loss (src_c/fl_ctc.c) -----------------------------------------------------

cdef extern from "fl_ctc.h" nogil:
    ctypedef struct fl_ctc_args:
        const void *x
        const int64_t *targets
        int64_t n_targets
        const int64_t *target_offsets
        const int64_t *input_lengths
        const int64_t *target_lengths
        const void *sample_weight
        void *grad
        void *loss_rows
        int64_t t
        int64_t n
        int64_t c
        int64_t blank
        int batch_first
        int from_logits
        int zero_infinity
        int reduction
        double loss
        int64_t bad_index
    int FL_CTC_NONE
    int FL_CTC_SUM
    int FL_CTC_MEAN
    int FL_CTC_OK
    int FL_CTC_ENOMEM
    int FL_CTC_EBADLENGTH
    int FL_CTC_EBADLABEL
    int FL_CTC_EBADARG
    int fl_ctc_f32(fl_ctc_args *args, int n_threads)
    int fl_ctc_f64(fl_ctc_args *args, int n_threads)

CTC_REDUCTIONS = {"none": FL_CTC_NONE, "sum": FL_CTC_SUM, "mean": FL_CTC_MEAN}


def ctc(
    x,                 # IN  (t*n*c,) float32/float64: (t, n, c) or (n, t, c), C order
    targets,           # IN  (k,) int64 labels of every sequence
    target_offsets,    # IN  (n,) int64: sequence i's labels start here
    input_lengths,     # IN  (n,) int64
    target_lengths,    # IN  (n,) int64
    sample_weight,     # IN  (n,) or None
    grad,              # OUT (t*n*c,) or None; may be `x` itself
    loss_rows,         # OUT (n,) or None
    int64_t t,
    int64_t n,
    int64_t c,
    int64_t blank,
    bint batch_first,
    bint from_logits,
    bint zero_infinity,
    int reduction,     # FL_CTC_NONE / SUM / MEAN (CTC_REDUCTIONS)
    int n_threads,
):
    """CTC loss and gradient (fl_ctc.h). Returns the loss ("sum" or "mean"; 0.0 for
    "none", whose values go to loss_rows). ValueError, before anything is read or
    written, for a buffer whose length is not the one above, an output overlapping
    an input (but grad being x), a length, offset or label out of range (the kernel
    checks those too before it reads x)."""
    cdef fl_ctc_args a
    cdef int status
    cdef str fn = "ctc"
    cdef bint f32 = x.dtype.itemsize == 4
    cdef Py_ssize_t item = 4 if f32 else 8
    cdef Py_ssize_t nn = _n_by_c(fn, n, c, 1)
    cdef Py_ssize_t tnc
    if t < 0:
        raise ValueError(f"ctc kernel: t must be >= 0, got {t}")
    tnc = _n_by_c(fn, t, nn, 0)
    a.x = _cin(x, f32, tnc, fn, "x", True)
    a.sample_weight = _cin(sample_weight, f32, n, fn, "sample_weight")
    a.grad = _wout(grad, f32, tnc, fn, "grad")
    a.loss_rows = _wout(loss_rows, f32, n, fn, "loss_rows")
    if targets is None:
        raise ValueError("ctc kernel: targets is required, got None")
    a.n_targets = targets.shape[0]
    a.targets = _ci64(targets, a.n_targets, fn, "targets")
    a.target_offsets = _ci64(target_offsets, n, fn, "target_offsets")
    a.input_lengths = _ci64(input_lengths, n, fn, "input_lengths")
    a.target_lengths = _ci64(target_lengths, n, fn, "target_lengths")
    if n > 0 and (a.target_offsets == NULL or a.input_lengths == NULL
                  or a.target_lengths == NULL):
        raise ValueError("ctc kernel: the offsets and lengths are required")
    if reduction < FL_CTC_NONE or reduction > FL_CTC_MEAN:
        raise ValueError(f"ctc kernel: unknown reduction {reduction}")
    if blank < 0 or blank >= c:
        raise ValueError(f"ctc kernel: blank must be in [0, {c}), got {blank}")
    a.t = t
    a.n = n
    a.c = c
    a.blank = blank
    a.batch_first = batch_first
    a.from_logits = from_logits
    a.zero_infinity = zero_infinity
    a.reduction = reduction
    if n == 0:
        return 0.0
    if a.grad != NULL:
        if a.grad != a.x and _overlap(a.grad, tnc * item, a.x, tnc * item):
            raise ValueError("out overlaps the input without being the input itself")
        if (_overlap(a.grad, tnc * item, a.targets, a.n_targets * 8)
                or _overlap(a.grad, tnc * item, a.target_offsets, n * 8)
                or _overlap(a.grad, tnc * item, a.input_lengths, n * 8)
                or _overlap(a.grad, tnc * item, a.target_lengths, n * 8)
                or _overlap(a.grad, tnc * item, a.sample_weight, n * item)
                or _overlap(a.grad, tnc * item, a.loss_rows, n * item)):
            raise ValueError("out overlaps an input (targets, a length or a weight)")
    if a.loss_rows != NULL and _overlap(a.loss_rows, n * item, a.x, tnc * item):
        raise ValueError("the loss buffer overlaps the input")
    if _misaligned(<size_t>a.x | <size_t>a.sample_weight | <size_t>a.grad
                   | <size_t>a.loss_rows, item) or _misaligned(
                       <size_t>a.targets | <size_t>a.target_offsets
                       | <size_t>a.input_lengths | <size_t>a.target_lengths, 8):
        return _realigned(ctc, (
            x, targets, target_offsets, input_lengths, target_lengths,
            sample_weight, grad, loss_rows, t, n, c, blank, batch_first,
            from_logits, zero_infinity, reduction, n_threads), 0, 6, 2)
    with nogil:
        if f32:
            status = fl_ctc_f32(&a, n_threads)
        else:
            status = fl_ctc_f64(&a, n_threads)
    if status == FL_CTC_ENOMEM:
        raise MemoryError("ctc loss: out of memory for the dynamic program's scratch")
    if status == FL_CTC_EBADLENGTH:
        raise ValueError(
            f"ctc kernel: sequence {a.bad_index}: input length, target length or "
            "offset out of range"
        )
    if status == FL_CTC_EBADLABEL:
        raise ValueError(
            f"ctc kernel: targets[{a.bad_index}] is out of [0, {c}) or the blank"
        )
    if status == FL_CTC_EBADARG:
        raise ValueError("ctc kernel: bad t, n, c, blank or reduction")
    return a.loss


# ---- gradient-boosting objectives (src_c/fl_objectives.h), for fastloss/objectives.py

cdef extern from "fl_objectives.h" nogil:
    ctypedef struct fl_obj_args:
        int kind
        const void *raw
        const void *target
        const void *sample_weight
        const void *class_weight
        void *grad
        void *hess
        int64_t n
        int64_t k
        double p[4]
        double hess_scale
        double min_hess
        double loss
    int FL_OBJ_OK
    int FL_OBJ_ENOMEM
    int FL_OBJ_EKIND
    int FL_OBJ_ETARGET
    int FL_OBJ_COUNT
    int FL_OBJ_SOFTMAX
    int fl_obj_f32(fl_obj_args *args, int n_threads)
    int fl_obj_f64(fl_obj_args *args, int n_threads)
    const char *fl_obj_kind_name(int kind)


def objective(
    int kind,
    x,                 # IN  (n * k,) raw scores, C order
    y,                 # IN  (n,) targets of x's dtype; int64 class indices (SOFTMAX)
    sample_weight,     # IN  (n,) or None
    class_weight,      # IN  (k,) or None (SOFTMAX only)
    grad,              # OUT (n * k,) or None (then the loss sum alone)
    hess,              # OUT (n * k,), given exactly when grad is
    int64_t k,
    double p0,
    double p1,
    double hess_scale,
    double min_hess,
    int n_threads,
):
    """Objective of kind `kind` (FL_OBJ_* in fl_objectives.h): with grad None, returns
    the float64 sum of the weighted losses; else writes grad and hess and returns 0.
    n is len(y); ValueError, before anything is read or written, for a buffer whose
    length is not the one above, or outputs that overlap an input or each other."""
    cdef fl_obj_args a
    cdef int status
    cdef str fn = "objective"
    cdef bint f32 = x.dtype.itemsize == 4
    cdef bint soft = kind == FL_OBJ_SOFTMAX
    cdef Py_ssize_t item = 4 if f32 else 8
    cdef Py_ssize_t n = y.shape[0]
    cdef Py_ssize_t nk, nb
    if kind < 0 or kind >= FL_OBJ_COUNT:
        raise ValueError(f"objective kernel: unknown kind {kind}")
    if (grad is None) != (hess is None):
        raise ValueError("objective kernel: grad and hess go together")
    nk = _n_by_c(fn, n, k if soft else 1, 1)
    a.raw = _cin(x, f32, nk, fn, "x", True)
    if soft:
        a.target = _ci64(y, n, fn, "y")
        a.class_weight = _cin(class_weight, f32, k, fn, "class_weight")
    else:
        a.target = _cin(y, f32, n, fn, "y", True)
        a.class_weight = NULL
    a.sample_weight = _cin(sample_weight, f32, n, fn, "sample_weight")
    a.grad = _wout(grad, f32, nk, fn, "grad")
    a.hess = _wout(hess, f32, nk, fn, "hess")
    a.kind = kind
    a.n = n
    a.k = k if soft else 1
    a.p[0] = p0
    a.p[1] = p1
    a.p[2] = 0.0
    a.p[3] = 0.0
    a.hess_scale = hess_scale
    a.min_hess = min_hess
    if nk == 0:
        return 0.0
    if a.grad != NULL:
        nb = nk * item
        if (_overlap(a.grad, nb, a.hess, nb)
                or _overlap(a.grad, nb, a.raw, nb) or _overlap(a.hess, nb, a.raw, nb)
                or _overlap(a.grad, nb, a.target, n * (8 if soft else item))
                or _overlap(a.hess, nb, a.target, n * (8 if soft else item))
                or _overlap(a.grad, nb, a.sample_weight, n * item)
                or _overlap(a.hess, nb, a.sample_weight, n * item)
                or _overlap(a.grad, nb, a.class_weight, k * item)
                or _overlap(a.hess, nb, a.class_weight, k * item)):
            raise ValueError(
                "objective kernel: grad and hess must not overlap each other or an "
                "input")
    if _misaligned(<size_t>a.raw | <size_t>a.sample_weight | <size_t>a.class_weight
                   | <size_t>a.grad | <size_t>a.hess, item) or _misaligned(
                       <size_t>a.target, 8 if soft else item):
        return _realigned(objective, (
            kind, x, y, sample_weight, class_weight, grad, hess, k, p0, p1,
            hess_scale, min_hess, n_threads), 1, 4, 2)
    with nogil:
        if f32:
            status = fl_obj_f32(&a, n_threads)
        else:
            status = fl_obj_f64(&a, n_threads)
    if status == FL_OBJ_ETARGET:
        raise ValueError(f"objective kernel: a class index is outside [0, {k})")
    if status == FL_OBJ_ENOMEM:
        raise MemoryError("objective: out of memory for scratch space")
    if status != FL_OBJ_OK:
        raise ValueError(f"objective kernel: unknown kind {kind}")
    return a.loss


# The objective kinds by name, from the kernel's own list (FL_OBJ_KINDS).
OBJ_KINDS = {fl_obj_kind_name(k).decode(): k for k in range(FL_OBJ_COUNT)}
