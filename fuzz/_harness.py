"""Decoder and checker of the fastloss API fuzz target; no atheris needed.

`run(data)` turns fuzz bytes into one call of a public loss (`decode`) and checks it
(`check`): the call either raises a clean ValueError/TypeError, with every argument
left untouched, or returns what the float64 twins in tests/_reference*.py give for
the inputs as the kernel sees them (converted to the compute dtype), to the result
dtype's tolerance, NaN-aware, and leaves every argument but ``out=`` untouched.
Anything else raises `Finding` (an AssertionError).

What the checker expects is written from the documented contract (README, the
docstrings), not from fastloss/_validation.py: `model_*` below say which calls are
invalid and what a valid one returns. fuzz/fuzz_api.py drives `run` under atheris;
tests/test_fuzz_regressions.py replays stored inputs through it.

Byte reading (`ByteReader`) is atheris.FuzzedDataProvider's, byte for byte, for the
two methods used (integers from the end of the data, raw bytes from the front), so
an input found by atheris decodes to the same call without it. When the bytes run
out every choice is its first option: the first entry of each option list below is
the plain, valid one, and a short input is a plain call.
"""

import math
import numbers
import operator
import sys
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

import _reference as ref_sce  # noqa: E402
import _reference_binary as ref_bin  # noqa: E402
import _reference_regression as ref_reg  # noqa: E402
import _reference_rowwise as ref_row  # noqa: E402

import fastloss  # noqa: E402
from fastloss import _table  # noqa: E402

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
REDUCTIONS = ("none", "mean", "sum")
OMIT = "<omitted>"  # option value meaning "keyword not passed"
MAX_SIZE = 70_000  # elements per array (big cases cross the threading threshold)


class Finding(AssertionError):
    """A broken promise: unexpected exception, wrong value, modified input..."""


class Invalid(Exception):
    """The model says this call must raise ValueError or TypeError."""


# ---------------------------------------------------------------------------------
# bytes -> choices
# ---------------------------------------------------------------------------------


class ByteReader:
    """atheris.FuzzedDataProvider's ConsumeIntInRange / ConsumeBytes, in Python."""

    def __init__(self, data):
        self._data = bytes(data)
        self._lo = 0
        self._hi = len(self._data)

    def remaining_bytes(self):
        return self._hi - self._lo

    def ConsumeIntInRange(self, lo, hi):  # noqa: N802 (atheris' name)
        span, result, offset = hi - lo, 0, 0
        while offset < 64 and (span >> offset) > 0 and self._hi > self._lo:
            self._hi -= 1
            result = (result << 8) | self._data[self._hi]
            offset += 8
        if span != 2**64 - 1:
            result %= span + 1
        return lo + result

    def ConsumeBytes(self, n):  # noqa: N802
        n = max(0, min(n, self.remaining_bytes()))
        out = self._data[self._lo : self._lo + n]
        self._lo += n
        return out


class Draw:
    """Choices from a provider (ByteReader or atheris.FuzzedDataProvider)."""

    def __init__(self, provider):
        self.p = provider

    def int(self, lo, hi):
        return self.p.ConsumeIntInRange(lo, hi)

    def pick(self, options):
        return options[self.int(0, len(options) - 1)]

    def opt(self, options, good):
        """Mostly (3 in 4) one of the first `good` options, else any."""
        if self.int(0, 3) < 3:
            return options[self.int(0, good - 1)]
        return self.pick(options)

    def chance(self, k):
        """True with probability 1/k (False once the bytes run out)."""
        return self.int(0, k - 1) == k - 1

    def bytes(self, n):
        return self.p.ConsumeBytes(n)

    def u8(self, n):
        """n bytes as uint8, cycled when the data runs short (zeros if none)."""
        b = np.frombuffer(self.bytes(n), dtype=np.uint8)
        return np.resize(b, n) if b.size else np.zeros(n, np.uint8)


# ---------------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------------

SPECIALS = (
    0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.5, 1e-3, 100.0, -100.0, 1e4, -1e4, 88.0,
    -104.0, 710.0, 1e30, -1e30, 3e38, -3.4e38, 1e39, 65504.0, 7e4, 1e-7, 1e-40,
    5e-324, 1e300, -1e300, np.inf, -np.inf, np.nan,
)  # fmt: skip
# dtype specs of array arguments; "list" is a nested Python list of floats
FLOAT_SPECS = (
    "f8", "f4", "f8", "f4", "f2", "i8", "i4", "u1", "?", "g", ">f8", ">f4",
    "c16", "O", "U", "list",
)  # fmt: skip
LAYOUTS = ("C", "C", "C", "F", "step", "neg", "T", "readonly", "unaligned", "list")
DIMS = (3, 1, 2, 4, 0, 5, 7, 8, 16, 17, 33, 64)
BIG_SHAPES = ((2, 20000), (40000,), (300, 130), (1, 40000), (3, 17000), (1200, 33))
OBJECTS = (1, 2.5, -3, True, Fraction(1, 3), np.float32(0.25), None, "1.5", 10**400)


def float_values(d, n, kind="any"):
    """n float64 values; `kind` "pos" (weights) or "prob" (in [0, 1] mostly)."""
    mode = d.pick(("moderate", "specials", "moderate", "constant", "raw", "wide"))
    b = d.u8(n).astype(np.float64)
    if kind == "prob":
        v = b / 255.0
    elif kind == "pos":
        v = b / 64.0
    else:
        v = (b - 128.0) / 16.0
    if mode == "specials":
        for _ in range(d.int(1, 4)):
            if n:
                v[d.int(0, n - 1)] = d.pick(SPECIALS)
    elif mode == "constant":
        v[:] = d.pick(SPECIALS)
    elif mode == "raw":
        raw = d.u8(8 * n)
        v = raw.view(np.float64).copy() if n else v
    elif mode == "wide":
        v = v * 10.0 ** d.int(-45, 45)
    return v


def _from_values(d, v, spec, shape):
    """An array of dtype `spec` holding (a conversion of) the values `v`."""
    v = v.reshape(shape)
    with np.errstate(all="ignore"):
        if spec in ("f8", "f4", "f2", "g", ">f8", ">f4"):
            return v.astype(spec)
        if spec in ("i8", "i4", "u1"):
            ok = np.where(np.isfinite(v), v, 0.0)
            return np.clip(np.round(ok), -1e6, 1e6).astype(spec)
        if spec == "?":
            return v > 0
        if spec == "c16":
            return v.astype(np.complex128) * (1 + 1j)
        if spec == "U":
            return v.astype(str)
    if spec == "O":
        out = np.empty(shape, dtype=object)
        flat = out.reshape(-1)
        for i in range(flat.size):
            flat[i] = float(v.reshape(-1)[i])
        if flat.size and d.chance(3):
            flat[d.int(0, flat.size - 1)] = d.pick(OBJECTS)
        return out
    return v.tolist()  # "list"


def apply_layout(d, arr, layout):
    """The same logical values with another memory layout (or as a list)."""
    if not isinstance(arr, np.ndarray):
        return arr
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "step" and arr.ndim:
        buf = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        buf[..., ::2] = arr
        return buf[..., ::2]
    if layout == "neg" and arr.ndim:
        return arr[..., ::-1].copy()[..., ::-1]
    if layout == "T" and arr.ndim >= 2:
        return arr.T.copy().T
    if layout == "readonly":
        a = arr.copy()
        a.flags.writeable = False
        return a
    if layout == "unaligned" and arr.dtype.kind in "fiu" and arr.dtype.itemsize > 1:
        raw = np.zeros(arr.nbytes + 1, dtype=np.uint8)
        a = raw[1:].view(arr.dtype).reshape(arr.shape)
        a[...] = arr
        return a
    if layout == "list":
        return arr.tolist()
    return arr


def shape_of(d):
    if d.chance(24):
        return d.pick(BIG_SHAPES)
    ndim = d.pick((2, 1, 3, 0, 2))
    return tuple(d.pick(DIMS) for _ in range(ndim))


def float_array(d, shape, kind="any", spec=None):
    spec = spec or d.opt(FLOAT_SPECS, 5)
    layout = d.pick(LAYOUTS)
    n = math.prod(shape)
    if n > 64 and d.int(0, 1) == 0:
        # big arrays: a short pattern tiled (cheap to decode), one value changed
        base = float_values(d, d.int(1, 64), kind)
        v = np.resize(base, n)
        v[d.int(0, n - 1)] = d.pick(SPECIALS)
    else:
        v = float_values(d, n, kind)
    return apply_layout(d, _from_values(d, v, spec, shape), layout)


def vector(d, n, kind="pos"):
    """A weight-like 1-D argument of n entries (or a hostile variant)."""
    mode = d.opt(("ok", "specials", "short", "long", "2d", "list", "neg"), 2)
    m = {"short": max(n - 1, 0), "long": n + 1}.get(mode, n)
    v = d.u8(m).astype(np.float64) / 64.0
    if mode == "specials" and m:
        v[d.int(0, m - 1)] = d.pick(SPECIALS)
    if mode == "neg":
        v = v - 2.0
    spec = d.pick(("f8", "f4", "f8", "f2", "i8", "O", "list", ">f8"))
    arr = _from_values(d, v, spec, (m,))
    if mode == "2d" and isinstance(arr, np.ndarray):
        arr = arr.reshape(1, m)
    return apply_layout(d, arr, d.pick(LAYOUTS))


def labels(d, lead, c, ignore):
    n = math.prod(lead)
    v = d.u8(n).astype(np.int64) % max(c, 1)
    mode = d.opt(("valid", "ignore", "bad"), 2)
    if n and mode == "ignore" and isinstance(ignore, int) and abs(ignore) < 2**62:
        v[:: d.int(1, 3)] = ignore
    if n and mode == "bad":
        v[d.int(0, n - 1)] = d.pick((-1, c, -100, 2**40, -(2**62)))
    spec = d.opt(("i8", "i4", "u1", "u8", "i2", "list"), 3)
    arr = v.reshape(lead)
    if spec != "list":
        with np.errstate(all="ignore"):
            arr = arr.astype(spec)
    if spec == "u8" and n and d.chance(4):
        arr.reshape(-1)[-1] = 2**64 - 1
    return apply_layout(d, arr, d.pick(LAYOUTS)) if spec != "list" else arr.tolist()


# ---------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------

# public name -> (family, returns a gradient), from the loss table
# (fastloss/_table.py), in its order (a case picks its function by position).
FUNCTIONS = {
    name: (row.fuzz, name.endswith("_and_grad"))
    for row in _table.LOSSES
    if row.fuzz
    for name in row.names
}
ELEMENTWISE = tuple(
    r.fuzz for r in _table.LOSSES if r.fuzz and r.family == "elementwise"
)

REDUCTION_OPTS = (OMIT, "sum", "none", "mean", "MEAN", "avg", None, 1, b"sum")
THREAD_OPTS = (OMIT, 1, 2, None, 3, 0, -1, True, 1.5, "2", np.int64(2), 2**31, 64)
SMOOTHING_OPTS = (OMIT, 0.1, 1.0, 0.0, -0.1, 1.5, np.nan, np.inf, True, "0.1")
SMOOTHING_OPTS += (np.float32(0.25), np.array(0.2), Fraction(1, 3), 1e-320, None)
IGNORE_OPTS = (OMIT, -1, 0, 1, 2, 2**40, 2**63, True, 1.5, np.int8(3), "1", None)


@dataclass
class Case:
    name: str
    args: list
    kwargs: dict
    simd: str = "auto"
    notes: list = field(default_factory=list)

    @property
    def family(self):
        return FUNCTIONS[self.name][0]

    @property
    def grad(self):
        return FUNCTIONS[self.name][1]


def _opt(d, kw, key, options, good=2):
    v = d.opt(options, good)
    if v is not OMIT and not (isinstance(v, str) and v == OMIT):
        kw[key] = v


def _lead_and_c(x):
    try:
        shape = np.shape(np.asarray(x, dtype=object) if isinstance(x, list) else x)
    except Exception:
        return (), 1
    if not shape:
        return (), 1
    return shape[:-1], shape[-1]


def _sample_weight(d, kw, lead, elementwise_shape=None):
    if d.int(0, 2) != 2:
        return
    if elementwise_shape is not None and elementwise_shape and d.int(0, 1):
        k = d.int(1, len(elementwise_shape))
        kw["sample_weight"] = float_array(d, elementwise_shape[:k], "pos")
        return
    mode = d.opt(("ok", "specials", "wrong"), 2)
    if mode == "wrong":
        kw["sample_weight"] = vector(d, math.prod(lead) + 1)
        return
    sw = float_array(d, lead, "pos", spec=d.pick(("f8", "f4", "f2", "i8", "O")))
    kw["sample_weight"] = sw


def _out(d, case, shape, res_dtype):
    """Adds an out= (or not) for a single-gradient function."""
    mode = d.opt(
        ("none", "fresh", "input", "view", "overlap", "wrong_dtype", "wrong_shape")
        + ("fortran", "readonly", "list", "target", "weight", "strided"),
        3,
    )
    case.notes.append(f"out={mode}")
    x = case.args[0]
    rd = res_dtype if res_dtype is not None else F64
    if mode == "none":
        return
    if mode == "fresh":
        case.kwargs["out"] = np.full(shape, 7.0, dtype=rd)
    elif mode == "input":
        case.kwargs["out"] = x
    elif mode == "view":
        case.kwargs["out"] = x.view() if isinstance(x, np.ndarray) else x
    elif mode == "overlap" and isinstance(x, np.ndarray) and x.size:
        k = d.int(1, max(1, x.size))
        buf = np.zeros(x.size + k, dtype=x.dtype)
        xv = buf[: x.size].reshape(x.shape)
        xv[...] = x
        case.args[0] = xv
        case.kwargs["out"] = buf[k:].reshape(x.shape)
    elif mode == "wrong_dtype":
        case.kwargs["out"] = np.zeros(shape, dtype=d.pick((F32, F64, F16, "i8", ">f8")))
    elif mode == "wrong_shape":
        case.kwargs["out"] = np.zeros((*shape, 1), dtype=rd)
    elif mode == "fortran":
        case.kwargs["out"] = np.zeros(shape, dtype=rd, order="F")
    elif mode == "readonly":
        o = np.zeros(shape, dtype=rd)
        o.flags.writeable = False
        case.kwargs["out"] = o
    elif mode == "list":
        case.kwargs["out"] = np.zeros(shape).tolist()
    elif mode == "target" and len(case.args) > 1:
        case.kwargs["out"] = case.args[1]
    elif mode == "weight":
        # out is fresh, and a weight argument is a view into its memory
        out = np.full(shape, 7.0, dtype=rd)
        case.kwargs["out"] = out
        # (the order in which weights are tried is part of the generated cases:
        # softmax CE's class_weight was tried first, focal's after sample_weight)
        keys = ("weight", "sample_weight", "pos_weight", "alpha")
        if case.family == "focal":
            keys += ("class_weight",)
        else:
            keys = ("class_weight", *keys)
        for key in keys:
            w = case.kwargs.get(key)
            if isinstance(w, np.ndarray) and 0 < w.size <= out.size:
                view = out.reshape(-1)[-w.size :].reshape(w.shape)
                with np.errstate(all="ignore"):
                    view[...] = w.astype(rd) if w.dtype.kind in "fiub" else 1.0
                case.kwargs[key] = view
                case.notes.append(f"{key} inside out")
                break
    elif mode == "strided":
        wide = (*shape[:-1], 2 * shape[-1]) if shape else (2,)
        case.kwargs["out"] = np.zeros(wide, rd)[..., ::2]


def _res_dtype(x):
    try:
        return conv(x, "x")[2]
    except Invalid:
        return None


def _shape_as_seen(x):
    try:
        return np.asarray(x).shape
    except Exception:
        return ()


def decode(data):
    """Fuzz bytes (or an atheris.FuzzedDataProvider) -> a Case."""
    d = Draw(ByteReader(data) if isinstance(data, (bytes, bytearray)) else data)
    name = d.pick(tuple(FUNCTIONS))
    case = Case(name, [], {})
    case.simd = d.pick(("auto", "baseline", "avx2"))
    fam = case.family
    shape = shape_of(d)
    if fam in ("sce", "ppl", "focal"):
        _decode_softmax(d, case, shape)
    elif fam == "kl":
        _decode_kl(d, case, shape)
    elif fam == "triplet":
        _decode_triplet(d, case, shape)
    else:
        _decode_elementwise(d, case, shape)
    if fam != "ppl":
        _opt(d, case.kwargs, "reduction", REDUCTION_OPTS)
    _opt(d, case.kwargs, "n_threads", THREAD_OPTS)
    if case.grad and fam != "triplet":
        _out(d, case, _shape_as_seen(case.args[0]), _res_dtype(case.args[0]))
    elif case.grad:
        _triplet_out(d, case)
    return case


def _decode_softmax(d, case, shape):
    fam = case.family
    x = float_array(d, shape)
    lead, c = _lead_and_c(x)
    kw = case.kwargs
    _opt(d, kw, "ignore_index", IGNORE_OPTS)
    ignore = kw.get("ignore_index", -100)
    tmode = d.opt(
        ("labels", "probs", "float_labels", "bool", "wrong_shape", "object", "scalar"),
        2,
    )
    case.notes.append(f"target={tmode}")
    if tmode == "labels":
        t = labels(d, lead, c, ignore)
    elif tmode == "probs":
        t = float_array(d, shape, "prob", spec=d.pick(("f8", "f4", "f2", "g", "list")))
    elif tmode == "float_labels":
        t = labels(d, lead, c, ignore)
        t = np.asarray(t, dtype=d.pick((F64, F32)))
    elif tmode == "bool":
        t = np.zeros(lead, dtype=bool)
    elif tmode == "wrong_shape":
        t = labels(d, (*lead, 1), c, ignore)
    elif tmode == "object":
        t = np.asarray(labels(d, lead, c, ignore)).astype(object)
    else:
        t = d.pick((0, np.int64(1), 0.5, None, "0"))
    case.args = [x, t]
    if fam == "sce":
        if d.int(0, 2) == 2:
            kw["class_weight"] = vector(d, c)
        _opt(d, kw, "label_smoothing", SMOOTHING_OPTS)
        _opt(d, kw, "z_loss", (OMIT, 1e-3, 0.0, 1.0, -1e-3, np.inf, np.nan, 1e300))
        _sample_weight(d, kw, lead)
    elif fam == "focal":
        _opt(d, kw, "gamma", (OMIT, 0.0, 0.5, 1.0, 3.7, -1.0, np.inf, np.nan, 1e300))
        if d.int(0, 2) == 2:
            kw["class_weight"] = vector(d, c)
        _sample_weight(d, kw, lead)


def _decode_kl(d, case, shape):
    kw = case.kwargs
    s = float_array(d, shape)
    _opt(d, kw, "teacher_probs", (OMIT, True, False, np.bool_(True), 1, "yes", None))
    probs = kw.get("teacher_probs") is True or kw.get("teacher_probs") is np.True_
    tshape = shape if not d.chance(8) else (*shape, 1)
    t = float_array(d, tshape, "prob" if probs else "any")
    case.args = [s, t]
    _opt(d, kw, "temperature", (OMIT, 2.0, 0.5, 1e-3, 100.0, 0.0, -1.0, np.inf))
    _sample_weight(d, kw, _lead_and_c(s)[0])


def _decode_triplet(d, case, shape):
    kw = case.kwargs
    arrays = []
    for _ in range(3):
        s = shape if not d.chance(10) else shape_of(d)
        arrays.append(float_array(d, s))
    case.args = arrays
    _opt(d, kw, "margin", (OMIT, 0.0, 0.5, -1.0, 2.0, np.inf, np.nan, 1e30))
    _opt(d, kw, "p", (OMIT, 1, 2, 3, 1.5, 0.5, 0, np.inf, True, 2.0, np.int64(2)))
    _opt(d, kw, "eps", (OMIT, 0.0, 1e-3, -1e-6, np.nan, np.inf, 1e30))
    _opt(d, kw, "swap", (OMIT, True, False, np.bool_(True), 1, None))
    _sample_weight(d, kw, _lead_and_c(arrays[0])[0])


def _triplet_out(d, case):
    mode = d.opt(("none", "fresh", "inputs", "swapped", "one", "short"), 3)
    case.notes.append(f"out={mode}")
    if mode == "none":
        return
    shape = _shape_as_seen(case.args[0])
    rd = _res_dtype(case.args[0]) or F64
    if mode == "one":
        case.kwargs["out"] = np.zeros(shape, rd)
        return
    outs = []
    for j in range(3):
        kind = d.pick(("fresh", "input", "fresh", "same", "readonly", "other"))
        if mode == "fresh" or kind == "fresh":
            outs.append(np.full(shape, 7.0, rd))
        elif kind == "input" or mode == "inputs":
            outs.append(case.args[j])
        elif kind == "same" and outs:
            outs.append(outs[-1])
        elif kind == "other":
            outs.append(case.args[(j + 1) % 3])
        else:
            o = np.zeros(shape, rd)
            o.flags.writeable = False
            outs.append(o)
    if mode == "swapped":
        outs = outs[::-1]
    case.kwargs["out"] = tuple(outs) if mode != "short" else tuple(outs[:2])


def _decode_elementwise(d, case, shape):
    fam, kw = case.family, case.kwargs
    x = float_array(d, shape, "prob" if fam == "bce" else "any")
    tshape = shape
    if d.chance(10):
        tshape = d.pick(((*shape, 1), shape[1:], (1,) + shape[1:]))
    t = float_array(
        d, tshape, "prob" if fam in ("bce", "bce_logits", "sfocal") else "any"
    )
    case.args = [x, t]
    sshape = _shape_as_seen(x)
    if d.int(0, 2) == 2:
        wmode = d.pick(("full", "last", "one", "scalar", "wrong"))
        wshape = {
            "full": sshape,
            "last": sshape[-1:],
            "one": (1,),
            "scalar": (),
            "wrong": (*sshape, 2),
        }[wmode]
        kw["weight"] = float_array(d, wshape, "pos")
    _sample_weight(d, kw, sshape[:1], elementwise_shape=sshape)
    if fam == "bce_logits":
        if d.int(0, 2) == 2:
            pmode = d.pick(("vec", "scalar", "one", "vec"))
            c = sshape[-1] if sshape else 1
            if pmode == "vec":
                kw["pos_weight"] = vector(d, c)
            elif pmode == "scalar":
                kw["pos_weight"] = d.pick((2.5, 0.0, np.inf, -1.0, 1e39))
            else:
                kw["pos_weight"] = np.array([d.pick((0.5, np.nan, 1e39))])
        _opt(d, kw, "label_smoothing", SMOOTHING_OPTS)
    elif fam == "bce":
        eps = (OMIT, 1e-3, 0.1, 0.0, 0.5, 0.49, 1e-12, 1e-45, -1e-3, np.nan)
        _opt(d, kw, "epsilon", eps)
        _opt(d, kw, "label_smoothing", SMOOTHING_OPTS)
    elif fam == "sfocal":
        _opt(d, kw, "alpha", (OMIT, None, 0.5, -1.0, 1.0, 1.5, np.nan, 0.0, -np.inf))
        _opt(d, kw, "gamma", (OMIT, 0.0, 0.5, 1.0, 5.0, -1.0, np.inf, np.nan, 1e300))
    elif fam == "huber":
        _opt(d, kw, "delta", (OMIT, 0.5, 1e-3, 1e3, 0.0, -1.0, np.inf, np.nan, True))
    elif fam == "smooth_l1":
        _opt(d, kw, "beta", (OMIT, 0.0, 0.5, 1e3, -1.0, np.nan, np.inf))


# ---------------------------------------------------------------------------------
# the model: the documented contract
# ---------------------------------------------------------------------------------


@dataclass
class Expected:
    loss: object  # float, or float64 array for "none"
    loss_scale: object
    grads: tuple  # float64 arrays, () when no gradient
    grad_scales: tuple
    res_dtype: np.dtype  # dtype of a "none" loss and of the gradients
    cmp_dtype: np.dtype  # dtype whose rounding the values carry
    reduction: str
    overflow: bool = False  # a term overflows the compute dtype: non-finite allowed
    ill_mean: bool = False  # "mean" of an ill-conditioned normaliser
    may_reject: bool = False  # a clean error is acceptable too
    nan_free: bool = False  # where fastloss may give a number for the twin's NaN
    skip_values: bool = False  # outside the documented domain: types and shapes only
    loose_values: bool = False  # subnormal weights: finite where the twin is finite
    loss_slack: float = 0.0  # absolute slack for the twin's own underflow


def conv(x, name):
    """(float64 values as the kernel sees them, compute dtype, result dtype).

    float32/float64 as given (any byte order), float16 computed in float32, long
    double in float64, integers and bools as float64, object arrays of real numbers
    as float64; anything else (complex, strings, None inside) is a TypeError."""
    if x is None:
        raise Invalid(f"{name} is None")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(x)
    except Exception as exc:
        raise Invalid(f"{name}: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype.itemsize == 2:
            cd, rd = F32, F16
        elif arr.dtype.itemsize == 4:
            cd = rd = F32
        else:
            cd = rd = F64
    elif kind in "iub":
        cd = rd = F64
    elif kind == "O":
        flat = list(arr.flat)
        if not all(
            isinstance(v, numbers.Real) and not isinstance(v, (str, bytes))
            for v in flat
        ):
            raise Invalid(f"{name}: object array of non-numbers")
        try:
            arr = arr.astype(F64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise Invalid(f"{name}: {exc}") from None
        cd = rd = F64
    else:
        raise Invalid(f"{name}: dtype {arr.dtype}")
    with np.errstate(all="ignore"):
        vals = arr.astype(cd).astype(F64)
    return vals, cd, rd


def m_reduction(kw):
    r = kw.get("reduction", "mean")
    if not isinstance(r, str) or r not in REDUCTIONS:
        raise Invalid(f"reduction {r!r}")
    return str(r)


class _Either:
    """Marks a model value for which a clean error is acceptable too."""

    flag = False


# The documented ranges (docs/RELIABILITY.md, "Accepted ranges"): a weight entry or
# a weight-like scalar (z_loss, temperature) is 0 or of magnitude in [2**-k, 2**k],
# k = 32 for float32 computation and 200 for float64; any other real parameter is 0
# or a normal number of the compute dtype.
WEIGHT_EXP = {F32: 32, F64: 200}


def _bad_weights(vals, cd):
    """Whether an entry of the float64 array `vals` (finite) breaks the range; the
    values as the caller gave them, before the conversion to the compute dtype."""
    k = WEIGHT_EXP[F32 if cd in (F32, F16) else F64]
    a = np.abs(np.asarray(vals, dtype=F64))
    return bool(np.any((a != 0) & ((a < 2.0**-k) | (a > 2.0**k))))


def _in_dtype(f, name, cd, weight_like):
    if cd is None or f == 0:
        return
    if weight_like:
        if _bad_weights(np.array([f]), cd):
            raise Invalid(f"{name}={f} outside the weight range of {cd}")
        return
    info = np.finfo(F32 if cd in (F32, F16) else F64)
    if not float(info.tiny) <= abs(f) <= float(info.max):
        raise Invalid(f"{name}={f} not a normal {info.dtype}")


def m_real(
    v,
    name,
    lo=None,
    hi=None,
    lo_open=False,
    hi_open=False,
    either=None,
    cd=None,
    weight_like=False,
):
    if isinstance(v, (bool, np.bool_, str, bytes)) or v is None:
        raise Invalid(f"{name}={v!r}")
    if isinstance(v, np.ndarray):
        if v.ndim != 0 and either is not None:
            either.flag = True  # a 1-element array: NumPy deprecates float() of it
        if v.dtype.kind not in "fiu" or v.size != 1:
            raise Invalid(f"{name}={v!r}")
        v = v.reshape(())[()]
    if not isinstance(v, numbers.Real):
        raise Invalid(f"{name}={v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise Invalid(f"{name}={f}")
    if lo is not None and (f < lo or (lo_open and f == lo)):
        raise Invalid(f"{name}={f}")
    if hi is not None and (f > hi or (hi_open and f == hi)):
        raise Invalid(f"{name}={f}")
    _in_dtype(f, name, cd, weight_like)
    return f


def m_int(v, name, either):
    if isinstance(v, (bool, np.bool_)):
        raise Invalid(f"{name}={v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise Invalid(f"{name}={v!r}") from None
    if not -(2**63) <= i < 2**63:
        either.flag = True  # cannot equal any int64 target: error or no-op
    return i


def m_threads(kw):
    v = kw.get("n_threads")
    if v is None:
        return
    if isinstance(v, (bool, np.bool_)):
        raise Invalid(f"n_threads={v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise Invalid(f"n_threads={v!r}") from None
    if i < 1 or i > 1 << 16:
        raise Invalid(f"n_threads={i}")


def m_flag(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise Invalid(f"{name}={v!r}")
    return bool(v)


def m_weight(w, name, shape, cd, finite=True):
    """None or float64 values (as the kernel sees them) of exactly `shape`."""
    if w is None:
        return None
    vals, _, _ = conv(w, name)
    if vals.shape != shape:
        raise Invalid(f"{name} shape {vals.shape} != {shape}")
    if _bad_weights(vals, cd):  # the values as given: 1e-50 is 0 in float32
        raise Invalid(f"{name} outside the weight range of {cd}")
    vals = vals.astype(cd).astype(F64) if cd == F32 else vals
    if finite and not np.isfinite(vals).all():
        raise Invalid(f"{name} not finite (in the compute dtype)")
    return vals


def _arrays_in(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for a in obj if isinstance(a, np.ndarray)]
    return []


def m_out(out, shape, rd, own, others, either):
    """`out` must be a writeable C-ordered ndarray of `shape` and `rd` overlapping
    no input but `own` (the array whose gradient it holds), which it may be."""
    if not isinstance(out, np.ndarray):
        raise Invalid("out is not an ndarray")
    if out.shape != shape or out.dtype != rd or out.dtype.byteorder not in "=|":
        raise Invalid(f"out {out.shape} {out.dtype} != {shape} {rd}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise Invalid("out not C-contiguous or read-only")
    if out is own or out.size == 0:
        return
    for o in [own, *others]:
        for a in _arrays_in(o):
            if a.size and np.shares_memory(a, out):
                if a is own and _same_memory(a, out):
                    either.flag = True  # another view of exactly `own`: in place
                    continue
                raise Invalid("out overlaps an input")


def _same_memory(a, b):
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.flags.c_contiguous
    )


def _cast_rows(a, dt):
    with np.errstate(all="ignore"):
        return np.asarray(a, dtype=F64).astype(dt).astype(F64)


def _overflow(cd, *arrays, inputs=()):
    """Whether an intermediate may overflow the compute dtype (in another order
    than the twin's): a finite value of `arrays` (twin results and error scales)
    beyond 1/64 of its range, or such a product of the largest finite magnitudes
    of the factors `inputs` (weights, probabilities...)."""
    big = float(np.finfo(cd).max) / 64
    for a in arrays:
        a = np.abs(np.asarray(a, dtype=F64))
        if np.any(a[np.isfinite(a)] > big):
            return True
    product = 1.0
    for a in inputs:
        if a is not None:
            a = np.abs(np.asarray(a, dtype=F64))
            a = a[np.isfinite(a)]
            product *= max(1.0, float(a.max())) if a.size else 1.0
    return product > big


def model(case):
    """Expected for a valid call; raises Invalid for one that must be refused."""
    fam = case.family
    either = _Either()
    with np.errstate(all="ignore"):
        exp = _model(case, fam, either)
    exp.may_reject = exp.may_reject or either.flag
    exp.loose_values |= _subnormal_targets(case, exp.res_dtype)
    return exp


def _subnormal_targets(case, res_dtype):
    """Probability targets below the compute dtype's normal range (float32 8.4e-45)
    carry a few bits each: where the kernel and the twin round their products with
    the logits in a different order the results differ by far more than the value
    tolerance (0.4 % with logits of 4e37 in a CI run). Targets are data, used as
    given (documented): the kernels promise no relative accuracy for such entries
    (docs/RELIABILITY.md), so any finite value is accepted where the twin's is
    finite; a NaN or inf where the twin has a number is still a finding. (Weights
    and scalar parameters have no such corner: the contract refuses them outside
    their ranges.)"""
    if case.family not in ("sce", "ppl") or len(case.args) < 2:
        return False
    try:
        t = np.asarray(case.args[1])
        if t.dtype.kind != "f":
            return False
        a = np.abs(t.astype(F64))
    except (TypeError, ValueError, OverflowError):
        return False
    tiny = float(np.finfo(F32 if res_dtype in (F32, F16) else F64).tiny)
    a = a[np.isfinite(a) & (a > 0)]
    return bool(a.size and float(a.min()) < tiny)


def _model(case, fam, either):
    if fam in ("sce", "ppl"):
        exp = model_sce(case, either)
    elif fam == "focal":
        exp = model_focal(case, either)
    elif fam == "kl":
        exp = model_kl(case, either)
    elif fam == "triplet":
        exp = model_triplet(case, either)
    else:
        exp = model_elementwise(case, either)
    return exp


def _sce_inputs(case, either, ppl=False):
    kw = case.kwargs
    red = "mean" if ppl else m_reduction(kw)
    x, cd, rd = conv(case.args[0], "logits")
    if x.ndim == 0 or x.shape[-1] == 0:
        raise Invalid("logits need a non-empty last axis")
    shape, lead, c = x.shape, x.shape[:-1], x.shape[-1]
    ignore = m_int(kw.get("ignore_index", -100), "ignore_index", either)
    t0 = case.args[1]
    try:
        t = np.asarray(t0)
    except Exception:
        raise Invalid("target does not convert") from None
    if t.dtype.kind in "iu":
        if t.shape != lead:
            raise Invalid("target shape")
        vals = [int(v) for v in t.reshape(-1).tolist()]
        if any(v != ignore and not 0 <= v < c for v in vals):
            raise Invalid("target out of range")
        target = np.array(vals, dtype=np.int64).reshape(lead)
    elif t.dtype.kind == "f":
        if t.shape != shape:
            raise Invalid("probability target shape")
        target = _cast_rows(t, cd)
    else:
        raise Invalid(f"target dtype {t.dtype}")
    m_threads(kw)
    return red, x, cd, rd, shape, lead, c, ignore, target


def _sce_out(case, x_shape, rd, either, others):
    if case.grad and "out" in case.kwargs:
        m_out(case.kwargs["out"], x_shape, rd, case.args[0], others, either)


def model_sce(case, either):
    kw, ppl = case.kwargs, case.family == "ppl"
    red, x, cd, rd, shape, lead, c, ignore, target = _sce_inputs(case, either, ppl)
    w = m_weight(kw.get("class_weight"), "class_weight", (c,), cd)
    sw = m_weight(kw.get("sample_weight"), "sample_weight", lead, cd)
    eps = m_real(
        kw.get("label_smoothing", 0.0), "label_smoothing", 0, 1, either=either, cd=cd
    )
    z = m_real(kw.get("z_loss", 0.0), "z_loss", 0, either=either, cd=cd, weight_like=1)
    _sce_out(
        case,
        shape,
        rd,
        either,
        [case.args[1], kw.get("class_weight"), kw.get("sample_weight")],
    )
    opts = dict(
        class_weight=w,
        ignore_index=ignore,
        label_smoothing=eps,
        z_loss=z,
        sample_weight=sw,
        reduction=red,
    )
    r = ref_sce.reference(x, target, **opts)
    exp = _expected(r, rd, cd, red, case.grad)
    ins = (target if target.dtype.kind == "f" else None, w, sw)
    if target.dtype.kind == "f":  # p_c (lse - x_c), |lse - x_c| <= 2 max|x| + log C
        ins += (x, np.float64(2.0))
    ins += (x, x, np.float64(z), np.float64(2.0)) if z else ()  # z lse^2, 2 z lse
    exp.overflow = _overflow(cd, r.loss_scale, *exp.grad_scales, inputs=ins)
    exp.nan_free = _bad_rows(x, target, ignore)
    # the twin's lse**2 underflows to 0 below 1.5e-154, the kernel's z lse lse not
    n_rows = x.size // c
    exp.loss_slack = (
        z * 2.3e-308 * (n_rows if sw is None else float(np.sum(np.abs(sw))))
    )
    if target.dtype.kind == "f" and not np.isfinite(target).all():
        exp.nan_free = True  # inf probabilities: inf - inf in any order
    if target.dtype.kind == "f" and case.grad and exp.grad_scales:
        # The kernel's exp returns 0 below the dtype's normal range (documented in
        # fl_math_impl.h): a softmax entry under `tiny` is lost, times the row's
        # coefficient sum_c w_c p'_c, which unnormalised probabilities (used as
        # given) can make huge (1e37 in float32). Allowed as absolute slack.
        with np.errstate(all="ignore"):
            rows_p = np.abs(target.reshape(-1, c))
            wc = np.ones(c) if w is None else np.abs(w.astype(F64))
            coef = rows_p @ wc + (eps * float(np.sum(wc)) if eps else 0.0)
            if sw is not None:
                coef = coef * np.abs(sw.reshape(-1))
            if red == "mean":
                d = float(np.sum(np.ones(n_rows) if sw is None else sw))
                coef = coef / abs(d) if d != 0 else coef * 0.0
            slack = 4 * float(np.finfo(cd).tiny) * coef / RTOL[cd]
            g0 = np.abs(np.asarray(exp.grad_scales[0], dtype=F64))
            slack = np.where(np.isfinite(slack), slack, 0.0)
            exp.grad_scales = (g0 + slack.reshape(g0.shape[:-1] + (1,)),)
    if red == "mean":
        exp.ill_mean = _ill(_sce_denominator_terms(target, w, sw, ignore, c), cd)
    if ppl:
        with np.errstate(over="ignore"):
            exp.loss = float(np.exp(r.loss))
            exp.loss_scale = exp.loss * r.loss_scale
    return exp


def _bad_rows(x, target, ignore):
    """Whether a row that counts holds NaN or +inf or is all -inf: documented to
    give NaN for that row, where the twin may give a number (zero weights)."""
    rows = x.reshape(-1, x.shape[-1])
    bad = np.isnan(rows).any(1) | np.isposinf(rows).any(1) | np.isneginf(rows).all(1)
    if target.dtype.kind in "iu":
        bad &= target.reshape(-1) != ignore
    return bool(bad.any())


def _sce_denominator_terms(target, w, sw, ignore, c):
    if target.dtype.kind == "f":
        n = target.size // c if c else 0
        return np.ones(n) if sw is None else sw.reshape(-1)
    y = target.reshape(-1)
    keep = y != ignore
    s = np.ones(y.size) if sw is None else sw.reshape(-1)
    wy = np.ones(y.size) if w is None else w[np.where(keep, y, 0)]
    return (s * wy)[keep]


def _ill(terms, cd=F64):
    """The "mean" normaliser is a sum with cancellation, or so small that its
    terms are subnormal in the compute dtype: its rounding is not in the twins'
    error scale."""
    terms = np.asarray(terms, dtype=F64)
    with np.errstate(all="ignore"):
        total, size = abs(float(np.sum(terms))), float(np.sum(np.abs(terms)))
    tiny = float(np.finfo(cd).tiny) * 2**30
    return total == 0 and size > 0 or size > 1e6 * total or total < tiny


def _expected(r, rd, cd, red, want_grad, grads=None, scales=None):
    return Expected(
        loss=r.loss,
        loss_scale=r.loss_scale,
        grads=(grads if grads is not None else (r.grad,)) if want_grad else (),
        grad_scales=(scales if scales is not None else (r.grad_scale,))
        if want_grad
        else (),
        res_dtype=rd,
        cmp_dtype=cd if red != "none" else rd,
        reduction=red,
    )


def model_focal(case, either):
    kw = case.kwargs
    t = case.args[1]
    try:
        tk = np.asarray(t).dtype.kind
    except Exception:
        tk = "?"
    if tk not in "iu":
        raise Invalid("focal target must be integers")
    red, x, cd, rd, shape, lead, c, ignore, target = _sce_inputs(case, either)
    g = m_real(kw.get("gamma", 2.0), "gamma", 0, either=either, cd=cd)
    alpha = m_weight(kw.get("class_weight"), "class_weight", (c,), cd)
    sw = m_weight(kw.get("sample_weight"), "sample_weight", lead, cd)
    _sce_out(
        case, shape, rd, either, [t, kw.get("class_weight"), kw.get("sample_weight")]
    )
    r = ref_row.softmax_focal_loss_ref(
        x,
        target,
        gamma=g,
        class_weight=alpha,
        ignore_index=ignore,
        sample_weight=sw,
        reduction=red,
    )
    exp = _expected(r, rd, cd, red, case.grad)
    if g == 0 and alpha is None:
        # documented: then the call runs the softmax cross-entropy kernel, whose
        # loss is (m - x_y) + log(sum), accurate to its absolute error scale, not
        # the focal twin's log1p (a confident row's loss of 5e-41 comes out 0)
        ce = ref_sce.reference(
            x, target, ignore_index=ignore, sample_weight=sw, reduction=red
        )
        with np.errstate(all="ignore"):
            exp.loss_scale = np.maximum(np.abs(r.loss_scale), np.abs(ce.loss_scale))
    # as for softmax cross-entropy: rows documented NaN, which the twin's "mean"
    # over D == 0 zeroes
    exp.nan_free = _bad_rows(x, target, ignore)
    ins = (alpha, sw)
    exp.overflow = _overflow(cd, r.loss_scale, *exp.grad_scales, inputs=ins)
    if red == "mean":
        keep = target.reshape(-1) != ignore
        s = np.ones(keep.size) if sw is None else sw.reshape(-1)
        exp.ill_mean = _ill(s[keep], cd)
    return exp


def model_kl(case, either):
    kw = case.kwargs
    red = m_reduction(kw)
    x, cd, rd = conv(case.args[0], "student_logits")
    if x.ndim == 0 or x.shape[-1] == 0:
        raise Invalid("student needs a non-empty last axis")
    probs = m_flag(kw.get("teacher_probs", False), "teacher_probs")
    t, _, _ = conv(case.args[1], "teacher_logits")
    if t.shape != x.shape:
        raise Invalid("teacher shape")
    t = _cast_rows(t, cd)
    if probs and t.size and not (np.all(t >= 0) and np.all(np.isfinite(t))):
        raise Invalid("teacher probabilities must be finite and >= 0")
    temp = m_real(
        kw.get("temperature", 1.0), "temperature", 0, lo_open=True, cd=cd, weight_like=1
    )
    sw = m_weight(kw.get("sample_weight"), "sample_weight", x.shape[:-1], cd)
    m_threads(kw)
    _sce_out(case, x.shape, rd, either, [case.args[1], kw.get("sample_weight")])
    # the kernel takes 1 / T rounded to the compute dtype
    inv = float(np.asarray(1.0 / temp, dtype=cd))
    r = ref_row.kl_div_with_logits_ref(
        x,
        t,
        temperature=1.0 / inv,
        teacher_probs=probs,
        sample_weight=sw,
        reduction=red,
    )
    exp = _expected(r, rd, cd, red, case.grad)
    ins = (sw, temp * temp, (np.abs(x) + np.abs(t)) / temp)
    # NaN or +inf logits, or an all -inf teacher row, make their rows NaN; the
    # twin's "mean" over D == 0 zeroes them where the kernel's 0 * NaN does not
    rows_t = t.reshape(-1, t.shape[-1])
    all_masked = not probs and bool(np.isneginf(rows_t).all(axis=1).any())
    exp.nan_free = bool(
        ~np.isfinite(x).all() | np.isnan(t).any() | np.isposinf(t).any() | all_masked
    )
    exp.overflow = _overflow(cd, r.loss_scale, *exp.grad_scales, inputs=ins)
    if red == "mean":
        exp.ill_mean = _ill(np.ones(x.size // x.shape[-1]) if sw is None else sw, cd)
    return exp


def model_triplet(case, either):
    kw = case.kwargs
    red = m_reduction(kw)
    vals, rds = [], []
    for nm, a in zip(("anchor", "positive", "negative"), case.args):
        v, _, rd = conv(a, nm)
        if v.ndim == 0 or v.shape[-1] == 0:
            raise Invalid(f"{nm} needs a non-empty last axis")
        vals.append(v)
        rds.append(rd)
    shape = vals[0].shape
    if any(v.shape != shape for v in vals[1:]):
        raise Invalid("triplet shapes differ")
    rd = np.result_type(*rds)
    cd = F32 if rd == F16 else rd
    vals = [_cast_rows(v, cd) for v in vals]
    margin = m_real(kw.get("margin", 1.0), "margin", either=either, cd=cd)
    p = m_real(kw.get("p", 2), "p", 1, either=either, cd=cd)
    eps = m_real(kw.get("eps", 1e-6), "eps", either=either, cd=cd)
    swap = m_flag(kw.get("swap", False), "swap")
    sw = m_weight(kw.get("sample_weight"), "sample_weight", shape[:-1], cd)
    m_threads(kw)
    if case.grad and "out" in kw:
        out = kw["out"]
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise Invalid("out must be a 3-tuple")
        for j, o in enumerate(out):
            others = [a for k, a in enumerate(case.args) if k != j]
            m_out(
                o, shape, rd, case.args[j], [*others, kw.get("sample_weight")], either
            )
            for k in range(j):
                oa, ob = _arrays_in(o), _arrays_in(out[k])
                if oa and ob and oa[0].size and np.shares_memory(oa[0], ob[0]):
                    raise Invalid("out arrays overlap")
    r = ref_row.triplet_margin_loss_ref(
        *vals, margin=margin, p=p, eps=eps, swap=swap, sample_weight=sw, reduction=red
    )
    exp = _expected(r, rd, cd, red, case.grad, grads=r.grad, scales=r.grad_scale)
    ins = (sw, (np.abs(vals[0]) + np.abs(vals[1]) + np.abs(vals[2])) * shape[-1])
    exp.overflow = _overflow(cd, r.loss_scale, *exp.grad_scales, inputs=ins)
    if red == "mean":
        exp.ill_mean = _ill(
            np.ones(vals[0].size // shape[-1]) if sw is None else sw, cd
        )
    # a hinge within rounding of its kink (or a swap within rounding of a tie)
    # may go either way: such draws are checked for types and shapes only
    opts = dict(margin=margin, p=p, eps=eps, swap=swap)
    h = ref_row.triplet_hinge_ref(*vals, **opts)
    rows = ref_row.triplet_margin_loss_ref(*vals, **opts, reduction="none")
    no_swap = dict(opts, swap=False)
    d_an = ref_row.triplet_hinge_ref(vals[0], vals[0], vals[2], **no_swap) - margin
    d_pn = ref_row.triplet_hinge_ref(vals[1], vals[1], vals[2], **no_swap) - margin
    near = 1e-7 * np.abs(rows.loss_scale).reshape(-1)
    if np.any(np.abs(h) <= near) or (swap and np.any(np.abs(d_an - d_pn) <= near)):
        exp.skip_values = True
    if np.any(np.isnan(h)) or not all(np.isfinite(v).all() for v in vals):
        # the twin's hinge drops a NaN (np.where(h >= 0, h, 0)) where torch's
        # clamp_min and fastloss keep it, and its norm gradient at an infinite
        # entry is inf / inf; the contract says nothing of either
        exp.skip_values = True
    return exp


def _huber_params(kw, either, cd):
    delta = m_real(kw.get("delta", 1.0), "delta", 0, lo_open=True, either=either, cd=cd)
    return {"delta": delta}


def _smooth_l1_params(kw, either, cd):
    return {"beta": m_real(kw.get("beta", 1.0), "beta", 0, either=either, cd=cd)}


_EW_PARAMS = {"huber": _huber_params, "smooth_l1": _smooth_l1_params}


def model_elementwise(case, either):
    fam, kw = case.family, case.kwargs
    red = m_reduction(kw)
    x, cd, rd = conv(case.args[0], "input")
    shape = x.shape
    y, _, _ = conv(case.args[1], "target")
    if y.shape != shape:
        raise Invalid("target shape")
    y = _cast_rows(y, cd)
    w = kw.get("weight")
    if w is not None:
        wv, _, _ = conv(w, "weight")
        try:
            np.broadcast_to(wv, shape)
        except ValueError:
            raise Invalid("weight does not broadcast") from None
        w = _cast_rows(wv, cd)  # every entry given is checked, used or not
        if not np.isfinite(w).all() or _bad_weights(wv, cd):
            raise Invalid("weight not finite or outside the weight range")
        w = np.broadcast_to(w, shape)
    sw0, sw = kw.get("sample_weight"), None
    if sw0 is not None:
        swv, _, _ = conv(sw0, "sample_weight")
        k = swv.ndim
        if k == 0 or k > len(shape) or swv.shape != shape[:k]:
            raise Invalid("sample_weight shape")
        sw = _cast_rows(swv, cd)
        if not np.isfinite(sw).all() or _bad_weights(swv, cd):
            raise Invalid("sample_weight not finite or outside the weight range")
    pw = None
    if fam == "bce_logits" and kw.get("pos_weight") is not None:
        pv, _, _ = conv(kw["pos_weight"], "pos_weight")
        if not np.isfinite(pv).all() or _bad_weights(pv, cd):  # as given
            raise Invalid("pos_weight not finite or outside the weight range")
        c = shape[-1] if shape else 1
        if pv.ndim == 0 or pv.shape == (1,):
            pv = np.full(c, pv.reshape(()))
        if pv.shape != (c,):
            raise Invalid("pos_weight shape")
        pw = _cast_rows(pv, cd)
        if not np.isfinite(pw).all():
            raise Invalid("pos_weight not finite in the compute dtype")
        pw = pw.reshape(()) if not shape else pw  # the twin broadcasts it
    params = {}
    if fam in _EW_PARAMS:
        params = _EW_PARAMS[fam](kw, either, cd)
    if fam in ("bce_logits", "bce"):
        params["label_smoothing"] = m_real(
            kw.get("label_smoothing", 0.0),
            "label_smoothing",
            0,
            1,
            either=either,
            cd=cd,
        )
    if fam == "bce":
        params["epsilon"] = m_real(
            kw.get("epsilon", 1e-7), "epsilon", 0, 0.5, True, True, either=either, cd=cd
        )
    if fam == "sfocal":
        a = kw.get("alpha", 0.25)
        params["alpha"] = (
            None if a is None else m_real(a, "alpha", None, 1, either=either, cd=cd)
        )
        params["gamma"] = m_real(kw.get("gamma", 2.0), "gamma", 0, either=either, cd=cd)
    m_threads(kw)
    others = [case.args[1], kw.get("weight"), sw0, kw.get("pos_weight")]
    _sce_out(case, shape, rd, either, others)
    if fam in ref_reg.ELEMENT:
        r = ref_reg.reference(
            fam, x, y, weight=w, sample_weight=sw, reduction=red, **params
        )
    else:
        twin = {
            "bce_logits": ref_bin.binary_cross_entropy_with_logits,
            "bce": ref_bin.binary_cross_entropy,
            "sfocal": ref_bin.sigmoid_focal_loss,
        }[fam]
        if pw is not None:
            params["pos_weight"] = pw
        r = twin(x, y, weight=w, sample_weight=sw, reduction=red, dtype=cd, **params)
    exp = _expected(r, rd, cd, red, case.grad)
    ins = (np.abs(x) + np.abs(y), np.abs(x) + np.abs(y), w, sw, pw)
    exp.overflow = _overflow(cd, r.loss_scale, *exp.grad_scales, inputs=ins)
    if fam in ref_reg.ELEMENT:
        # a residual whose square (mse, huber's quadratic part) falls below the
        # compute dtype's normal range: the kernel's float32 square flushes or loses
        # precision there before a weight of 1e20 scales it back up; the twin's
        # float64 square does not (float32 residual 1.1e-24 and weight 5.8e18)
        with np.errstate(all="ignore"):
            r = np.abs(np.asarray(x, dtype=F64) - np.asarray(y, dtype=F64))
        r = r[np.isfinite(r) & (r > 0)]
        tiny = float(np.finfo(cd).tiny) * 2.0**24
        exp.skip_values |= bool(r.size and float(r.min()) < float(np.sqrt(tiny)))
    if red == "mean" and sw is not None:
        exp.ill_mean = _ill(sw, cd)
    if not np.isfinite(y).all() or (w is not None and not np.isfinite(w).all()):
        # an infinite target: inf - inf in any order; a non-finite weight is not
        # checked ("a NaN weight gives a NaN loss"), inf * 0 is NaN in any order
        exp.nan_free = True
    if fam == "bce_logits":
        # targets outside [0, 1] (1e30) multiply a sigmoid that the kernel's exp
        # returns as 0 below the dtype's normal range (documented): finite values
        # are accepted, a NaN or inf where the twin has a number is not
        exp.loose_values |= bool(np.any(~((y >= 0) & (y <= 1))))
    if fam == "sfocal":
        # targets outside [0, 1]: "the result may be NaN (as torchvision's)"
        exp.skip_values |= bool(np.any(~((y >= 0) & (y <= 1))))
        # gamma beyond ~1e3: (1 - p_t)^gamma and gamma * (1 - p_t)^(gamma - 1) are
        # 0 * inf in the twin's float64 order (NaN) and 0 in the kernel's
        exp.skip_values |= params["gamma"] > 1e3
    return exp


# ---------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------

RTOL = {F64: 1e-9, F32: 2e-5, F16: 4e-3}
FLOOR = {F64: 1e-290, F32: 1e-30, F16: 1e-7}


def close(got, want, scale, dt, res_dt, what, exp, slack=0.0):
    """got ~ want (rounded to `res_dt`) within RTOL[dt] * scale + FLOOR[dt]."""
    got = np.asarray(got, dtype=F64)
    want = _cast_rows(want, res_dt)
    if got.shape != want.shape:
        raise Finding(f"{what}: shape {got.shape}, want {want.shape}")
    with np.errstate(all="ignore"):
        scale = np.broadcast_to(np.abs(np.asarray(scale, dtype=F64)), want.shape)
        # the twins' scale is NaN/inf where an input is: fall back to the value
        scale = np.where(np.isfinite(scale), scale, 64 * np.abs(want))
        tol = RTOL[dt] * scale + FLOOR[dt] * (1 + np.abs(want)) + slack
        err = np.abs(got - want)
        top = float(np.finfo(res_dt).max)
        ok = (err <= tol) | (got == want)
        ok |= np.isnan(got) & np.isnan(want)
        # rounding at the edge of the result dtype's range
        ok |= (
            (np.abs(want) + tol >= top)
            & (np.sign(got) == np.sign(want))
            & (np.abs(got) >= top * 0.99)
        )
        if exp.overflow:  # an intermediate overflowed, in the kernel or the twin
            ok |= ~np.isfinite(got) | ~np.isfinite(want)
        if exp.nan_free:
            ok |= np.isnan(got) | np.isnan(want) | ~np.isfinite(want)
        if exp.loose_values:
            ok |= np.isfinite(got) & np.isfinite(want)
    if not np.all(ok):
        bad = np.flatnonzero(~ok.reshape(-1))
        i = bad[0]
        raise Finding(
            f"{what}: {bad.size} of {ok.size} entries off; first at flat {i}: got "
            f"{got.reshape(-1)[i]!r}, want {want.reshape(-1)[i]!r} (tol "
            f"{tol.reshape(-1)[i]:.3g})"
        )


def _snapshot(case):
    """(array, copy) of every ndarray argument, outs included."""
    arrays = []
    for a in [*case.args, *case.kwargs.values()]:
        for arr in _arrays_in(a):
            if not any(arr is b for b, _ in arrays):
                arrays.append((arr, arr.copy()))
    return arrays


def _unchanged(snap, skip=()):
    for i, (a, copy) in enumerate(snap):
        if any(a is s for s in skip):
            continue
        if any(np.may_share_memory(a, s) for s in skip):
            continue
        if a.tobytes() != copy.tobytes():
            raise Finding(f"argument array #{i} {a.dtype}{a.shape} was modified")


# NumPy's warnings when a value does not fit the compute or result dtype and becomes
# +-inf (a float64 target of 1e300 for float32 logits, a float16 loss of 7e4), or a
# signalling NaN is converted: the documented conversion, and worth telling the
# user; every other warning is a finding.
ACCEPTED_WARNINGS = (
    "overflow encountered in cast",
    "invalid value encountered in cast",
)

# Findings reported but not fixed here (outside the files this harness's author
# owns); the fuzz target counts them as "known" instead of stopping on them.
KNOWN_ISSUES: dict[str, str] = {}


def known_issue(case, exc):
    return None


def call(case):
    """Run the call: ('ok', result, warnings) or ('error', exception, warnings)."""
    fn = getattr(fastloss, case.name)
    before = fastloss.get_simd()
    if case.simd != "auto" and case.simd in fastloss.config()["simd_available"]:
        fastloss.set_simd(case.simd)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fn(*case.args, **case.kwargs)
            except (ValueError, TypeError) as exc:
                return "error", exc, caught
            except Exception as exc:
                if known_issue(case, exc):
                    return "known", exc, caught
                raise Finding(
                    f"unexpected {type(exc).__name__}: {exc}\n{describe(case)}"
                ) from exc
        return "ok", result, caught
    finally:
        fastloss.set_simd(before if case.simd != "auto" else None)


def check(case):
    """Raises Finding when the call breaks the contract."""
    try:
        exp = model(case)
        invalid = None
    except Invalid as exc:
        exp, invalid = None, str(exc)
    snap = _snapshot(case)
    status, result, caught = call(case)
    if status == "known":
        return "known"
    caught = [w for w in caught if str(w.message) not in ACCEPTED_WARNINGS]
    if caught:
        w = caught[0]
        raise Finding(
            f"{w.category.__name__} from a fastloss call: {w.message}\n{describe(case)}"
        )
    if status == "error":
        try:
            _unchanged(snap)
        except Finding as f:
            raise Finding(
                f"{f} by a call that raised {result!r}\n{describe(case)}"
            ) from None
        if exp is not None and not exp.may_reject:
            raise Finding(
                f"valid call refused: {type(result).__name__}: {result}\n"
                f"{describe(case)}"
            )
        return "error"
    if exp is None:
        raise Finding(f"invalid call accepted ({invalid})\n{describe(case)}")
    try:
        _check_result(case, exp, result)
        out = case.kwargs.get("out")
        _unchanged(snap, skip=_arrays_in(out))
    except Finding as f:
        raise Finding(f"{f}\n{describe(case)}") from None
    return "ok"


def _check_result(case, exp, result):
    if case.grad:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise Finding(f"result is {type(result).__name__}, want (loss, grad)")
        loss, grad = result
        grads = grad if case.family == "triplet" else (grad,)
        if case.family == "triplet" and not (
            isinstance(grad, tuple) and len(grad) == 3
        ):
            raise Finding("triplet gradients are not a 3-tuple")
    else:
        loss, grads = result, ()
    if exp.reduction == "none":
        if not isinstance(loss, np.ndarray) or loss.dtype != exp.res_dtype:
            raise Finding(f"'none' loss is {type(loss).__name__} {_dt(loss)}")
    elif type(loss) is not float:
        raise Finding(f"loss is {type(loss).__name__}, want a Python float")
    res_dt = exp.res_dtype if exp.reduction == "none" else F64
    loss_dt = exp.cmp_dtype
    ill = exp.ill_mean and exp.reduction == "mean"
    if exp.skip_values:
        ill, exp.nan_free = True, True
    if ill:
        # the normaliser's own rounding is unbounded here: only NaN must agree
        _same_nan(loss, exp.loss, "loss", exp)
    else:
        close(
            loss, exp.loss, exp.loss_scale, loss_dt, res_dt, "loss", exp, exp.loss_slack
        )
    out = case.kwargs.get("out")
    outs = out if case.family == "triplet" else (out,)
    for j, (g, want, scale) in enumerate(zip(grads, exp.grads, exp.grad_scales)):
        if not isinstance(g, np.ndarray) or g.dtype != exp.res_dtype:
            raise Finding(f"grad[{j}] is {type(g).__name__} {_dt(g)}")
        if out is not None and g is not outs[j]:
            raise Finding(f"grad[{j}] is not the out= array")
        if ill:
            _same_nan(g, want, f"grad[{j}]", exp)
        else:
            close(g, want, scale, exp.res_dtype, exp.res_dtype, f"grad[{j}]", exp)


def _same_nan(got, want, what, exp):
    if exp.nan_free or exp.overflow:
        return
    g, w = np.isnan(np.asarray(got, F64)), np.isnan(np.asarray(want, F64))
    if not np.array_equal(g, w):
        raise Finding(f"{what}: NaN pattern differs (ill-conditioned mean)")


def _dt(a):
    return getattr(a, "dtype", None)


def describe(case):
    """A readable account of the call, for reports and reproducers."""
    lines = [f"fastloss.{case.name}  (simd={case.simd}; {', '.join(case.notes)})"]

    def show(v):
        if isinstance(v, np.ndarray):
            flags = "C" if v.flags.c_contiguous else "strided"
            flags += "" if v.flags.writeable else ",readonly"
            flags += "" if v.flags.aligned else ",unaligned"
            with np.printoptions(threshold=24, edgeitems=3, precision=6):
                body = np.array2string(v.reshape(-1) if v.ndim > 1 else v)
            return f"ndarray {v.dtype} {v.shape} [{flags}] {body}"
        if isinstance(v, (list, tuple)):
            text = repr(v)
            kind = type(v).__name__
            return (
                text if len(text) < 200 else f"{kind} of len {len(v)}: {text[:200]}..."
            )
        return repr(v)

    for i, a in enumerate(case.args):
        lines.append(f"  arg{i} = {show(a)}")
    for k, v in case.kwargs.items():
        if isinstance(v, tuple) and k == "out":
            for j, o in enumerate(v):
                lines.append(f"  out[{j}] = {show(o)}")
        else:
            lines.append(f"  {k} = {show(v)}")
    return "\n".join(lines)


def run(data):
    """decode + check: the fuzz target's body."""
    return check(decode(data))
