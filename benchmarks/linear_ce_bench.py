"""Fused linear cross-entropy against materialising the logits: time and memory.

Every implementation computes, in float32 with 2 threads, the mean cross-entropy
of ``hidden @ weight.T`` (no bias) against integer targets, and its gradients with
respect to ``hidden`` and ``weight``:

=====================  ===========================================================
``fastloss``           ``fastloss.linear_cross_entropy_and_grad`` (chunk_size=None)
``numpy``              ``logits = hidden @ weight.T``; ``softmax_cross_entropy_and
                       _grad(logits, target)`` (a new gradient buffer: logits and
                       gradient both exist); ``g @ weight``; ``g.T @ hidden``
``numpy-inplace``      the same with ``out=logits`` (only one N x V buffer)
``torch``              ``F.cross_entropy(F.linear(h, w), t).backward()`` on
                       ``torch.from_numpy`` leaves, ``torch.set_num_threads(2)``
=====================  ===========================================================

Each measurement runs in a fresh subprocess (``--worker``) that builds the
inputs, makes one small warm-up call (library start-up), resets the peak RSS
(Linux ``/proc/self/clear_refs``), and times one full call. "peak extra" is the
peak RSS during the call minus the RSS before it: it includes the returned
gradients (``(N + V) * D`` floats, the same for everyone). Implementations are
alternated over the repeats; the table shows medians with the min-max range.
NumPy's BLAS is capped at 2 threads with threadpoolctl, fastloss gets
``n_threads=2``.

Usage::

    python benchmarks/linear_ce_bench.py --quick          # N=1024: ~2 minutes
    python benchmarks/linear_ce_bench.py                  # N=8192, D=1024
    python benchmarks/linear_ce_bench.py --vocab 32000 --repeat 5 --wait-idle 600
    python benchmarks/linear_ce_bench.py --vocab 128256 --repeat 1 \\
        --impls fastloss,numpy-inplace                    # mind the RAM

The materialised versions at V=128256 need about 4.2 GB (numpy-inplace), 8.4 GB
(numpy) and more for torch, beyond the inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

N_THREADS = 2
IMPLS = ("fastloss", "numpy", "numpy-inplace", "torch")


# ---------------------------------------------------------------------------
# worker: one measurement in this process


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _max_rss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _make_inputs(n: int, d: int, v: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    hidden = rng.standard_normal((n, d), dtype=np.float32)
    weight = rng.standard_normal((v, d), dtype=np.float32)
    weight *= np.float32(1.0 / np.sqrt(d))  # logits of order 1
    target = rng.integers(0, v, n)
    return hidden, weight, target


def _impl(name: str):
    """A function (hidden, weight, target) -> (loss, grad_hidden, grad_weight)."""
    if name == "fastloss":
        import fastloss

        def run(h, w, t):
            return fastloss.linear_cross_entropy_and_grad(h, w, t, n_threads=N_THREADS)

    elif name in ("numpy", "numpy-inplace"):
        import fastloss

        inplace = name == "numpy-inplace"

        def run(h, w, t):
            logits = h @ w.T
            loss, g = fastloss.softmax_cross_entropy_and_grad(
                logits, t, n_threads=N_THREADS, out=logits if inplace else None
            )
            return loss, g @ w, g.T @ h

    elif name == "torch":
        import torch

        torch.set_num_threads(N_THREADS)
        F = torch.nn.functional

        def run(h, w, t):
            ht = torch.from_numpy(h).requires_grad_()
            wt = torch.from_numpy(w).requires_grad_()
            loss = F.cross_entropy(F.linear(ht, wt), torch.from_numpy(t))
            loss.backward()
            return float(loss), ht.grad.numpy(), wt.grad.numpy()

    else:
        raise ValueError(f"unknown implementation {name!r}; known: {IMPLS}")
    return run


def worker(name: str, n: int, d: int, v: int) -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=N_THREADS, user_api="blas"):
        run = _impl(name)
        small = _make_inputs(min(n, 64), d, min(v, 1000), seed=1)
        run(*small)  # warm-up: library start-up, thread pools
        del small
        hidden, weight, target = _make_inputs(n, d, v)
        exact = _reset_peak()
        before = _status_kib("VmRSS") if exact else None
        before_bytes = before * 1024 if before is not None else _max_rss_bytes()
        t0 = time.perf_counter()
        loss, gh, gw = run(hidden, weight, target)
        elapsed = time.perf_counter() - t0
        peak_kib = _status_kib("VmHWM") if exact else None
        peak_bytes = peak_kib * 1024 if peak_kib is not None else _max_rss_bytes()
    return {
        "impl": name,
        "time": elapsed,
        "peak_extra": peak_bytes - before_bytes,
        "exact_peak": exact,
        "loss": float(loss),
        "gh_norm": float(np.linalg.norm(gh.astype(np.float64))),
        "gw_norm": float(np.linalg.norm(gw.astype(np.float64))),
        "outputs": int(gh.nbytes + gw.nbytes),
    }


# ---------------------------------------------------------------------------
# driver


def _available(name: str) -> bool:
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
    return True


def _spawn(name: str, n: int, d: int, v: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(N_THREADS))
    cmd = [sys.executable, __file__, "--worker", name, "--n", str(n), "--d", str(d)]
    cmd += ["--vocab", str(v)]
    busy0, _ = other_cpu_seconds()
    kids0 = os.times()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    busy1, _ = other_cpu_seconds()
    kids1 = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"{name} (N={n}, V={v}) failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # CPU time of processes other than this one and the worker, per second: the
    # noise on a shared machine (2.0 would be both cores busy with other work)
    kids = (kids1.children_user + kids1.children_system) - (
        kids0.children_user + kids0.children_system
    )
    result["others_load"] = max(0.0, (busy1 - busy0 - kids) / wall)
    return result


def _fmt_range(values, scale=1.0, digits=2):
    med = statistics.median(values) * scale
    if len(values) == 1:
        return f"{med:.{digits}f}"
    lo, hi = min(values) * scale, max(values) * scale
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import describe, other_cpu_seconds, wait_until_idle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N=1024 instead of 8192")
    p.add_argument("--n", type=int, default=None, help="rows (default 8192)")
    p.add_argument("--d", type=int, default=1024, help="input features")
    p.add_argument(
        "--vocab", default="32000,128256", help="comma-separated class counts"
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement wait up to this long for 5 quiet seconds",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    n = args.n or (1024 if args.quick else 8192)
    vocabs = [int(v) for v in args.vocab.split(",")]

    if args.worker:
        print(json.dumps(worker(args.worker, n, args.d, vocabs[0])))
        return 0

    impls = [name for name in args.impls.split(",") if _available(name)]
    for line in describe():
        print(line)
    print(f"\nfloat32, N={n}, D={args.d}, {N_THREADS} threads, {args.repeat} repeats")
    ok = True
    for v in vocabs:
        results: dict[str, list[dict]] = {name: [] for name in impls}
        for r in range(args.repeat):
            order = impls if r % 2 == 0 else impls[::-1]  # alternate
            for name in order:
                if args.wait_idle > 0 and not wait_until_idle(5.0, args.wait_idle):
                    print(f"(not idle after {args.wait_idle:.0f} s: measuring anyway)")
                results[name].append(_spawn(name, n, args.d, v))
        ok &= _print_table(n, args.d, v, results)
    return 0 if ok else 1


def _print_table(n: int, d: int, v: int, results: dict[str, list[dict]]) -> bool:
    ref = results.get("fastloss")
    base_name = next(
        (k for k in ("numpy", "numpy-inplace", "torch") if results.get(k)), None
    )
    logits_mib = n * v * 4 / 2**20
    print(f"\nV={v}: the logits alone are {logits_mib:.0f} MiB")
    print("| impl | time s | peak extra MiB | vs materialised | others' load | check |")
    print("| --- | --- | --- | --- | --- | --- |")
    ok = True
    for name, runs in results.items():
        times = [r["time"] for r in runs]
        peaks = [r["peak_extra"] for r in runs]
        check = "ok"
        if ref:
            want = ref[0]
            for r in runs:
                for key in ("loss", "gh_norm", "gw_norm"):
                    if abs(r[key] - want[key]) > 1e-4 * abs(want[key]) + 1e-12:
                        check = f"MISMATCH {key}"
                        ok = False
        ratio = ""
        if base_name and name != base_name:
            base_t = statistics.median(x["time"] for x in results[base_name])
            base_m = statistics.median(x["peak_extra"] for x in results[base_name])
            out_b = runs[0]["outputs"]  # the same for everyone
            ratio = (
                f"time x{statistics.median(times) / base_t:.2f}, "
                f"memory {100 * statistics.median(peaks) / base_m:.1f}% "
                f"({100 * (statistics.median(peaks) - out_b) / (base_m - out_b):.1f}%"
                " without the gradients)"
            )
        load = statistics.median(r["others_load"] for r in runs)
        print(
            f"| {name} | {_fmt_range(times)} | {_fmt_range(peaks, 2**-20, 0)} "
            f"| {ratio} | {load:.2f} | {check} |"
        )
    out = results[next(iter(results))][0]["outputs"] / 2**20
    vs = f"; ratios vs {base_name}" if base_name else ""
    print(f"(peak extra includes the returned gradients, {out:.0f} MiB{vs};")
    print(" others' load: CPU-seconds per second used by other processes meanwhile;")
    print(" check: the loss and gradient norms agree with fastloss's)")
    return ok


if __name__ == "__main__":
    sys.exit(main())
