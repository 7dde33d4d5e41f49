"""Bit-identity harness for the softmax row kernels (cross-entropy, softmax focal,
KL with logits, perplexity).

Runs a fixed matrix of calls (families x options x shapes x dtypes x reductions x
n_threads {1, 2} x every SIMD path this CPU has x loss-only / fused / fused in place)
and hashes every result: the loss (or row losses) and the gradient, byte for byte.

    python tools/bitcheck_softmax.py save base.json     # before a change
    python tools/bitcheck_softmax.py check base.json    # after it: exit 1 on a diff

The inputs come from a fixed seed, so two builds see the same calls.
"""

import hashlib
import inspect
import json
import sys

import numpy as np

import fastloss
from fastloss import _config

# The per-class weights' keyword, class_weight (weight= and, for the focal loss,
# alpha= before the rename), so one script runs against builds on either side of it.
CW = (
    "class_weight"
    if "class_weight" in inspect.signature(fastloss.softmax_cross_entropy).parameters
    else "weight"
)
FCW = "class_weight" if CW == "class_weight" else "alpha"

# (n, c): C = 1, 2, 10, tiny-row paths (17, 24, 30), 1000, 32000, long rows split
# across threads (few rows, c >= 16384) or chunked on one thread, one 1M row, many
# rows.
SHAPES = [
    (1, 1),
    (5, 2),
    (37, 10),
    (300, 10),
    (70, 17),
    (70, 24),
    (45, 30),
    (64, 1000),
    (3, 32000),
    (5, 20000),
    (1, 1_000_000),
    (4096, 10),
]
FILLS = ("normal", "mask", "big")


def _logits(rng, n, c, dtype, fill):
    x = rng.standard_normal((n, c)) * 3
    if fill == "mask":  # -inf entries, never a whole row (but for c = 1)
        m = rng.random((n, c)) < 0.3
        m[:, 0] = False
        x[m] = -np.inf
    elif fill == "big":
        x = rng.choice([-1e4, 1e4, 0.0, 5e3], size=(n, c)) + rng.standard_normal((n, c))
    return np.ascontiguousarray(x, dtype=dtype)


def _target(rng, x, ignore):
    n, c = x.shape
    t = rng.integers(0, c, n)
    if ignore:
        t[rng.random(n) < 0.25] = -100
    return t


def _probs(rng, n, c, dtype):
    p = rng.random((n, c)) ** 3
    p /= p.sum(axis=1, keepdims=True)
    p[:, -1] = 0.0 if c > 1 else p[:, -1]
    return p.astype(dtype)


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def _calls():
    """(key, loss_fn, grad_fn, args, kwargs, inplace_ok) for every case."""
    for shape in SHAPES:
        n, c = shape
        for dtype in (np.float32, np.float64):
            for fill in FILLS:
                if fill != "normal" and c * n > 200_000:
                    continue  # extremes on the smaller shapes only
                rng = np.random.default_rng(
                    [n, c, np.dtype(dtype).itemsize, FILLS.index(fill)]
                )
                x = _logits(rng, n, c, dtype, fill)
                t = _target(rng, x, False)
                ti = _target(rng, x, True)
                w = (rng.random(c) + 0.2).astype(dtype)
                sw = (rng.random(n) + 0.1).astype(dtype)
                sw[: max(1, n // 7)] = 0.0 if n > 1 else sw[:1]
                p = _probs(rng, n, c, dtype)
                t2 = _logits(rng, n, c, dtype, fill)
                key0 = f"{n}x{c}/{np.dtype(dtype).name}/{fill}"
                ce = [
                    ("idx", (x, t), {}),
                    ("ign", (x, ti), {}),
                    ("w", (x, ti), {CW: w}),
                    ("ls", (x, t), dict(label_smoothing=0.1)),
                    (
                        "ls_w_sw",
                        (x, ti),
                        {"label_smoothing": 0.2, CW: w, "sample_weight": sw},
                    ),
                    ("z", (x, t), dict(z_loss=1e-4)),
                    ("sw", (x, ti), dict(sample_weight=sw)),
                    ("prob", (x, p), {}),
                    ("prob_w_ls", (x, p), {CW: w, "label_smoothing": 0.1}),
                    ("prob_sw_z", (x, p), dict(sample_weight=sw, z_loss=1e-3)),
                ]
                foc = [
                    ("g2", (x, ti), {}),
                    ("g0", (x, t), dict(gamma=0.0)),
                    ("g05_a", (x, ti), {"gamma": 0.5, FCW: w}),
                    ("g1_sw", (x, t), dict(gamma=1.0, sample_weight=sw)),
                    ("g3", (x, t), dict(gamma=3.0)),
                ]
                kl = [
                    ("t1", (x, t2), {}),
                    ("t2_sw", (x, t2), dict(temperature=2.0, sample_weight=sw)),
                    ("t05", (x, t2), dict(temperature=0.5)),
                    ("probs", (x, p), dict(teacher_probs=True)),
                    (
                        "probs_t3",
                        (x, p),
                        dict(teacher_probs=True, temperature=3.0, sample_weight=sw),
                    ),
                ]
                for family, fn, cases in (
                    ("ce", "softmax_cross_entropy", ce),
                    ("focal", "softmax_focal_loss", foc),
                    ("kl", "kl_div_with_logits", kl),
                ):
                    loss, grad = (
                        getattr(fastloss, fn),
                        getattr(fastloss, fn + "_and_grad"),
                    )
                    for name, args, kw in cases:
                        yield (f"{family}/{name}/{key0}", loss, grad, args, kw)
                yield (f"ppl/idx/{key0}", fastloss.perplexity, None, (x, t), {})
                yield (f"ppl/ign/{key0}", fastloss.perplexity, None, (x, ti), {})


def run():
    out = {}
    paths = [p for p in _config._SIMD_NAMES if _supported(p)]
    for key, loss_fn, grad_fn, args, kw in _calls():
        big = args[0].size >= 500_000
        for path in paths:
            fastloss.set_simd(path)
            for nt in (1, 2):
                reds = ("mean",) if grad_fn is None else ("mean", "sum", "none")
                if big:
                    reds = reds[:1] if grad_fn is None else ("mean", "none")
                for red in reds:
                    k = f"{key}/{path}/nt{nt}/{red}"
                    rkw = dict(kw, n_threads=nt)
                    if grad_fn is None:
                        out[k] = _digest(np.float64(loss_fn(*args, **rkw)))
                        continue
                    rkw["reduction"] = red
                    lo = loss_fn(*args, **rkw)
                    loss, grad = grad_fn(*args, **rkw)
                    xin = args[0].copy()
                    loss2, grad2 = grad_fn(xin, *args[1:], out=xin, **rkw)
                    out[k + "/loss_only"] = _digest(lo)
                    out[k + "/fused"] = _digest(loss, grad)
                    out[k + "/inplace"] = _digest(loss2, grad2)
    fastloss.set_simd(None)
    return out


def _supported(path):
    try:
        fastloss.set_simd(path)
        return True
    except (ValueError, RuntimeError):
        return False


def main(argv):
    mode, path = argv[1], argv[2]
    res = run()
    if mode == "save":
        with open(path, "w") as f:
            json.dump(res, f, indent=0, sort_keys=True)
        print(f"saved {len(res)} hashes to {path}")
        return 0
    with open(path) as f:
        base = json.load(f)
    missing = sorted(set(base) - set(res))
    diff = sorted(k for k in base if k in res and base[k] != res[k])
    print(
        f"{len(base)} base hashes, {len(res)} now; {len(diff)} differ, "
        f"{len(missing)} missing"
    )
    for k in (diff + missing)[:40]:
        print("  ", k)
    return 1 if diff or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
