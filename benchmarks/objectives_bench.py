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

Each figure is the minimum over --repeat runs (the machine is shared; the minimum
is the least disturbed run), with the median beside it.

Usage::

    python benchmarks/objectives_bench.py             # both parts, ~3 minutes
    python benchmarks/objectives_bench.py --part 1 --repeat 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np

from fastloss import objectives as ob

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


def _time(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def part1(repeat):
    rng = np.random.default_rng(0)
    print(f"## objective per round ({THREADS} threads): min (median) ms")
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
        fl = _time(partial(gh, x, y, n_threads=THREADS, **opts), repeat)
        flo = _time(partial(gh, x, y, n_threads=THREADS, out=out, **opts), repeat)
        npt = _time(partial(npfn, x, y), repeat)
        print(
            f"{label:32s} fastloss {fl[0] * 1e3:7.2f} ({fl[1] * 1e3:7.2f})  "
            f"out= {flo[0] * 1e3:7.2f}  numpy {npt[0] * 1e3:8.2f} ({npt[1] * 1e3:8.2f})"
            f"  ratio {npt[0] / fl[0]:5.1f}x"
        )


def part2(repeat):
    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(1)
    print(f"## training time ({THREADS} threads): min (median) s, ratio to built-in")
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
        params = {**xp, **extra, "base_score": 0.0}
        runs = {
            "built-in": partial(
                xgb.train,
                {**xp, **extra, "objective": builtin, "base_score": 0.5},
                dtr,
                rounds,
            ),
            "fastloss": partial(xgb.train, params, dtr, rounds, obj=ob.xgboost(name)),
            "numpy": partial(xgb.train, params, dtr, rounds, obj=np_xgb(npfn)),
        }
        res = {k: _time(v, repeat) for k, v in runs.items()}
        base = res["built-in"][0]
        print(
            f"xgboost  {label:24s} "
            + "  ".join(
                f"{k} {v[0]:6.2f} ({v[1]:6.2f}) {v[0] / base:4.2f}x"
                for k, v in res.items()
            )
        )
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
        runs = {
            "built-in": partial(
                lgb.train, {**lp, **extra, "objective": builtin}, ds, rounds
            ),
            "fastloss": partial(
                lgb.train, {**lp, **extra, "objective": ob.lightgbm(name)}, ds, rounds
            ),
            "numpy": partial(
                lgb.train, {**lp, **extra, "objective": np_lgb(npfn)}, ds, rounds
            ),
        }
        res = {k: _time(v, repeat) for k, v in runs.items()}
        base = res["built-in"][0]
        print(
            f"lightgbm {label:24s} "
            + "  ".join(
                f"{k} {v[0]:6.2f} ({v[1]:6.2f}) {v[0] / base:4.2f}x"
                for k, v in res.items()
            )
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", type=int, choices=(1, 2), default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=THREADS)
    args = ap.parse_args()
    globals()["THREADS"] = args.threads
    if args.part in (None, 1):
        part1(args.repeat * 2)
    if args.part in (None, 2):
        part2(args.repeat)


if __name__ == "__main__":
    main()
