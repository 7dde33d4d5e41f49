"""Summary benchmark of every fastloss loss family against NumPy, PyTorch, JAX
and TensorFlow XLA: value and gradient, float32, 2 threads each.

    python benchmarks/losses_summary.py                  # every case, ~8 min idle
    python benchmarks/losses_summary.py --quick          # fewer, shorter samples
    python benchmarks/losses_summary.py --cases huber kl_div:4096x32000
    python benchmarks/losses_summary.py --cases elementwise --no-tf
    python benchmarks/losses_summary.py --json out.json --markdown table.md

Run it in the interpreter that has the peers (NumPy, torch, jax). TensorFlow is
measured by this same script in a second interpreter (``--tf-python``, default
$FASTLOSS_TF_PYTHON, else ../tf-venv/bin/python beside the checkout), after the
other cases, alternating with fastloss and the copy there; its ratio is against
the fastloss measured in that process.

Per case, the implementations and a plain memory copy take turns, A B C A B C,
each round starting one further along, so slow drift spreads over all alike. A
turn: ``--gap-ms`` idle (thread pools that spin after a call go to sleep and
stop taking a core from the next entry), ``--warmup-ms`` of the entry's own
untimed calls (on the benchmark VM an idle vCPU needs 10-20 ms of work before
calls run at steady speed, as they do inside a training loop), then one sample:
the mean of k back-to-back calls, k chosen so a sample lasts about
``--sample-ms``. Entries whose call takes over 0.5 s skip the warm-up, and a
case with a call over 1 s runs at most 5 rounds. Printed per implementation:
the median sample, the min-max, the ratio to fastloss (``out=`` a reused buffer)
with its range, the fraction of the memory floor, the extra memory of one call,
the median first call after the idle gap, and a check against a float64 NumPy
twin.

The memory floor: a fused pass must read every input once and write the
gradient once (``bytes_needed``; the triplet loss writes three gradients, one
per input). ``np.copyto`` of an array of the first input's size into an
already-touched destination moves ``bytes_copied`` = 2 x its size at the copy
bandwidth of this machine, measured in the same rounds; floor = copy median x
bytes_needed / bytes_copied. A two-thread copy gives a stricter floor, printed
alongside.

Before each case the script waits (``--wait-idle``, at most ``--wait-budget`` in
all) for other processes to go quiet, reads /proc/stat around the timed rounds,
marks a case NOISY when other processes (or the hypervisor's steal) took more than
2 % of the wall time, and measures it again up to ``--retries`` times while
waiting time is left, keeping the quietest attempt.

Extra memory per call: tracemalloc (fastloss, NumPy), torch's CPU allocator total
as its profiler records it, XLA's buffer assignment (JAX), TensorFlow's allocator
peak; the peak RSS growth of one call is printed beside them as a cross-check.
Also as a multiple of the gradient's size (the three gradients' together for the
triplet loss).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _loss_impls import (
    CASES,
    IMPL_BY_NAME,
    IMPLS,
    N_THREADS,
    REFERENCE_IMPL,
    bytes_needed,
    check_result,
    grad_bytes,
    is_available,
    make_inputs,
    reference,
    rss_peak_growth,
    select_cases,
)
from _machine import describe, other_cpu_seconds, wait_until_idle

COPY = "copy"  # one-thread np.copyto: defines the floor
COPY2 = "copy-2t"  # the same bytes in two halves on two threads: stricter floor
PEERS = ("numpy", "torch", "jax", "tensorflow")
TF = "tensorflow"
# TensorFlow's interpreter: FASTLOSS_TF_PYTHON, else a venv named tf-venv beside the
# checkout (the layout BENCHMARKS.md describes)
DEFAULT_TF_PYTHON = os.environ.get(
    "FASTLOSS_TF_PYTHON",
    os.path.join(os.path.dirname(__file__), "..", "..", "tf-venv", "bin", "python"),
)

# The project's targets for the elementwise losses.
FLOOR_TARGET = 1.5  # elementwise: fastloss <= 1.5x the memory floor
PEER_TARGET = 2.0  # fastloss >= 2x faster than the fastest peer
NOISE_FRACTION = 0.02  # other CPU + steal above 2 % of wall time: NOISY
SLOW_CALL_S, SLOW_ROUNDS = 1.0, 5  # a case with a call over 1 s: at most 5 rounds
NO_WARMUP_S = 0.5  # calls this long need no warm-up (its ms-long stalls are noise)


# ---------------------------------------------------------------------------
# Timing


def sample(call, k: int) -> float:
    """Mean seconds per call over ``k`` back-to-back calls, GC off."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(k):
            call()
        return (time.perf_counter() - t0) / k
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(call, sample_s: float, first: float) -> int:
    """Calls per sample; ``first`` is one call's time already measured."""
    one = first if first >= sample_s else min(first, sample(call, 1), sample(call, 1))
    return max(1, min(10_000, round(sample_s / max(one, 1e-9))))


def copy_calls(src: np.ndarray, pool: ThreadPoolExecutor) -> dict:
    dst = np.empty_like(src)
    dst.fill(0)  # touched: no page faults in the timed copies
    s, d = src.reshape(-1), dst.reshape(-1)
    half = s.size // 2
    halves = [(d[:half], s[:half]), (d[half:], s[half:])]

    def copy2():
        for f in [pool.submit(np.copyto, dd, ss) for dd, ss in halves]:
            f.result()

    return {COPY: lambda: np.copyto(dst, src), COPY2: copy2}


def summarize(samples: list) -> dict:
    return {
        "median": statistics.median(samples),
        "lo": min(samples),
        "hi": max(samples),
        "samples": samples,
    }


def ratio(num: dict, den: dict) -> tuple[float, float, float]:
    """num / den: the medians' ratio and its range from the two min-max."""
    return (
        num["median"] / den["median"],
        num["lo"] / den["hi"],
        num["hi"] / den["lo"],
    )


def is_noisy(noise: dict) -> bool:
    return noise["other"] + noise["steal"] > NOISE_FRACTION * noise["wall"]


def measure_memory(call, memory) -> tuple:
    """(peak RSS growth around one plain call, bytes, how): the last two from
    the implementation's own measure. The RSS is a cross-check only: pooling
    allocators hide allocations from it, heap fragmentation inflates it."""
    rss = rss_peak_growth(call)
    try:
        return (rss, *memory())
    except Exception as exc:  # noqa: BLE001 - reported; the timing still stands
        return rss, None, f"failed: {type(exc).__name__}"


def run_case(case, impls, args, pool) -> dict:
    """One attempt at one case: prepare, check, time in rotation, then memory."""
    inputs = make_inputs(case)
    ref = reference(case, inputs)
    entries = {}  # name -> {"call", "memory", "check"}
    for impl in impls:
        if not is_available(impl, case):
            continue
        try:
            runner = impl.prepare(case, inputs)
            t0 = time.perf_counter()
            result = runner.call()
            first = time.perf_counter() - t0
            check = check_result(case, result, ref) or "ok"
            del result
        except Exception as exc:  # noqa: BLE001 - one broken peer must not stop all
            print(f"  {impl.name}: failed: {type(exc).__name__}: {exc}")
            continue
        entries[impl.name] = {
            "call": runner.call,
            "memory": runner.memory,
            "check": check,
            "first": first,
        }
    for name, call in copy_calls(inputs[0], pool).items():
        call()
        entries[name] = {"call": call, "memory": None, "check": "-"}
        entries[name]["first"] = sample(call, 1)
    for e in entries.values():
        e["k"] = calibrate(e["call"], args.sample_ms / 1e3, e["first"])
        e["samples"], e["after_idle"] = [], []
    names = list(entries)
    rounds = args.repeat
    if max(e["first"] for e in entries.values()) > SLOW_CALL_S:
        rounds = min(rounds, SLOW_ROUNDS)  # a slow peer: keep the run under ~10 min
    other0, steal0 = other_cpu_seconds()
    wall0 = time.perf_counter()
    for r in range(rounds):
        start = r % len(names)
        for name in names[start:] + names[:start]:
            # OpenMP pools (fastloss's libgomp, torch's own) and XLA's spin for
            # some ms after a call; on 2 cores that takes a core from the next.
            time.sleep(args.gap_ms / 1e3)
            e = entries[name]
            if e["first"] >= NO_WARMUP_S:
                e["samples"].append(sample(e["call"], e["k"]))
                e["after_idle"].append(e["samples"][-1])
                continue
            # After an idle gap the vCPUs need 10-20 ms of work before calls
            # run at their steady speed (ms-long stalls before that; measured
            # on the benchmark VM): warm up with the entry's own calls first.
            t0 = time.perf_counter()
            e["call"]()
            e["after_idle"].append(time.perf_counter() - t0)
            while time.perf_counter() - t0 < args.warmup_ms / 1e3:
                e["call"]()
            e["samples"].append(sample(e["call"], e["k"]))
    other1, steal1 = other_cpu_seconds()
    noise = {
        "wall": time.perf_counter() - wall0,
        "other": other1 - other0,
        "steal": steal1 - steal0,
    }
    results = {}
    for name, e in entries.items():
        res = summarize(e["samples"])
        res["after_idle"] = statistics.median(e["after_idle"])
        res.update(k=e["k"], check=e["check"], alloc=None, alloc_how="", rss=None)
        if e["memory"] is not None:
            mem = measure_memory(e["call"], e["memory"])
            res["rss"], res["alloc"], res["alloc_how"] = mem
        results[name] = res
    fl = results.get(REFERENCE_IMPL)
    for res in results.values():
        res["vs_fl"] = ratio(res, fl) if fl else None
    copy_bytes = 2 * inputs[0].nbytes
    needed = bytes_needed(case, inputs)
    return {
        "case": case.id,
        "rowwise": case.loss.rowwise,
        "bytes_needed": needed,
        "grad_bytes": grad_bytes(case, inputs),
        "floor": results[COPY]["median"] * needed / copy_bytes,
        "floor_2t": results[COPY2]["median"] * needed / copy_bytes,
        "bandwidth": copy_bytes / results[COPY]["median"],
        "noise": noise,
        "noisy": is_noisy(noise),
        "rounds": rounds,
        "impls": results,
    }


class Budget:
    """The total time all cases may spend waiting for an idle machine."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def left(self) -> float:
        return max(0.0, self.seconds)

    def wait_until_idle(self, quiet_s: float, most_s: float) -> bool:
        t0 = time.monotonic()
        try:
            return wait_until_idle(quiet_s, min(most_s, self.left()))
        finally:
            self.seconds -= time.monotonic() - t0


def measure(case, impls, args, pool, budget: Budget) -> dict:
    best = None
    for attempt in range(1 + args.retries):
        wait = min(args.wait_idle, budget.left())
        if wait > 0 and not budget.wait_until_idle(args.quiet_s, wait):
            print(f"  ({case.id}: machine still busy after {wait:.0f} s of waiting)")
        rec = run_case(case, impls, args, pool)
        rec["attempts"] = attempt + 1
        quiet = rec["noise"]["other"] + rec["noise"]["steal"]
        if best is None or quiet < best["noise"]["other"] + best["noise"]["steal"]:
            best = rec
        if not rec["noisy"]:
            break
        if attempt < args.retries and budget.left() > 0:
            print(f"  ({case.id} attempt {attempt + 1}: {noise_text(rec)}; again)")
        else:
            break
        gc.collect()
    return best


# ---------------------------------------------------------------------------
# Printing


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_ratio(r) -> str:
    return "-" if r is None else f"{r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})"


def fmt_mem(nbytes, grad_bytes: int) -> str:
    if nbytes is None:
        return "-"
    return f"{nbytes / 1e6:.1f} MB ({nbytes / grad_bytes:.1f}x)"


def noise_text(rec: dict) -> str:
    n = rec["noise"]
    verdict = "NOISY" if rec["noisy"] else "quiet"
    return (
        f"{n['wall']:.1f} s timed; other processes {n['other']:.2f} CPU-s,"
        f" steal {n['steal']:.2f} s: {verdict}"
    )


def print_case(rec: dict) -> None:
    mb = rec["bytes_needed"] / 1e6
    print(
        f"\n== {rec['case']}: floor {fmt_time(rec['floor'])} = {mb:.1f} MB needed /"
        f" {rec['bandwidth'] / 1e9:.1f} GB/s (1-thread copy);"
        f" 2-thread copy floor {fmt_time(rec['floor_2t'])}"
    )
    print(f"  machine: {noise_text(rec)}")
    print(
        f"  {'impl':<15}{'median':>10}  {'min - max':<21}{'k':>5}"
        f"  {'/ fastloss (range)':<20}{'/ floor':>8}  {'extra memory':<20}"
        f"{'RSS peak':<20}{'after idle':>11}  check"
    )
    for name, r in rec["impls"].items():
        lo_hi = f"{fmt_time(r['lo'])} - {fmt_time(r['hi'])}"
        print(
            f"  {name:<15}{fmt_time(r['median']):>10}  {lo_hi:<21}{r['k']:>5}"
            f"  {fmt_ratio(r['vs_fl']):<20}{r['median'] / rec['floor']:>8.2f}"
            f"  {fmt_mem(r['alloc'], rec['grad_bytes']):<20}"
            f"{fmt_mem(r['rss'], rec['grad_bytes']):<20}"
            f"{fmt_time(r['after_idle']):>11}  {r['check']}"
        )
    sys.stdout.flush()


def fastest_peer(rec: dict):
    """(name, ratio) of the peer with the smallest time / fastloss, each ratio
    taken in the process that measured that peer."""
    ratios = [
        (name, r["vs_fl"])
        for name, r in rec["impls"].items()
        if name in PEERS and r["vs_fl"] and r["check"] == "ok"
    ]
    return min(ratios, key=lambda nr: nr[1][0]) if ratios else (None, None)


def verdicts(rec: dict) -> list[str]:
    out = []
    fl = rec["impls"].get(REFERENCE_IMPL)
    name, r = fastest_peer(rec)
    if fl and name:
        out.append(f"peer {'met' if r[0] >= PEER_TARGET else 'MISSED'}")
    if fl and not rec["rowwise"]:
        ok = fl["median"] / rec["floor"] <= FLOOR_TARGET
        out.append(f"floor {'met' if ok else 'MISSED'}")
    if rec["noisy"] or rec.get("tf_noisy"):
        out.append("NOISY" + (" (tf)" if not rec["noisy"] else ""))
    return out


OVERVIEW_COLS = ("fastloss", "fastloss-fresh", "numpy", "torch", "jax", TF)


def print_overview(records: list) -> None:
    print(
        f"\n== Overview (medians; targets: fastloss >= {PEER_TARGET:g}x faster"
        f" than the fastest peer; elementwise <= {FLOOR_TARGET:g}x the floor)"
    )
    heads = ("fastloss", "fresh", "numpy", "torch", "jax", "tf-xla")
    print(
        f"  {'case':<24}"
        + "".join(f"{h:>10}" for h in heads)
        + f"  {'fastest peer / fastloss':<30}{'fl/floor':>9}{'(2t)':>6}  targets"
    )
    for rec in records:
        cells = [
            fmt_time(rec["impls"][n]["median"]) if n in rec["impls"] else "-"
            for n in OVERVIEW_COLS
        ]
        name, r = fastest_peer(rec)
        fl = rec["impls"].get(REFERENCE_IMPL)
        peer = f"{name} {fmt_ratio(r)}" if name else "-"
        fl_floor = fl["median"] / rec["floor"] if fl else float("nan")
        fl_floor2 = fl["median"] / rec["floor_2t"] if fl else float("nan")
        print(
            f"  {rec['case']:<24}"
            + "".join(f"{c:>10}" for c in cells)
            + f"  {peer:<30}{fl_floor:>9.2f}{fl_floor2:>6.2f}"
            f"  {', '.join(verdicts(rec))}"
        )
    print(
        "\n== Extra memory per call (MB; x the gradient's size;"
        " triplet: the three gradients')"
    )
    print(f"  {'case':<24}" + "".join(f"{h:>18}" for h in heads))
    for rec in records:
        cells = []
        for n in OVERVIEW_COLS:
            r = rec["impls"].get(n)
            cells.append(fmt_mem(r["alloc"], rec["grad_bytes"]) if r else "-")
        print(f"  {rec['case']:<24}" + "".join(f"{c:>18}" for c in cells))


def markdown(records: list) -> str:
    """The overview as Markdown tables (for BENCHMARKS.md)."""

    def ms(s: float) -> str:
        return f"{s * 1e3:.3g}" if s < 1 else f"{s * 1e3:.0f}"

    def cell(rec, n):
        r = rec["impls"].get(n)
        if not r:
            return "-"
        t = f"{ms(r['median'])} ({ms(r['lo'])}-{ms(r['hi'])})"
        return t if r["check"] in ("ok", "-") else f"{t} **{r['check']}**"

    heads = "fastloss `out=`", "fastloss fresh", "NumPy", "PyTorch", "JAX", "TF XLA"
    lines = [
        "Times in ms: median (min-max) of the samples.",
        "",
        "| case | " + " | ".join(heads) + " | fastest peer / fastloss"
        " | fastloss / floor (2-thread copy) | targets |",
        "|" + " --- |" * (len(heads) + 4),
    ]
    for rec in records:
        name, r = fastest_peer(rec)
        fl = rec["impls"].get(REFERENCE_IMPL)
        floor = (
            f"{fl['median'] / rec['floor']:.2f} ({fl['median'] / rec['floor_2t']:.2f})"
            if fl
            else "-"
        )
        lines.append(
            f"| `{rec['case']}` | "
            + " | ".join(cell(rec, n) for n in OVERVIEW_COLS)
            + f" | {name + ' ' + fmt_ratio(r) if name else '-'} | {floor}"
            f" | {', '.join(verdicts(rec))} |"
        )
    lines += [
        "",
        "Extra memory per call, MB (x the gradient's size; triplet: the three"
        " gradients').",
        "",
        "| case | floor, ms (1-thread copy) | " + " | ".join(heads) + " |",
        "|" + " --- |" * (len(heads) + 2),
    ]
    for rec in records:
        cells = []
        for n in OVERVIEW_COLS:
            r = rec["impls"].get(n)
            cells.append(fmt_mem(r["alloc"], rec["grad_bytes"]) if r else "-")
        lines.append(
            f"| `{rec['case']}` | {ms(rec['floor'])} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# TensorFlow in its own interpreter


def run_tf_worker(cases, args, budget: Budget) -> dict:
    """case id -> the worker's record, or {} when TensorFlow could not run."""
    python = args.tf_python
    if not python or not os.path.exists(python):
        print(f"\n(TensorFlow: no interpreter at {python!r}; skipped)")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tf.json")
        cmd = [
            python,
            os.path.abspath(__file__),
            "--worker",
            "--impls",
            f"{REFERENCE_IMPL},{TF}",
            "--cases",
            *[c.id for c in cases],
            "--repeat",
            str(args.repeat),
            "--sample-ms",
            str(args.sample_ms),
            "--gap-ms",
            str(args.gap_ms),
            "--warmup-ms",
            str(args.warmup_ms),
            "--quiet-s",
            str(args.quiet_s),
            "--wait-idle",
            str(args.wait_idle),
            "--wait-budget",
            str(budget.left()),
            "--retries",
            str(args.retries),
            "--json",
            out,
        ]
        print(f"\n== TensorFlow XLA, measured in {python} (with fastloss and copies)")
        sys.stdout.flush()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not os.path.exists(out):
            tail = "\n    ".join(proc.stderr.strip().splitlines()[-8:])
            print(f"  TensorFlow worker failed (exit {proc.returncode}):\n    {tail}")
            return {}
        with open(out) as f:
            return {rec["case"]: rec for rec in json.load(f)}


def merge_tf(records: list, tf_records: dict) -> None:
    for rec in records:
        tf_rec = tf_records.get(rec["case"])
        if not tf_rec or TF not in tf_rec["impls"]:
            continue
        rec["impls"][TF] = tf_rec["impls"][TF]
        rec["impls"][TF]["fastloss_there"] = tf_rec["impls"][REFERENCE_IMPL]["median"]
        rec["tf_noisy"] = tf_rec["noisy"]


def _version(module: str) -> str:
    return getattr(sys.modules.get(module), "__version__", "?")


# ---------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick", action="store_true", help="3 samples of ~5 ms, no retries"
    )
    p.add_argument(
        "--cases",
        nargs="+",
        default=None,
        help="loss names, shapes (4096x1000), case ids (huber:4194304),"
        " 'elementwise' or 'rowwise'; commas work too (default: every case)",
    )
    p.add_argument(
        "--impls",
        default=None,
        help="comma-separated subset of: " + ", ".join(i.name for i in IMPLS),
    )
    p.add_argument("--repeat", type=int, default=None, help="samples (default 7)")
    p.add_argument(
        "--sample-ms", type=float, default=None, help="one sample (default 20 ms)"
    )
    p.add_argument(
        "--gap-ms",
        type=float,
        default=50.0,
        help="idle before each sample, for spinning thread pools (default 50)",
    )
    p.add_argument(
        "--warmup-ms",
        type=float,
        default=30.0,
        help="untimed calls after the gap, before each sample (default 30)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        metavar="S",
        help="before each case wait up to S seconds for a quiet machine"
        " (default 120; 0: don't wait)",
    )
    p.add_argument(
        "--quiet-s",
        type=float,
        default=3.0,
        help="how long the machine must stay quiet (default 3 s)",
    )
    p.add_argument(
        "--wait-budget",
        type=float,
        default=300.0,
        metavar="S",
        help="all cases together wait at most S seconds (default 300)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=None,
        help="re-measure a NOISY case up to this many times (default 1)",
    )
    p.add_argument(
        "--tf-python",
        default=DEFAULT_TF_PYTHON,
        help="interpreter with TensorFlow (default %(default)s)",
    )
    p.add_argument("--no-tf", action="store_true", help="skip TensorFlow")
    p.add_argument("--json", default=None, help="write every record to this file")
    p.add_argument("--markdown", default=None, help="write the tables here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 7
    if args.sample_ms is None:
        args.sample_ms = 5.0 if args.quick else 20.0
    if args.retries is None:
        args.retries = 0 if args.quick else 1
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    tokens = [t for item in (args.cases or []) for t in item.split(",") if t]
    try:
        args.cases = select_cases(tokens) if tokens else list(CASES)
    except ValueError as exc:
        p.error(str(exc))
    if args.impls is not None:
        wanted = [s.strip() for s in args.impls.split(",") if s.strip()]
        unknown = set(wanted) - set(IMPL_BY_NAME)
        if unknown:
            p.error(f"unknown --impls: {', '.join(sorted(unknown))}")
        args.impls = wanted
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    impls = [
        i
        for i in IMPLS
        if (args.impls is None or i.name in args.impls)
        and (args.worker or i.name != TF)  # TF runs in its own interpreter
        and is_available(i)
    ]
    if args.worker:
        print("  " + ", ".join(f"{i.module} {_version(i.module)}" for i in impls))
    else:
        for line in describe():
            print(line)
        print(
            f"threads: {N_THREADS} for every implementation; float32;"
            f' reduction="mean"; {args.repeat} samples of ~{args.sample_ms:g} ms'
            f" per implementation and case, each after {args.gap_ms:g} ms idle and"
            f" {args.warmup_ms:g} ms of untimed calls"
        )
        for impl in impls:
            print(f"  {impl.name:<15}{impl.note}")
        missing = [i.name for i in IMPLS if i not in impls and i.name != TF]
        if missing:
            print("not running (not importable or not selected): " + ", ".join(missing))
    # Every ratio is against fastloss: a case whose fastloss function does not
    # import yet (another engineer may still be adding it) is skipped whole.
    cases = []
    for case in args.cases:
        if any(i.is_fastloss and not is_available(i, case) for i in impls):
            print(f"{case.id}: fastloss.{case.loss.func} does not import: skipped")
        else:
            cases.append(case)
    args.cases = cases
    budget = Budget(args.wait_budget)
    records = []
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for case in args.cases:
            rec = measure(case, impls, args, pool, budget)
            print_case(rec)
            records.append(rec)
            gc.collect()
    want_tf = args.impls is None or TF in args.impls
    if not args.worker and want_tf and not args.no_tf and args.cases:
        merge_tf(records, run_tf_worker(args.cases, args, budget))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    if args.worker:
        return 0
    print_overview(records)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(records))
    shapes = sorted({c.id.split(":")[1] for c in args.cases}, key=len)
    print(f"\nshapes: {', '.join(shapes)}; total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
