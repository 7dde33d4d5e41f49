"""Per-call cost of every loss at a small shape (32x10 float32 by default).

Small batches are dominated by the Python-side cost of a call (argument checks,
allocations, the binding), not by the kernel: this measures that cost for each
loss, loss-only and with its gradient written into a caller's ``out=``. Two
builds cannot share a process, so compare them by running this script for each,
back to back, e.g.::

    PYTHONPATH=/path/to/other/checkout python benchmarks/percall.py --json a.json
    python benchmarks/percall.py --json b.json --compare a.json

Each case is timed `--repeats` times (each the best of 5 runs of `--number`
calls); the table gives the median and the min-max of those repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit

import numpy as np

import fastloss


def cases(n: int, c: int, dtype: str) -> dict[str, object]:
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    x = rng.standard_normal((n, c)).astype(dt)
    y = rng.standard_normal((n, c)).astype(dt)
    yb = (rng.random((n, c)) > 0.5).astype(dt)
    probs = (1 / (1 + np.exp(-x))).astype(dt)
    t = rng.integers(0, c, n)
    out = np.empty_like(x)
    a, p, q = (rng.standard_normal((n, c)).astype(dt) for _ in range(3))
    outs3 = tuple(np.empty_like(x) for _ in range(3))
    f = fastloss
    return {
        "softmax_cross_entropy": lambda: f.softmax_cross_entropy(x, t),
        "softmax_cross_entropy_and_grad": lambda: f.softmax_cross_entropy_and_grad(
            x, t, out=out
        ),
        "perplexity": lambda: f.perplexity(x, t),
        "softmax_focal_loss": lambda: f.softmax_focal_loss(x, t),
        "softmax_focal_loss_and_grad": lambda: f.softmax_focal_loss_and_grad(
            x, t, out=out
        ),
        "kl_div_with_logits": lambda: f.kl_div_with_logits(x, y),
        "kl_div_with_logits_and_grad": lambda: f.kl_div_with_logits_and_grad(
            x, y, out=out
        ),
        "triplet_margin_loss": lambda: f.triplet_margin_loss(a, p, q),
        "triplet_margin_loss_and_grad": lambda: f.triplet_margin_loss_and_grad(
            a, p, q, out=outs3
        ),
        "mse_loss": lambda: f.mse_loss(x, y),
        "mse_loss_and_grad": lambda: f.mse_loss_and_grad(x, y, out=out),
        "l1_loss": lambda: f.l1_loss(x, y),
        "l1_loss_and_grad": lambda: f.l1_loss_and_grad(x, y, out=out),
        "huber_loss": lambda: f.huber_loss(x, y),
        "huber_loss_and_grad": lambda: f.huber_loss_and_grad(x, y, out=out),
        "smooth_l1_loss": lambda: f.smooth_l1_loss(x, y),
        "smooth_l1_loss_and_grad": lambda: f.smooth_l1_loss_and_grad(x, y, out=out),
        "log_cosh_loss": lambda: f.log_cosh_loss(x, y),
        "log_cosh_loss_and_grad": lambda: f.log_cosh_loss_and_grad(x, y, out=out),
        "binary_cross_entropy_with_logits": lambda: f.binary_cross_entropy_with_logits(
            x, yb
        ),
        "binary_cross_entropy_with_logits_and_grad": lambda: (
            f.binary_cross_entropy_with_logits_and_grad(x, yb, out=out)
        ),
        "binary_cross_entropy": lambda: f.binary_cross_entropy(probs, yb),
        "binary_cross_entropy_and_grad": lambda: f.binary_cross_entropy_and_grad(
            probs, yb, out=out
        ),
        "sigmoid_focal_loss": lambda: f.sigmoid_focal_loss(x, yb),
        "sigmoid_focal_loss_and_grad": lambda: f.sigmoid_focal_loss_and_grad(
            x, yb, out=out
        ),
    }


def measure(fn, number: int, repeats: int) -> list[float]:
    fn()
    return [
        min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6
        for _ in range(repeats)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="32x10", help="rows x classes")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--number", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--json", help="write {case: [us, ...]} here")
    ap.add_argument("--compare", help="a --json file of another run: its medians")
    args = ap.parse_args()
    n, c = (int(v) for v in args.shape.split("x"))
    base = {}
    if args.compare:
        with open(args.compare) as fh:
            base = json.load(fh)
    only = set(filter(None, args.only.split(",")))
    results = {}
    print(f"fastloss from {fastloss.__file__}; {args.shape} {args.dtype}, us per call")
    head = f"{'case':42s} {'median':>8s} {'min-max':>15s}"
    print(head + (f" {'other':>8s} {'ratio':>6s}" if base else ""))
    for name, fn in cases(n, c, args.dtype).items():
        if only and name not in only:
            continue
        ts = measure(fn, args.number, args.repeats)
        results[name] = ts
        med = statistics.median(ts)
        line = f"{name:42s} {med:8.2f} {min(ts):7.2f}-{max(ts):<7.2f}"
        if name in base:
            other = statistics.median(base[name])
            line += f" {other:8.2f} {med / other:6.2f}"
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
