"""Gradient-boosting objectives: the gradient and the hessian of a loss with respect
to the raw scores, fused in one C pass, and adapters for XGBoost and LightGBM.

Every objective ``name`` has ``name_grad_hess(raw, target, *, ..., sample_weight=None,
out=None, n_threads=None) -> (grad, hess)``, what a boosting library asks a custom
objective for each round, and ``name(raw, target, *, ..., sample_weight=None,
n_threads=None) -> float``, the (weighted) mean loss, for evaluation. ``raw`` holds
the raw scores (margins: a logit, a log-rate, ...), of shape (n_samples,), or
(n_samples, n_classes) for the softmax objective. Computed in float32 for float32
scores and in float64 otherwise (float16 in float32; integers in float64), with
every stable form written in src_c/fl_objectives_impl.h; bit-identical for any
thread count.

The hessian conventions of the libraries are documented per objective and selected
by options, and `xgboost`, `lightgbm` (the adapters) pick each library's own by
default, so that training with the fastloss callable reproduces the built-in
objective: see docs/objectives.md.

>>> import numpy as np
>>> from fastloss import objectives
>>> g, h = objectives.logistic_grad_hess(np.array([0.0, 2.0]), np.array([1.0, 0.0]))
>>> np.round(g, 4).tolist(), np.round(h, 4).tolist()
([-0.5, 0.8808], [0.25, 0.105])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._validation import float_input, real_scalar, weight_array

_KINDS = _kernels.OBJ_KINDS
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

# name -> (kernel kind, target rule). Target rules: "prob" in [0, 1], "real" any
# finite, "gt-1" > -1, "nonneg" >= 0, "pos" > 0, "class" an index in [0, k).
_SPECS: dict[str, tuple[str, str]] = {
    "logistic": ("LOGISTIC", "prob"),
    "sigmoid_focal": ("FOCAL", "prob"),
    "softmax": ("SOFTMAX", "class"),
    "squared_error": ("SQUARED", "real"),
    "pseudo_huber": ("PSEUDO_HUBER", "real"),
    "huber": ("HUBER", "real"),
    "log_cosh": ("LOG_COSH", "real"),
    "squared_log_error": ("SQUARED_LOG", "gt-1"),
    "poisson": ("POISSON", "nonneg"),
    "gamma": ("GAMMA", "pos"),
    "tweedie": ("TWEEDIE", "nonneg"),
    "quantile": ("QUANTILE", "real"),
    "absolute_error": ("ABSOLUTE", "real"),
}
NAMES = tuple(_SPECS)
_RULE_TEXT = {
    "prob": "in [0, 1]",
    "real": "finite",
    "gt-1": "finite and > -1",
    "nonneg": "finite and >= 0",
    "pos": "finite and > 0",
}
_SOFTMAX_HESSIAN = ("exact", "xgboost", "lightgbm")


# ---- options: each objective's keyword options -> (p0, p1, hess_scale) ----------


def _opt_logistic(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    ls = real_scalar(o.pop("label_smoothing", 0.0), "label_smoothing", 0.0, 1.0)
    pw = real_scalar(o.pop("pos_weight", 1.0), "pos_weight", 0.0)
    return ls, pw, 1.0


def _opt_focal(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    alpha = o.pop("alpha", 0.25)
    a = -1.0 if alpha is None else real_scalar(alpha, "alpha", 0.0, 1.0)
    return a, real_scalar(o.pop("gamma", 2.0), "gamma", 0.0, 1e3), 1.0


def _opt_softmax(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    gamma = real_scalar(o.pop("gamma", 0.0), "gamma", 0.0, 1e3)
    hessian = o.pop("hessian", "exact")
    if not isinstance(hessian, str) or hessian not in _SOFTMAX_HESSIAN:
        raise ValueError(
            f"hessian must be one of {', '.join(map(repr, _SOFTMAX_HESSIAN))}, got "
            f"{hessian!r}"
        )
    scale = {"exact": 1.0, "xgboost": 2.0, "lightgbm": k / (k - 1.0)}[hessian]
    return gamma, 0.0, scale


def _opt_delta(default: float) -> Callable[..., tuple[float, float, float]]:
    def opt(o: dict[str, Any], k: int) -> tuple[float, float, float]:
        delta = real_scalar(o.pop("delta", default), "delta")
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta}")
        return delta, 0.0, 1.0

    return opt


def _opt_huber(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    delta = _opt_delta(1.0)(o, k)[0]
    exact = o.pop("exact_hessian", False)
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact_hessian must be a bool, got {exact!r}")
    return delta, float(bool(exact)), 1.0


def _opt_poisson(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    mds = real_scalar(o.pop("max_delta_step", 0.0), "max_delta_step", 0.0, 700.0)
    return mds, 0.0, 1.0


def _opt_tweedie(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    power = real_scalar(o.pop("power", 1.5), "power")
    if not 1.0 < power < 2.0:
        raise ValueError(f"power must be in (1, 2), got {power}")
    return power, 0.0, 1.0


def _opt_quantile(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    alpha = real_scalar(o.pop("alpha", 0.5), "alpha")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha, 0.0, 1.0


def _opt_none(o: dict[str, Any], k: int) -> tuple[float, float, float]:
    return 0.0, 0.0, 1.0


_OPTIONS: dict[str, Callable[[dict[str, Any], int], tuple[float, float, float]]] = {
    "logistic": _opt_logistic,
    "sigmoid_focal": _opt_focal,
    "softmax": _opt_softmax,
    "squared_error": _opt_none,
    "pseudo_huber": _opt_delta(1.0),
    "huber": _opt_huber,
    "log_cosh": _opt_none,
    "squared_log_error": _opt_none,
    "poisson": _opt_poisson,
    "gamma": _opt_none,
    "tweedie": _opt_tweedie,
    "quantile": _opt_quantile,
    "absolute_error": _opt_none,
}


# ---- the shared pipeline ---------------------------------------------------------


def _target(name: str, rule: str, target: Any, n: int, k: int, dtype: np.dtype[Any]):
    if rule == "class":
        t = np.asarray(target)
        if t.dtype.kind not in "iuf" or t.ndim != 1 or t.shape[0] != n:
            raise ValueError(
                f"target of {name} must be class indices of shape ({n},) (one per "
                f"row of raw), got {t.dtype} of shape {t.shape}"
            )
        if (
            t.dtype.kind == "f"
            and n
            and not np.all(np.isfinite(t) & (t == np.round(t)))
        ):
            raise ValueError(f"target of {name} must hold whole class indices")
        if n and (t.min() < 0 or t.max() >= k):
            raise ValueError(
                f"target of {name} must hold class indices in [0, {k}) (raw has {k} "
                f"columns), got values in [{t.min()}, {t.max()}]"
            )
        return np.ascontiguousarray(t, dtype=np.int64)
    t, _ = float_input(target, "target")
    if t.shape != (n,):
        raise ValueError(f"target must have shape ({n},) like raw, got {t.shape}")
    t = np.ascontiguousarray(t, dtype=dtype)
    if n:
        with np.errstate(invalid="ignore"):
            ok = {
                "prob": lambda v: (v >= 0) & (v <= 1),
                "real": np.isfinite,
                "gt-1": lambda v: np.isfinite(v) & (v > -1),
                "nonneg": lambda v: np.isfinite(v) & (v >= 0),
                "pos": lambda v: np.isfinite(v) & (v > 0),
            }[rule](t)
        if not ok.all():
            pos = int(np.argmin(ok))
            raise ValueError(
                f"target of {name} must be {_RULE_TEXT[rule]}: target[{pos}] = {t[pos]}"
            )
    return t


def _prepare(name: str, raw: Any, target: Any, options: dict[str, Any]):
    """(kind, raw, target, k, p0, p1, hess_scale, dtype) after every check but the
    weights'."""
    kind, rule = _SPECS[name]
    x, dtype = float_input(raw, "raw")
    if dtype != _F64:
        dtype = _F32
        x = np.ascontiguousarray(x, dtype=_F32)
    if rule == "class":
        if x.ndim != 2 or x.shape[1] < 2:
            raise ValueError(
                f"raw scores of {name} must have shape (n_samples, n_classes) with "
                f"n_classes >= 2, got {x.shape}"
            )
        n, k = x.shape
    else:
        if x.ndim != 1:
            raise ValueError(
                f"raw scores of {name} must have shape (n_samples,), got {x.shape}"
            )
        n, k = x.shape[0], 1
    opts = dict(options)
    p0, p1, scale = _OPTIONS[name](opts, k)
    if opts:
        raise TypeError(f"{name} got unexpected option(s): {', '.join(sorted(opts))}")
    t = _target(name, rule, target, n, k, dtype)
    return _KINDS[kind], x, t, n, k, p0, p1, scale, dtype


def _weights(
    name: str, sample_weight: Any, class_weight: Any, n: int, k: int, dtype: Any
):
    sw = weight_array(sample_weight, "sample_weight", (n,), dtype)
    if sw is not None and (sw < 0).any():
        raise ValueError("sample_weight must be >= 0")
    cw = None
    if class_weight is not None:
        if name != "softmax":
            raise TypeError(f"{name} got unexpected option(s): class_weight")
        cw = weight_array(class_weight, "class_weight", (k,), dtype)
        if (cw < 0).any():
            raise ValueError("class_weight must be >= 0")
    return sw, cw


def _check_outs(out: Any, shape: tuple[int, ...], dtype: Any, inputs: list[Any]):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(
            "out must be a pair (grad, hess) of preallocated arrays, got "
            f"{type(out).__name__}"
        )
    for label, o in zip(("out[0] (grad)", "out[1] (hess)"), out):
        if not isinstance(o, np.ndarray):
            raise TypeError(f"{label} must be a numpy.ndarray, got {type(o).__name__}")
        if o.shape != shape:
            raise ValueError(f"{label} must have shape {shape}, got {o.shape}")
        if o.dtype != dtype:
            raise ValueError(f"{label} must have dtype {dtype}, got {o.dtype}")
        if not o.flags.c_contiguous:
            raise ValueError(f"{label} must be C-contiguous")
        if not o.flags.writeable:
            raise ValueError(f"{label} is read-only")
        for arg, v in inputs:
            if isinstance(v, np.ndarray) and v.size and np.may_share_memory(o, v):
                raise ValueError(f"{label} overlaps {arg}; pass a separate buffer")
    if out[0].size and np.may_share_memory(out[0], out[1]):
        raise ValueError("out[0] (grad) and out[1] (hess) overlap")


def _flat(a: npt.NDArray[Any] | None) -> npt.NDArray[Any] | None:
    return None if a is None else a.reshape(-1)


def grad_hess(
    name: str,
    raw: Any,
    target: Any,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    min_hess: float | None = None,
    out: Any = None,
    n_threads: int | None = None,
    **options: Any,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The gradient and the hessian of objective `name` (one of `NAMES`) with
    respect to `raw`; ``name_grad_hess`` is this with `name` fixed (its docstring
    lists the options)."""
    if name not in _SPECS:
        raise ValueError(f"unknown objective {name!r}; one of {', '.join(NAMES)}")
    kind, x, t, n, k, p0, p1, scale, dtype = _prepare(name, raw, target, options)
    sw, cw = _weights(name, sample_weight, class_weight, n, k, dtype)
    hmin = -math.inf
    if min_hess is not None:
        hmin = real_scalar(min_hess, "min_hess", 0.0)
    nt = _resolve_n_threads(n_threads)
    if out is None:
        g, h = np.empty(x.shape, dtype), np.empty(x.shape, dtype)
    else:
        _check_outs(
            out,
            x.shape,
            dtype,
            [
                ("raw", raw),
                ("raw", x),
                ("target", target),
                ("sample_weight", sample_weight),
                ("class_weight", class_weight),
            ],
        )
        g, h = out
    _kernels.objective(
        kind,
        x.reshape(-1),
        t,
        sw,
        cw,
        g.reshape(-1),
        h.reshape(-1),
        k,
        p0,
        p1,
        scale,
        hmin,
        nt,
    )
    return g, h


def loss(
    name: str,
    raw: Any,
    target: Any,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    n_threads: int | None = None,
    **options: Any,
) -> float:
    """The weighted mean loss sum(w l) / sum(w) of objective `name` (NaN for no
    samples); ``name(...)`` is this with `name` fixed."""
    if name not in _SPECS:
        raise ValueError(f"unknown objective {name!r}; one of {', '.join(NAMES)}")
    # hessian options (hessian=, max_delta_step=, exact_hessian=) are checked and
    # then play no part: they do not change the loss
    kind, x, t, n, k, p0, p1, scale, dtype = _prepare(name, raw, target, options)
    sw, cw = _weights(name, sample_weight, class_weight, n, k, dtype)
    nt = _resolve_n_threads(n_threads)
    total = _kernels.objective(
        kind, x.reshape(-1), t, sw, cw, None, None, k, p0, p1, scale, 0.0, nt
    )
    if sw is None and cw is None:
        denom = float(n)
    elif cw is None:
        denom = float(np.sum(sw, dtype=np.float64))
    else:
        wi = cw.astype(np.float64)[t]
        denom = float(np.sum(wi if sw is None else wi * sw, dtype=np.float64))
    if n == 0:
        return math.nan
    if denom == 0:
        raise ValueError("the weights sum to 0: the mean loss is undefined")
    return total / denom


# ---- the public function pairs ---------------------------------------------------

_COMMON = """
    raw : array_like of shape {shape}
        Raw scores (margins), what the booster predicts before its link.
    target : array_like of shape (n_samples,)
        {target}
    sample_weight : array_like of shape (n_samples,), optional
        Non-negative weight per sample: multiplies its gradient, hessian and loss.
    min_hess : float, optional
        Each sample's hessian (before its weight) is raised to at least this value.
        XGBoost floors its logistic and softmax hessians at 1e-16 and its squared
        log error's at 1e-6; the adapters `xgboost` and `lightgbm` pass each
        library's floor.
    out : pair of ndarray, optional
        Preallocated ``(grad, hess)`` buffers: C-contiguous, writeable, of raw's
        shape and the compute dtype, sharing no memory with each other or an input.
    n_threads : int, optional
        Threads (default: `fastloss.get_num_threads`); the results do not depend on
        it.

    Returns
    -------
    grad, hess : ndarray of raw's shape
        First and second derivative of each sample's loss with respect to its raw
        score, times its weight."""

_LOSS_RETURNS = """
    Returns
    -------
    float
        The weighted mean of the per-sample losses, sum(w l) / sum(w)."""


def _make(name: str, formula: str, opts: str, target: str, example: str):
    shape = "(n_samples, n_classes)" if name == "softmax" else "(n_samples,)"
    extra = ", class_weight=None" if name == "softmax" else ""

    def gh(raw, target, *, sample_weight=None, min_hess=None, out=None,
           n_threads=None, **options):  # fmt: skip
        return grad_hess(
            name,
            raw,
            target,
            sample_weight=sample_weight,
            min_hess=min_hess,
            out=out,
            n_threads=n_threads,
            **options,
        )

    def lo(raw, target, *, sample_weight=None, n_threads=None, **options):
        return loss(
            name, raw, target, sample_weight=sample_weight, n_threads=n_threads,
            **options,
        )  # fmt: skip

    params = "\n    Parameters\n    ----------" + opts
    gh.__name__ = gh.__qualname__ = f"{name}_grad_hess"
    lo.__name__ = lo.__qualname__ = name
    gh.__doc__ = (
        f"Gradient and hessian of the {formula}\n{params}"
        + _COMMON.format(shape=shape, target=target)
        + f"\n\n    Examples\n    --------\n{example}\n"
    )
    lo.__doc__ = (
        f"Mean {formula} (the evaluation metric of `{name}_grad_hess`{extra}).\n"
        f"{params}\n    raw, target, sample_weight, n_threads\n        As for "
        f"`{name}_grad_hess`.\n{_LOSS_RETURNS}\n"
    )
    gh.__module__ = lo.__module__ = __name__
    return gh, lo


_DOCS = {
    "logistic": (
        "binary logistic loss (XGBoost's binary:logistic, LightGBM's binary).\n\n"
        "    loss = pw y' softplus(-x) + (1 - y') softplus(x), "
        "y' = y (1 - ls) + ls / 2;\n"
        "    grad = (1 - y') p - pw y' (1 - p), hess = (pw y' + 1 - y') p (1 - p),\n"
        "    p = sigmoid(x). Finite for x = +-inf.",
        """
    pos_weight : float, default 1.0
        Weight of the positive term (like torch's pos_weight; XGBoost's
        scale_pos_weight weighs samples of label 1, the same for hard labels).
    label_smoothing : float in [0, 1], default 0.0
        Keras's label smoothing.""",
        "Probabilities or labels in [0, 1].",
        "    >>> import numpy as np\n"
        "    >>> g, h = logistic_grad_hess(np.array([0.0]), np.array([1.0]))\n"
        "    >>> float(g[0]), float(h[0])\n    (-0.5, 0.25)",
    ),
    "sigmoid_focal": (
        "sigmoid focal loss (Lin et al. 2017; built into neither library).\n\n"
        "    loss = y a q^gamma softplus(-x) + (1 - y) (1 - a) p^gamma softplus(x),\n"
        "    p = sigmoid(x), q = 1 - p. The hessian is exact, computed in log space:\n"
        "    finite for every score (+-inf included); it is negative where a\n"
        "    confident prediction is wrong (focal loss is not convex): pass\n"
        "    min_hess (the adapters use 1e-16) for a Newton step that descends.",
        """
    alpha : float in [0, 1] or None, default 0.25
        Weight of the positive term (1 - alpha the negative's); None weighs both 1.
    gamma : float >= 0, default 2.0
        Focusing exponent; 0 gives the (alpha-weighted) logistic loss.""",
        "Labels in [0, 1].",
        "    >>> import numpy as np\n"
        "    >>> g, h = sigmoid_focal_grad_hess(np.array([0.0]), np.array([1.0]),\n"
        "    ...                                alpha=None, gamma=0.0)\n"
        "    >>> float(g[0]), float(h[0])\n    (-0.5, 0.25)",
    ),
    "softmax": (
        "softmax cross-entropy, or softmax focal loss for gamma > 0\n"
        "    (XGBoost's multi:softprob, LightGBM's multiclass).\n\n"
        "    loss = -w_c (1 - p_c)^gamma log p_c, p = softmax(x), c the class.\n"
        "    grad_j = w_c (p_j - [j = c]) for gamma = 0. The hessian is its diagonal,\n"
        "    as both libraries use: p_j (1 - p_j) for gamma = 0, times 2 in\n"
        "    XGBoost (hessian='xgboost') and times k / (k - 1) in LightGBM\n"
        "    (hessian='lightgbm', Friedman's rescaling of the redundant class).",
        """
    class_weight : array_like of shape (n_classes,), optional
        Weight w_c of each row's true class.
    gamma : float >= 0, default 0.0
        Focal exponent (0: cross-entropy).
    hessian : {'exact', 'xgboost', 'lightgbm'}, default 'exact'
        The diagonal hessian, or the library's multiple of it.""",
        "Class indices in [0, n_classes) (integers, or floats holding integers).",
        "    >>> import numpy as np\n"
        "    >>> g, h = softmax_grad_hess(np.zeros((1, 2)), np.array([1]))\n"
        "    >>> g.tolist(), h.tolist()\n    ([[0.5, -0.5]], [[0.25, 0.25]])",
    ),
    "squared_error": (
        "squared error (x - y)^2 / 2 (reg:squarederror, LightGBM's regression).\n\n"
        "    grad = x - y, hess = 1.",
        "",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> squared_error_grad_hess(np.array([3.0]), np.array([1.0]))[0].tolist()"
        "\n    [2.0]",
    ),
    "pseudo_huber": (
        "pseudo-Huber loss delta^2 (sqrt(1 + (r / delta)^2) - 1), r = x - y\n"
        "    (XGBoost's reg:pseudohubererror, huber_slope = delta).\n\n"
        "    grad = r / s, hess = 1 / s^3, s = sqrt(1 + (r / delta)^2), without\n"
        "    overflow for any finite r.",
        """
    delta : float > 0, default 1.0
        Where the loss turns from quadratic to linear.""",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> pseudo_huber_grad_hess(np.array([0.0]), np.array([0.0]))[1].tolist()"
        "\n    [1.0]",
    ),
    "huber": (
        "Huber loss (LightGBM's huber, alpha = delta).\n\n"
        "    loss = r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2);\n"
        "    grad = clip(r, -delta, delta); hess = 1 everywhere (LightGBM's\n"
        "    convention) or, with exact_hessian=True, 1 inside and 0 outside.",
        """
    delta : float > 0, default 1.0
        Where the loss turns from quadratic to linear.
    exact_hessian : bool, default False
        True: the true second derivative (0 for |r| > delta).""",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> huber_grad_hess(np.array([5.0]), np.array([0.0]))[0].tolist()\n"
        "    [1.0]",
    ),
    "log_cosh": (
        "log-cosh loss log(cosh(x - y)).\n\n"
        "    grad = tanh(r), hess = 1 - tanh(r)^2, no overflow for any r.",
        "",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> log_cosh_grad_hess(np.array([0.0]), np.array([0.0]))[1].tolist()\n"
        "    [1.0]",
    ),
    "squared_log_error": (
        "squared log error (log1p(x) - log1p(y))^2 / 2 on the prediction x\n"
        "    itself (XGBoost's reg:squaredlogerror).\n\n"
        "    grad = l / (1 + x), hess = (1 - l) / (1 + x)^2, l = log1p(x) - log1p(y);\n"
        "    x is clamped to >= -1 + 1e-6 as XGBoost does. The hessian is negative\n"
        "    for l > 1: XGBoost floors it at 1e-6 (min_hess).",
        "",
        "Targets > -1.",
        "    >>> import numpy as np\n"
        "    >>> squared_log_error_grad_hess(np.array([0.0]), np.array([0.0]))[1]"
        ".tolist()\n    [1.0]",
    ),
    "poisson": (
        "Poisson negative log-likelihood with log link, exp(x) - y x\n"
        "    (count:poisson, LightGBM's poisson; the constant log y! left out).\n\n"
        "    grad = exp(x) - y, hess = exp(x + max_delta_step).",
        """
    max_delta_step : float >= 0, default 0.0
        Inflates the hessian by exp(max_delta_step), damping the Newton step. Both
        XGBoost and LightGBM use 0.7 (their adapters here too); 0 is the true
        second derivative.""",
        "Counts >= 0.",
        "    >>> import numpy as np\n"
        "    >>> poisson_grad_hess(np.array([0.0]), np.array([3.0]))[0].tolist()\n"
        "    [-2.0]",
    ),
    "gamma": (
        "Gamma negative log-likelihood with log link, y exp(-x) + x\n"
        "    (reg:gamma, LightGBM's gamma; constants left out).\n\n"
        "    grad = 1 - y exp(-x), hess = y exp(-x).",
        "",
        "Targets > 0.",
        "    >>> import numpy as np\n"
        "    >>> gamma_grad_hess(np.array([0.0]), np.array([2.0]))[0].tolist()\n"
        "    [-1.0]",
    ),
    "tweedie": (
        "Tweedie negative log-likelihood with log link (reg:tweedie, LightGBM's\n"
        "    tweedie), rho = power:\n\n"
        "    loss = -y exp((1 - rho) x) / (1 - rho) + exp((2 - rho) x) / (2 - rho);\n"
        "    grad = -y exp((1 - rho) x) + exp((2 - rho) x),\n"
        "    hess = -y (1 - rho) exp((1 - rho) x) + (2 - rho) exp((2 - rho) x).",
        """
    power : float in (1, 2), default 1.5
        The variance power (XGBoost's tweedie_variance_power).""",
        "Targets >= 0.",
        "    >>> import numpy as np\n"
        "    >>> tweedie_grad_hess(np.array([0.0]), np.array([1.0]))[0].tolist()\n"
        "    [0.0]",
    ),
    "quantile": (
        "quantile (pinball) loss (reg:quantileerror, LightGBM's quantile).\n\n"
        "    loss = (1 - alpha) r for r = x - y > 0, else -alpha r;\n"
        "    grad = 1 - alpha for r > 0 and -alpha for r <= 0 (LightGBM takes\n"
        "    1 - alpha at the tie); hess = 1, the constant both libraries use\n"
        "    for this piecewise-linear loss. Both libraries also refit the leaf\n"
        "    values of their built-in quantile objectives to quantiles of the\n"
        "    residuals, which no custom objective can do: see docs/objectives.md.",
        """
    alpha : float in (0, 1), default 0.5
        The quantile.""",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> quantile_grad_hess(np.array([1.0]), np.array([0.0]), alpha=0.9)[0]"
        ".tolist()\n    [0.09999999999999998]",
    ),
    "absolute_error": (
        "absolute error |x - y| (reg:absoluteerror, LightGBM's l1).\n\n"
        "    grad = sign(x - y) (0 at the tie), hess = 1 (both libraries'\n"
        "    constant; the same leaf refit as for quantile applies).",
        "",
        "Real targets.",
        "    >>> import numpy as np\n"
        "    >>> absolute_error_grad_hess(np.array([-2.0]), np.array([0.0]))[0]"
        ".tolist()\n    [-1.0]",
    ),
}

for _name in NAMES:
    _gh, _lo = _make(_name, *_DOCS[_name])
    globals()[_gh.__name__] = _gh
    globals()[_lo.__name__] = _lo
del _name, _gh, _lo


# ---- adapters --------------------------------------------------------------------

# Each library's conventions where they differ from the exact derivatives: the
# default options its adapter passes (overridable).
_XGB_DEFAULTS: dict[str, dict[str, Any]] = {
    "logistic": {"min_hess": 1e-16},
    "sigmoid_focal": {"min_hess": 1e-16},
    "softmax": {"hessian": "xgboost", "min_hess": 1e-16},
    "squared_log_error": {"min_hess": 1e-6},
    "poisson": {"max_delta_step": 0.7},
}
_LGB_DEFAULTS: dict[str, dict[str, Any]] = {
    "sigmoid_focal": {"min_hess": 1e-16},
    "softmax": {"hessian": "lightgbm"},
    "huber": {"delta": 0.9},
    "poisson": {"max_delta_step": 0.7},
    "quantile": {"alpha": 0.9},
}


def _options(name: str, defaults: dict[str, dict[str, Any]], options: dict[str, Any]):
    if name not in _SPECS:
        raise ValueError(f"unknown objective {name!r}; one of {', '.join(NAMES)}")
    merged = {**defaults.get(name, {}), **options}
    # checked now, not at the first boosting round
    probe_raw = np.zeros((1, 2)) if name == "softmax" else np.zeros(1)
    probe_t = {"gamma": 1.0}.get(name, 0.0)
    grad_hess(name, probe_raw, np.array([probe_t]), **merged)
    return merged


def _as_raw(name: str, preds: Any, n: int) -> npt.NDArray[Any]:
    """The booster's predictions as raw scores of objective `name`'s shape: the
    multiclass ones arrive as (n, k) from XGBoost and LightGBM 4, or flat
    class-major from older LightGBM."""
    preds = np.asarray(preds)
    if name == "softmax" and preds.ndim == 1 and n and preds.size % n == 0:
        return preds.reshape(-1, n).T
    return preds


def _weight_or_none(w: Any) -> Any:
    return None if w is None or np.size(w) == 0 else w


def xgboost(name: str, **options: Any) -> Callable[..., tuple[Any, Any]]:
    """The callable for ``xgboost.train(..., obj=...)`` and for the scikit-learn
    wrapper's ``objective=`` computing objective `name` with fastloss.

    The same callable serves both signatures: ``(preds, dtrain)`` (a DMatrix) and
    ``(y_true, y_pred, sample_weight=None)``. Options are those of
    ``name_grad_hess``; XGBoost's own conventions are the defaults (softmax
    hessian 2 p (1 - p), hessian floors 1e-16 and 1e-6, Poisson max_delta_step
    0.7), so that training reproduces the built-in objective: give the booster
    ``base_score`` as a raw score (a custom objective's base_score is not passed
    through the link). Multiclass scores are XGBoost's (n, k) layout.

    ``n_threads`` defaults to 1 here: XGBoost's OpenMP threads keep spinning
    between its parallel regions, and a second team of fastloss threads competing
    with them for the cores made training about 2x slower (binary, 200k rows, 2
    cores: 0.86 s against 0.43 s with one thread; the built-in objective 0.38 s).
    Pass ``n_threads=`` to override.
    """
    options = {"n_threads": 1, **options}
    merged = _options(name, _XGB_DEFAULTS, options)

    def objective(a, b, sample_weight=None):  # fmt: skip
        if hasattr(b, "get_label"):  # xgboost.train: (preds, dtrain)
            preds, y, sample_weight = a, b.get_label(), b.get_weight()
        else:  # the scikit-learn wrapper: (y_true, y_pred)
            preds, y = b, a
        y = np.asarray(y)
        raw = _as_raw(name, preds, y.shape[0])
        return grad_hess(
            name, raw, y, sample_weight=_weight_or_none(sample_weight), **merged
        )

    objective.__name__ = objective.__qualname__ = f"fastloss_{name}"
    return objective


def xgboost_metric(name: str, **options: Any) -> Callable[..., Any]:
    """The callable for ``xgboost.train(..., custom_metric=...)``: returns
    ``("fastloss-<name>", mean loss)`` of the raw scores XGBoost passes with a
    custom objective. Options as for ``name(...)``."""
    merged = {k: v for k, v in options.items() if k != "min_hess"}
    _options(name, {}, merged)

    def metric(preds, dtrain):  # fmt: skip
        y = np.asarray(dtrain.get_label())
        raw = _as_raw(name, preds, y.shape[0])
        w = _weight_or_none(dtrain.get_weight())
        return f"fastloss-{name}", loss(name, raw, y, sample_weight=w, **merged)

    metric.__name__ = metric.__qualname__ = f"fastloss_{name}_metric"
    return metric


def lightgbm(name: str, **options: Any) -> Callable[..., tuple[Any, Any]]:
    """The callable for LightGBM 4's ``params["objective"]`` (``lightgbm.train``)
    and for the scikit-learn wrapper's ``objective=`` computing objective `name`.

    Serves both ``(preds, train_set)`` (a Dataset) and ``(y_true, y_pred,
    weight)``. LightGBM's conventions are the defaults (softmax hessian
    k / (k - 1) p (1 - p), huber delta 0.9, quantile alpha 0.9, Poisson
    max_delta_step 0.7). A custom objective starts from raw score 0 (no
    boost_from_average): give ``init_score`` to start elsewhere.
    """
    merged = _options(name, _LGB_DEFAULTS, options)

    def objective(a, b, weight=None):  # fmt: skip
        if hasattr(b, "get_label"):  # lightgbm.train: (preds, train_set)
            preds, y, weight = a, b.get_label(), b.get_weight()
        else:  # the scikit-learn wrapper: (y_true, y_pred, weight)
            preds, y = b, a
        y = np.asarray(y)
        raw = _as_raw(name, preds, y.shape[0])
        return grad_hess(name, raw, y, sample_weight=_weight_or_none(weight), **merged)

    objective.__name__ = objective.__qualname__ = f"fastloss_{name}"
    return objective


def lightgbm_metric(name: str, **options: Any) -> Callable[..., Any]:
    """The callable for LightGBM's ``feval=`` (``lightgbm.train``) and the
    scikit-learn wrapper's ``eval_metric=``: returns ``("fastloss-<name>", mean
    loss, False)`` (lower is better) of the raw scores LightGBM passes with a
    custom objective."""
    merged = {k: v for k, v in options.items() if k != "min_hess"}
    _options(name, {}, merged)

    def metric(a, b, weight=None):  # fmt: skip
        if hasattr(b, "get_label"):
            preds, y, weight = a, b.get_label(), b.get_weight()
        else:
            preds, y = b, a
        y = np.asarray(y)
        raw = _as_raw(name, preds, y.shape[0])
        w = _weight_or_none(weight)
        return f"fastloss-{name}", loss(name, raw, y, sample_weight=w, **merged), False

    metric.__name__ = metric.__qualname__ = f"fastloss_{name}_metric"
    return metric


__all__ = [
    "NAMES",
    "grad_hess",
    "lightgbm",
    "lightgbm_metric",
    "loss",
    "xgboost",
    "xgboost_metric",
    *(f"{n}{s}" for n in NAMES for s in ("", "_grad_hess")),
]
