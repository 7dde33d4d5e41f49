"""A guard, not a benchmark: are the logit kernels vectorised on every SIMD path?

    python benchmarks/vectorised.py

exp feeding a log once kept GCC from vectorising the element loop (see
ew_exp_nabs in src_c/fl_ew_binary.h), which made BCE with logits and the sigmoid
focal loss 4-13x slower than binary_cross_entropy (a log and a log1p per
element). Vectorised, BCE with logits costs about as much as BCE on probabilities
and the focal loss about twice as much. This prints, for each SIMD path this CPU
has and each dtype, the single-thread time of each against BCE's (best of 9, in
one process) and exits 1 when a ratio is above its limit. It lived in the test
suite until 2026-12-07; a timing assertion there made the suite's verdict depend
on the machine's load, so it runs here, by hand, after a change to those kernels.
"""

import math
import sys
import time
from functools import partial

import numpy as np

import fastloss

LIMITS = (
    (fastloss.binary_cross_entropy_with_logits_and_grad, 2.5),
    (fastloss.sigmoid_focal_loss_and_grad, 5.0),
)


def _best_time(fn, repeat=9):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    failed = 0
    rng = np.random.default_rng(0)
    for path in fastloss.config()["simd_available"]:
        fastloss.set_simd(path)
        for dtype in (np.float32, np.float64):
            x = rng.uniform(-5, 5, 1 << 16).astype(dtype)
            p = rng.uniform(0, 1, x.size).astype(dtype)
            y = rng.random(x.size).astype(dtype)
            out = np.empty_like(x)
            bce = fastloss.binary_cross_entropy_and_grad
            ref = _best_time(partial(bce, p, y, out=out, n_threads=1))
            for fn, limit in LIMITS:
                t = _best_time(partial(fn, x, y, out=out, n_threads=1))
                ok = t / ref < limit
                failed += not ok
                print(
                    f"{path:8} {np.dtype(dtype).name:7} {fn.__name__:45} "
                    f"{t / ref:5.2f}x BCE (limit {limit}) {'ok' if ok else 'SLOW'}"
                )
    fastloss.set_simd(None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
