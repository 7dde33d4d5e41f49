"""Gradient-boosting objectives: fastloss against the NumPy objective a user writes,
per boosting round and end to end in XGBoost and LightGBM.

Part 1, the objective alone (what a library calls once per round), on the inputs
a library passes (float32 scores from XGBoost, float64 from LightGBM):

=================  ===============================================================
``fastloss``       ``fastloss.objectives.<name>_grad_hess`` (2 threads)
``numpy``          the usual vectorised formulas: ``p = 1 / (1 + exp(-x))``,
                   ``g = p - y``, ``h = p (1 - p)`` (binary); ``e = exp(x - max)``,
                   ``p = e / sum``, ``g = p - onehot``, ``h = 2 p (1 - p)``
                   (multiclass); the sigmoid focal loss's closed forms
=================  ===============================================================

on 1M rows (binary logistic, sigmoid focal) and 200k rows x 100 classes (softmax).
Part 2: training time of XGBoost (hist) and LightGBM with the built-in objective,
the fastloss callable and the NumPy callable, 2 threads each.

The implementations of a case run alternating (A B C A B C ...): each figure is
the median over --repeat rounds with the min-max beside it, and a ratio is the
median (min-max) of the same-round ratios. The machine is printed first, and the
CPU-seconds other processes used during the run last (the noise).

Usage::

    python benchmarks/objectives_bench.py             # both parts, ~3 minutes
    python benchmarks/objectives_bench.py --part 1 --repeat 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial

import numpy as np

from fastloss import objectives as ob

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import describe, other_cpu_seconds  # noqa: E402

THREADS = 2


# ---- the NumPy objectives a user writes -------------------------------------------


def np_logistic(x, y):
    p = 1.0 / (1.0 + np.exp(-x))
    return p - y, p * (1.0 - p)


def np_focal(x, y, alpha=0.25, gamma=2.0):
    """The closed forms written out (as in the focal-loss GBDT write-ups), with
    log(p) = -logaddexp(0, -x) for stability."""
    p = 1.0 / (1.0 + np.exp(-x))
    q = 1.0 - p
    lp, lq = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    a1, a0 = alpha, 1 - alpha
    f1 = p**gamma * (gamma * q * -lq + p)
    fn1 = q**gamma * (gamma * p * -lp + q)
    f2 = p**gamma * q * (gamma**2 * q * -lq - gamma * p * -lq + (2 * gamma + 1) * p)
    fn2 = q**gamma * p * (gamma**2 * p * -lp - gamma * q * -lp + (2 * gamma + 1) * q)
    return -y * a1 * fn1 + (1 - y) * a0 * f1, y * a1 * fn2 + (1 - y) * a0 * f2


def np_softmax(x, y):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(x.shape[0]), y.astype(np.int64)] -= 1.0
    return g, 2.0 * p * (1.0 - p)


def _alternate(fns, repeat):
    """Run the callables of `fns` (name -> callable) round-robin, A B C A B C ...,
    `repeat` rounds after one warm-up call each; {name: [seconds per call]}."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def _fmt(ts, scale, digits=2):
    """Median (min-max) of `ts` times `scale`."""
    med, lo, hi = (v * scale for v in (statistics.median(ts), min(ts), max(ts)))
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def _ratio(num, den):
    """Median and range of num[i] / den[i] over the rounds (same-round pairs)."""
    r = [a / b for a, b in zip(num, den)]
    return f"{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})"


def part1(repeat):
    rng = np.random.default_rng(0)
    print(f"## objective per round ({THREADS} threads): median (min-max) ms")
    n = 1_000_000
    nb, k = 200_000, 100
    cases = []
    for dtype in (np.float32, np.float64):
        x = rng.normal(0, 2, n).astype(dtype)
        y = (rng.random(n) < 0.3).astype(dtype)
        cases.append(
            (f"logistic {n} {dtype.__name__}", x, y, "logistic", np_logistic, {})
        )
        cases.append(
            (f"sigmoid_focal {n} {dtype.__name__}", x, y, "sigmoid_focal", np_focal, {})
        )
        xs = rng.normal(0, 2, (nb, k)).astype(dtype)
        ys = rng.integers(0, k, nb).astype(dtype)
        cases.append(
            (
                f"softmax {nb}x{k} {dtype.__name__}",
                xs,
                ys,
                "softmax",
                np_softmax,
                {"hessian": "xgboost"},
            )
        )
    for label, x, y, name, npfn, opts in cases:
        gh = getattr(ob, f"{name}_grad_hess")
        out = (np.empty_like(x), np.empty_like(x))
        t = _alternate(
            {
                "fastloss": partial(gh, x, y, n_threads=THREADS, **opts),
                "out=": partial(gh, x, y, n_threads=THREADS, out=out, **opts),
                "numpy": partial(npfn, x, y),
            },
            repeat,
        )
        print(
            f"{label:30s} fastloss {_fmt(t['fastloss'], 1e3)}  "
            f"out= {_fmt(t['out='], 1e3)}  numpy {_fmt(t['numpy'], 1e3)}  "
            f"numpy / fastloss {_ratio(t['numpy'], t['fastloss'])}, "
            f"/ out= {_ratio(t['numpy'], t['out='])}"
        )


def part2(repeat):
    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(1)
    print(
        f"## training, {THREADS} threads: median (min-max) s; the ratio to the"
        " built-in is the median (min-max) of same-repeat pairs"
    )
    n, d = 200_000, 20
    X = rng.normal(size=(n, d)).astype(np.float32)
    f = X[:, 0] - X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    yb = (f + rng.logistic(size=n) > 0).astype(np.float32)
    nm, km = 50_000, 10
    Xm = X[:nm]
    ym = np.digitize(f[:nm] + rng.normal(size=nm), np.linspace(-2, 2, km - 1)).astype(
        np.float32
    )

    def np_xgb(fn):
        return lambda preds, dtrain: fn(preds, dtrain.get_label())

    def np_lgb(fn):
        return lambda preds, ds: fn(preds, ds.get_label())

    rounds = 50
    xp = {"tree_method": "hist", "max_depth": 6, "eta": 0.1, "nthread": THREADS}
    for label, Xs, y, builtin, name, npfn, extra in (
        (f"binary {n}x{d}", X, yb, "binary:logistic", "logistic", np_logistic, {}),
        (
            f"softmax {nm}x{d} k={km}",
            Xm,
            ym,
            "multi:softprob",
            "softmax",
            np_softmax,
            {"num_class": km},
        ),
    ):
        dtr = xgb.DMatrix(Xs, label=y)
        inside = _InObjective(ob.xgboost(name))
        params = {**xp, **extra, "base_score": 0.0}
        runs = {
            "built-in": partial(
                xgb.train,
                {**xp, **extra, "objective": builtin, "base_score": 0.5},
                dtr,
                rounds,
            ),
            "fastloss": partial(inside.train, xgb.train, params, dtr, rounds),
            "numpy": partial(xgb.train, params, dtr, rounds, obj=np_xgb(npfn)),
        }
        _report("xgboost", label, _alternate(runs, repeat), inside)
    lp = {
        "num_threads": THREADS,
        "verbose": -1,
        "learning_rate": 0.1,
        "num_leaves": 63,
        "boost_from_average": False,
    }
    for label, Xs, y, builtin, name, npfn, extra in (
        (f"binary {n}x{d}", X, yb, "binary", "logistic", np_logistic, {}),
        (
            f"softmax {nm}x{d} k={km}",
            Xm,
            ym,
            "multiclass",
            "softmax",
            np_softmax,
            {"num_class": km},
        ),
    ):
        ds = lgb.Dataset(Xs, y, free_raw_data=False).construct()
        inside = _InObjective(ob.lightgbm(name))
        runs = {
            "built-in": partial(
                lgb.train, {**lp, **extra, "objective": builtin}, ds, rounds
            ),
            "fastloss": partial(
                inside.train,
                lgb.train,
                {**lp, **extra, "objective": None},
                ds,
                rounds,
            ),
            "numpy": partial(
                lgb.train, {**lp, **extra, "objective": np_lgb(npfn)}, ds, rounds
            ),
        }
        _report("lightgbm", label, _alternate(runs, repeat), inside)


def _report(lib, label, res, inside):
    base = res["built-in"]
    print(
        f"{lib:8s} {label:22s} "
        + "  ".join(
            f"{k} {_fmt(v, 1.0)}" + ("" if k == "built-in" else f" {_ratio(v, base)}")
            for k, v in res.items()
        )
        + f"  (inside the fastloss objective: {_fmt(inside.runs[1:], 1.0, 3)})"
    )


class _InObjective:
    """A custom objective that times itself: ``runs[i]`` is the time spent inside
    it during training run i (the first is the warm-up). LightGBM deep-copies its
    params, this object with them: the callable it gets is a closure (functions
    are not copied) writing into this object's list."""

    def __init__(self, fn):
        self.runs = runs = []

        def objective(*args):
            t0 = time.perf_counter()
            result = fn(*args)
            runs[-1] += time.perf_counter() - t0
            return result

        self.fn = objective

    def train(self, train, params, data, rounds):
        self.runs.append(0.0)
        if "objective" in params:  # lightgbm: the callable is a parameter
            return train({**params, "objective": self.fn}, data, rounds)
        return train(params, data, rounds, obj=self.fn)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", type=int, choices=(1, 2), default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=THREADS)
    args = ap.parse_args()
    globals()["THREADS"] = args.threads
    for line in describe():
        print(line)
    other0, steal0 = other_cpu_seconds()
    t0 = time.monotonic()
    if args.part in (None, 1):
        part1(args.repeat * 2)
    if args.part in (None, 2):
        part2(args.repeat)
    other1, steal1 = other_cpu_seconds()
    print(
        f"noise: other processes {other1 - other0:.1f} CPU-s, hypervisor steal "
        f"{steal1 - steal0:.1f} s, in {time.monotonic() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
