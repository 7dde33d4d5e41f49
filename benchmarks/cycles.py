"""Single-thread cost per element of every kernel family, dtype and SIMD path.

For each loss of the loss table (fastloss/_table.py) with a benchmark case, and for
softmax cross-entropy at several row lengths, on inputs small enough to stay in L2
(about 128 KiB per input), one thread, every SIMD path this CPU has, float32 and
float64: the median time of the fused ``*_and_grad`` call with ``out=`` per input
element, in ns and in cycles. The clock is measured in the same run: a chain of
dependent integer adds (one cycle each on every x86-64 core of the last 20 years)
compiled with the system's C compiler and timed like the kernels, so turbo and
frequency scaling are in the figure. Without a compiler the cycle column is left
out. A regression on any path shows in one command:

    python benchmarks/cycles.py                  # everything
    python benchmarks/cycles.py --loss softmax_cross_entropy --dtype float32

Not a pytest-benchmark file: run it directly. Numbers move with other load on the
machine; each figure is the median of ``--repeat`` timings of ``--number`` calls,
with the min-max spread beside it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import fastloss
from fastloss import _table

L2_BYTES = 128 * 1024  # per input: inputs + gradient stay well inside a 512 KiB L2
SOFTMAX_WIDTHS = (10, 100, 1000, 32000)

_CLOCK_C = r"""
#include <stdint.h>
/* n x 64 dependent adds: one cycle each (a chain the CPU cannot overlap). */
uint64_t fl_chain(uint64_t n) {
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++) {
#if defined(__x86_64__) || defined(__aarch64__)
#define A1 __asm__ volatile("add %0, %0, %1" : "+r"(x) : "r"(i));
#define A8 A1 A1 A1 A1 A1 A1 A1 A1
        A8 A8 A8 A8 A8 A8 A8 A8
#else
        x += i;
#endif
    }
    return x;
}
"""


def _clock_ghz() -> float | None:
    """Cycles per ns, from a dependent add chain timed in this process; None when no
    C compiler can build it."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None or platform.machine() not in ("x86_64", "AMD64", "aarch64"):
        return None
    src = _CLOCK_C
    if platform.machine() in ("x86_64", "AMD64"):
        src = src.replace('"add %0, %0, %1"', '"add %1, %0"')  # AT&T: two operands
    with tempfile.TemporaryDirectory() as tmp:
        c_path, so_path = os.path.join(tmp, "chain.c"), os.path.join(tmp, "chain.so")
        with open(c_path, "w") as f:
            f.write(src)
        built = subprocess.run(
            [cc, "-O1", "-shared", "-fPIC", c_path, "-o", so_path],
            capture_output=True,
        )
        if built.returncode != 0:
            return None
        chain = ctypes.CDLL(so_path).fl_chain
        chain.restype = ctypes.c_uint64
        chain.argtypes = [ctypes.c_uint64]
        n = 200_000  # 12.8 M adds: a few ms
        chain(n)
        best = min(_seconds(lambda: chain(n)) for _ in range(15))
    return n * 64 / best / 1e9


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _inputs(row, dtype, width):
    """The call's positional inputs for `row` at about L2_BYTES per input."""
    rng = np.random.default_rng(0)
    item = np.dtype(dtype).itemsize
    if row.family == "elementwise":
        shape = (L2_BYTES // item,)
    else:
        shape = (max(1, L2_BYTES // (item * width)), width)

    def normal(scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    kind = row.bench.inputs if row.bench else "classes"
    labels = (rng.random(shape) < 0.5).astype(dtype)
    if kind == "logits":
        return (normal(2.0), labels)
    if kind == "regression":
        return (normal(), normal())
    if kind == "probs":
        return ((1 / (1 + np.exp(-normal(2.0)))).astype(dtype), labels)
    if kind == "classes":
        return (normal(), rng.integers(0, width, size=shape[:-1]))
    if kind == "two_logits":
        return (normal(), normal())
    if kind == "triplet":
        a = normal()
        return (a, a + normal(0.1), normal())
    raise ValueError(kind)


def _cases(losses):
    """(row, row length) pairs: the softmax losses at several widths."""
    for row in _table.LOSSES:
        if not row.grad or (losses and row.name not in losses):
            continue
        if row.name == "softmax_cross_entropy":  # summary.py's own case, classes
            for width in SOFTMAX_WIDTHS:
                yield row, width
            continue
        if row.bench is None:  # no benchmark case: its inputs are not described
            continue
        if row.family == "linear_ce":  # a GEMM, not an elementwise cost
            continue
        if row.family == "elementwise":
            yield row, 1
        else:
            yield row, 1000


def _time_call(fn, number, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return np.median(times), min(times), max(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", action="append", help="a loss name (repeatable)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"])
    parser.add_argument("--simd", action="append", help="a SIMD path (repeatable)")
    parser.add_argument("--number", type=int, default=20, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=15, help="timings per figure")
    args = parser.parse_args(argv)

    paths = fastloss.config()["simd_available"]
    if args.simd:
        unknown = [p for p in args.simd if p not in paths]
        if unknown:
            parser.error(f"--simd {unknown}: this CPU has {list(paths)}")
        paths = args.simd
    dtypes = args.dtype or ["float32", "float64"]
    ghz = _clock_ghz()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if "model name" in ln)
    except (OSError, StopIteration):
        pass
    print(f"# {cpu}; fastloss {fastloss.__version__}; 1 thread; inputs ~128 KiB each")
    clock = f"{ghz:.2f} GHz (dependent-add chain, this run)" if ghz else "unknown"
    print(f"# clock {clock}; median of {args.repeat} x {args.number} calls")
    head = f"{'loss':34s} {'C':>6s} {'dtype':8s} {'simd':9s} {'ns/elem':>8s}"
    head += f" {'min-max':>12s}" + (f" {'cycles/elem':>11s}" if ghz else "")
    print(head)
    try:
        for row, width in _cases(args.loss):
            fn = getattr(fastloss, row.name + "_and_grad")
            for dtype in dtypes:
                inputs = _inputs(row, np.dtype(dtype), width)
                n_grads = len(row.inputs) if row.name == "triplet_margin_loss" else 1
                outs = tuple(np.empty_like(inputs[j]) for j in range(n_grads))
                out = outs if n_grads > 1 else outs[0]
                elems = inputs[0].size
                for path in paths:
                    fastloss.set_simd(path)

                    def call(fn=fn, inputs=inputs, out=out):
                        return fn(*inputs, out=out, n_threads=1)

                    med, lo, hi = _time_call(call, args.number, args.repeat)
                    ns, spread = med / elems * 1e9, f"{lo / elems * 1e9:.2f}-"
                    spread += f"{hi / elems * 1e9:.2f}"
                    line = f"{row.name:34s} {width if width > 1 else '-':>6} "
                    line += f"{dtype:8s} {path:9s} {ns:8.2f} {spread:>12s}"
                    if ghz:
                        line += f" {ns * ghz:11.2f}"
                    print(line, flush=True)
    finally:
        fastloss.set_simd(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
