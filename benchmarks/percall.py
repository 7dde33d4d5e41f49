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
import importlib.util
import json
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

import fastloss


def _table():
    """fastloss/_table.py of this checkout, loaded by path: it imports nothing of
    fastloss, so the build under measure may be another checkout's."""
    path = Path(__file__).resolve().parents[1] / "fastloss" / "_table.py"
    spec = importlib.util.spec_from_file_location("_fastloss_table", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cases(n: int, c: int, dtype: str) -> dict[str, object]:
    """name -> a call of it, for every loss of the loss table that the measured
    fastloss has (linear cross-entropy aside: its cost is a GEMM)."""
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    x = rng.standard_normal((n, c)).astype(dt)
    y = rng.standard_normal((n, c)).astype(dt)
    yb = (rng.random((n, c)) > 0.5).astype(dt)
    probs = (1 / (1 + np.exp(-x))).astype(dt)
    t = rng.integers(0, c, n)
    a, p, q = (rng.standard_normal((n, c)).astype(dt) for _ in range(3))
    inputs = {
        "classes": (x, t),
        "two_logits": (x, y),
        "regression": (x, y),
        "logits": (x, yb),
        "probs": (probs, yb),
        # probabilities with class indices (the generalized cross-entropy)
        "prob_classes": (np.exp(x) / np.exp(x).sum(-1, keepdims=True), t),
        "triplet": (a, p, q),
        # CTC: 8 frames of the rows' log-probabilities, 3 labels a row
        "ctc": (
            np.log(np.full((8, n, c), 1.0 / c, dt)),
            rng.integers(1, max(c, 2), (n, 3)) % c,
            np.full(n, 8),
            np.full(n, 3 if c > 1 else 0),
        ),
    }
    found = {}
    for row in _table().LOSSES:
        if row.family == "linear_ce" or not hasattr(fastloss, row.name):
            continue
        kind = row.bench.inputs if row.bench else None
        if kind is None and row.inputs == ("probs", "target"):
            kind = "prob_classes"
        elif kind is None and row.family == "rowwise" and row.inputs[1] == "target":
            kind = "probs"  # two arrays of one shape (cosine, Dice, Tversky)
        kind = kind or {"elementwise": "regression", "ctc": "ctc"}.get(
            row.family, "classes"
        )
        args = inputs[kind]
        outs = tuple(
            np.empty_like(v) for v in args[: len(args) if kind == "triplet" else 1]
        )
        out = outs if kind == "triplet" else outs[0]
        for name in row.names:
            fn = getattr(fastloss, name)
            kw = {"out": out} if name.endswith("_and_grad") else {}
            found[name] = lambda fn=fn, args=args, kw=kw: fn(*args, **kw)
    return found


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
