"""A/B bit-identity check of the public losses: one sha256 per call.

    python tools/bitcheck.py --write before.json      # with build A installed
    python tools/bitcheck.py --write after.json       # with build B installed
    python tools/bitcheck.py --compare before.json after.json

For a restructuring that must not change a single result (splitting translation
units, moving code between files, changing build flags): `--write` calls every
public functional loss and hashes what it returns, `--compare` lists the cases whose
hashes differ and exits 1 if any does (or if a case is in one file only).

The cases, all made from fixed seeds:

- "api": every public loss (each `fastloss.__all__` function with a `*_and_grad`
  twin, and `perplexity`), loss-only and `_and_grad`, float32 and float64, each
  reduction, without weights and with each weight argument the function takes
  (one at a time), `n_threads` 1 and 2, on every SIMD path this CPU has
  (`fastloss.set_simd`), over the shapes of benchmarks/summary.py (softmax
  cross-entropy, perplexity, linear cross-entropy) and benchmarks/losses_summary.py
  (the elementwise and row-wise losses). Shapes above `--max-elements` elements
  keep their last axis (the row length selects the kernels' code paths: short
  rows, chunks, rows split across threads) and lose rows, down to one row.
  Elementwise losses with 0/1 targets also run with mixed targets (soft values in
  half the elements), which take other per-block kernels.
- "fuzz": the committed fuzz inputs (fuzz/seeds, fuzz/regressions/*.bin) and the
  first `--fuzz-cases` generated inputs of `--fuzz-seed`, as fuzz/generate.py makes
  them, decoded by fuzz/_harness.py into a call (every option the fuzz target
  draws: layouts, dtypes, out=, SIMD path...) and run; a refused call hashes its
  exception's type and message.

A case has two hashes: of the result's structure, dtypes, shapes and bytes, and
the same with every NaN made one NaN, so that `--compare` can say when results
differ only in NaN bits (which any change of code generation may flip: x86 returns
the first operand's NaN, and a compiler may swap the operands of a + b); such a
difference still counts as one. The fastloss
imported is whichever the interpreter finds (run the tool from outside a source
tree whose extension is not built, or with that tree's venv); the JSON records
its path, version and configuration. Takes about 100 s on 2 cores with the
defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# benchmarks/summary.py's shapes (softmax cross-entropy, (rows, classes)) and
# benchmarks/losses_summary.py's (elementwise: any shape; row-wise: (rows, classes);
# triplet: (rows, features)). Kept here rather than imported, so the case list
# does not change when a benchmark's does: add shapes here deliberately.
SOFTMAX_SHAPES = [
    (65536, 10),
    (8192, 1000),
    (4096, 32000),
    (1024, 131072),
    (1, 1048576),
    (32, 10),
]
ELEMENTWISE_SHAPES = [(4 * 2**20,), (4096, 1000)]
ROWWISE_SHAPES = [(8192, 1000), (4096, 32000)]
TRIPLET_SHAPES = [(8192, 1000), (65536, 128)]
LINEAR_CE_HIDDEN = 64  # linear cross-entropy: hidden (rows, 64), weight (C, 64)
CTC_SHAPES = [(100, 32, 40)]  # (frames, sequences, classes), not scaled

# The family of each public loss: which inputs it takes and which shapes.
FAMILY = {
    "softmax_cross_entropy": "classes",
    "perplexity": "classes",
    "linear_cross_entropy": "linear",
    "softmax_focal_loss": "rowwise_classes",
    "kl_div_with_logits": "two_logits",
    "triplet_margin_loss": "triplet",
    "binary_cross_entropy": "probs",
    "binary_cross_entropy_with_logits": "logits",
    "sigmoid_focal_loss": "logits",
    "ctc_loss": "ctc",
}  # every other loss: "regression" (pred, target)
SHAPES = {
    "classes": SOFTMAX_SHAPES,
    # (C, 64) weights: the 131072 and 1048576 class shapes would be 8M to 64M
    # weights; those row lengths are the softmax cross-entropy cases' to cover.
    "linear": [s for s in SOFTMAX_SHAPES if s[1] <= 32000],
    "rowwise_classes": ROWWISE_SHAPES,
    "two_logits": ROWWISE_SHAPES,
    "triplet": TRIPLET_SHAPES,
    "ctc": CTC_SHAPES,
}
# Keyword arguments that take weights (one at a time: see weight_array).
WEIGHT_ARGS = ("weight", "sample_weight", "pos_weight", "class_weight", "alpha")
# Per-class weights renamed to class_weight (the old spelling still accepted, with
# a DeprecationWarning): where a function has class_weight, its case takes the old
# name's place in the order and the old name as its label, so that case ids,
# random draws and hashes pair up with a build from before the rename.
OLD_CLASS_WEIGHT = {"softmax_cross_entropy": "weight", "softmax_focal_loss": "alpha"}
REDUCTIONS = ("none", "mean", "sum")


def scaled(shape: tuple, max_elements: int) -> tuple:
    """`shape` with fewer rows (its last axis kept) when above max_elements."""
    if math.prod(shape) <= max_elements or len(shape) == 1 and shape[0] <= 1:
        return shape
    if len(shape) == 1:
        return (max_elements,)
    rows = max(1, max_elements // shape[-1])
    return (rows, shape[-1])


def public_losses() -> list[str]:
    """Every public function loss: names with a `_and_grad` twin, and perplexity."""
    import fastloss

    names = [
        n
        for n in fastloss.__all__
        if callable(getattr(fastloss, n, None)) and f"{n}_and_grad" in fastloss.__all__
    ]
    return names + ["perplexity"] if "perplexity" in fastloss.__all__ else names


def make_inputs(family: str, shape: tuple, dtype, rng, mixed: bool) -> tuple:
    """The positional arguments, C-contiguous, in `dtype`."""

    def normal(scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    def labels():
        y = (rng.random(shape) < 0.5).astype(dtype)
        if mixed:  # soft targets in the second half: hard, soft and mixed blocks
            flat = y.reshape(-1)
            half = flat.size // 2
            soft = rng.random(flat.size - half)
            flat[half:] = np.where(rng.random(soft.size) < 0.5, soft, flat[half:])
        return y

    if family == "regression":
        return normal(), normal()
    if family == "logits":
        return normal(2.0), labels()
    if family == "probs":
        return (1 / (1 + np.exp(-2.0 * rng.standard_normal(shape)))).astype(
            dtype
        ), labels()
    if family in ("classes", "rowwise_classes"):
        target = rng.integers(0, shape[-1], size=shape[:-1])
        target[:: max(2, shape[0] // 3)] = -100  # some ignored rows
        return normal(3.0), target
    if family == "two_logits":
        return normal(), normal()
    if family == "triplet":
        anchor = normal()
        return anchor, anchor + normal(0.1), normal()
    if family == "linear":
        rows, c = shape
        hidden = (rng.standard_normal((rows, LINEAR_CE_HIDDEN)) * 0.5).astype(dtype)
        weight = (rng.standard_normal((c, LINEAR_CE_HIDDEN)) * 0.5).astype(dtype)
        return hidden, weight, rng.integers(0, c, size=rows)
    if family == "ctc":
        t, n, c = shape
        lp = normal(2.0)
        lp -= np.log(np.exp(lp).sum(-1, keepdims=True))  # log-probabilities
        tl = rng.integers(0, 20, size=n)
        return lp, rng.integers(1, c, size=(n, 20)), rng.integers(t // 2, t + 1, n), tl
    raise ValueError(family)


def weight_array(arg: str, family: str, args: tuple, dtype, rng, label=None):
    """A positive weight for argument `arg` (with a few zeros where allowed; none
    for the argument formerly called alpha, `label`)."""
    x = args[0]
    if arg == "weight" and family not in ("classes", "linear"):
        shape = x.shape  # per element
    elif arg in ("weight", "class_weight", "alpha", "pos_weight"):
        shape = (args[1].shape[0],) if family == "linear" else (x.shape[-1],)
    else:  # sample_weight: one per row (or per element for elementwise losses)
        shape = x.shape[:-1] if x.ndim > 1 else x.shape
        if family == "linear":
            shape = (x.shape[0],)
        if family == "ctc":
            shape = (x.shape[1],)
    w = rng.uniform(0.25, 2.0, size=shape)
    if (label or arg) != "alpha":
        w.reshape(-1)[::7] = 0.0
    return w.astype(dtype)


def digest(obj, h, nan_blind=False) -> None:
    """Feeds the structure, dtypes, shapes and bytes of a result into h; with
    nan_blind, every NaN as the same NaN (sign and payload left out)."""
    if isinstance(obj, (tuple, list)):
        h.update(f"seq{len(obj)}(".encode())
        for o in obj:
            digest(o, h, nan_blind)
        h.update(b")")
    elif isinstance(obj, np.ndarray):
        h.update(f"nd {obj.dtype.str} {obj.shape}".encode())
        if nan_blind and obj.dtype.kind in "fc":
            obj = np.where(np.isnan(obj), np.array(np.nan, obj.dtype), obj)
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (float, np.floating)):
        h.update(
            b"f" + np.float64(np.nan if nan_blind and obj != obj else obj).tobytes()
        )
    elif isinstance(obj, BaseException):
        h.update(f"raised {type(obj).__name__}: {obj}".encode())
    else:
        h.update(f"{type(obj).__name__} {obj!r}".encode())


def sha(obj, nan_blind=False) -> str:
    h = hashlib.sha256()
    digest(obj, h, nan_blind)
    return h.hexdigest()


def api_cases(max_elements: int):
    """(case id, call) for the "api" cases."""
    import fastloss

    for name in public_losses():
        family = FAMILY.get(name, "regression")
        shapes = SHAPES.get(family, ELEMENTWISE_SHAPES)
        variants = [False, True] if family in ("logits", "probs") else [False]
        for shape0 in shapes:
            shape = shape0 if family == "ctc" else scaled(shape0, max_elements)
            for mixed in variants:
                for dtype in (np.float32, np.float64):
                    tag = f"{'x'.join(map(str, shape))}{'-mixed' if mixed else ''}"
                    seed = int.from_bytes(
                        hashlib.sha256(f"{name}{tag}".encode()).digest()[:4], "little"
                    )
                    rng = np.random.default_rng(seed)
                    args = make_inputs(family, shape, dtype, rng, mixed)
                    yield from _calls(fastloss, name, family, args, tag, dtype, rng)


def _calls(fastloss, name, family, args, tag, dtype, rng):
    dt = np.dtype(dtype).name
    funcs = [n for n in (name, f"{name}_and_grad") if hasattr(fastloss, n)]
    params = inspect.signature(getattr(fastloss, name)).parameters
    keyword = [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY]
    old = OLD_CLASS_WEIGHT.get(name) if "class_weight" in keyword else None
    weights = [(None, None)]
    for a in WEIGHT_ARGS:
        if a == old:
            weights.append(("class_weight", a))
        elif a in keyword and not (old and a == "class_weight"):
            weights.append((a, a))
    if ("alpha", "alpha") in weights and (family == "logits" or old):
        weights.remove(("alpha", "alpha"))  # a scalar alpha (sigmoid focal, ...)
    reductions = REDUCTIONS if "reduction" in params else (None,)
    for arg, warg in weights:
        kw0 = {}
        if arg is not None:
            kw0[arg] = weight_array(arg, family, args, dtype, rng, warg)
        for red in reductions:
            kw = dict(kw0) if red is None else {**kw0, "reduction": red}
            for fname in funcs:
                fn = getattr(fastloss, fname)
                for nt in (1, 2):
                    cid = (
                        f"api/{fname}/{tag}/{dt}/{warg or 'unweighted'}/"
                        f"{red or '-'}/t{nt}"
                    )

                    def call(fn=fn, kw=kw, nt=nt):
                        return fn(*args, **kw, n_threads=nt)

                    yield cid, call


def fuzz_cases(seed: int, n: int):
    """(case id, call) for the committed fuzz inputs and n generated ones."""
    sys.path.insert(0, str(ROOT / "fuzz"))
    import _harness
    import generate

    corpus = generate.committed_inputs()
    inputs = [(f"committed/{name}", data) for name, data in corpus]
    inputs += [
        (f"seed{seed}/{i}", generate.generated_input(seed, i, corpus)) for i in range(n)
    ]
    for cid, data in inputs:

        def call(data=data):
            case = _harness.decode(data)
            status, result, _ = _harness.call(case)
            return status, result

        yield f"fuzz/{cid}", call


def run_all(args) -> dict:
    import warnings

    import fastloss

    paths = fastloss.config()["simd_available"]
    before = fastloss.get_simd()
    hashes = {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            fastloss.set_simd(path)
            for cid, call in api_cases(args.max_elements):
                try:
                    res = call()
                except (ValueError, TypeError) as exc:
                    res = exc
                hashes[f"{cid}/{path}"] = sha(res), sha(res, nan_blind=True)
        fastloss.set_simd(before)
        # The fuzz inputs choose their own SIMD path (auto, baseline or avx2).
        for cid, call in fuzz_cases(args.fuzz_seed, args.fuzz_cases):
            res = call()
            hashes[cid] = sha(res), sha(res, nan_blind=True)
    fastloss.set_simd(None)
    return {
        "fastloss": fastloss.__file__,
        "version": fastloss.__version__,
        "config": fastloss.config(),
        "options": {
            "max_elements": args.max_elements,
            "fuzz_seed": args.fuzz_seed,
            "fuzz_cases": args.fuzz_cases,
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "hashes": hashes,
    }


def compare(a_path: str, b_path: str) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    if a["options"] != b["options"]:
        print(f"note: options differ: {a['options']} vs {b['options']}")
    ha, hb = a["hashes"], b["hashes"]
    differ = sorted(k for k in ha.keys() & hb.keys() if ha[k][0] != hb[k][0])
    nan_only = [k for k in differ if ha[k][1] == hb[k][1]]
    only_a, only_b = sorted(ha.keys() - hb.keys()), sorted(hb.keys() - ha.keys())
    for k in differ:
        print(
            f"differs: {k}"
            + (" (in the sign or payload of NaNs only)" * (k in nan_only))
        )
    for k in only_a:
        print(f"only in {a_path}: {k}")
    for k in only_b:
        print(f"only in {b_path}: {k}")
    same = len(ha.keys() & hb.keys()) - len(differ)
    print(
        f"bitcheck: {same} identical, {len(differ)} differ ({len(nan_only)} in NaN "
        f"bits only), {len(only_a)} only in "
        f"{a_path}, {len(only_b)} only in {b_path} "
        f"(A: {a['fastloss']}, B: {b['fastloss']})"
    )
    return 1 if differ or only_a or only_b else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="OUT.json", help="hash every case into this")
    mode.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"))
    ap.add_argument("--max-elements", type=int, default=2**18)
    ap.add_argument("--fuzz-seed", type=int, default=1)
    ap.add_argument("--fuzz-cases", type=int, default=3000, help="generated inputs")
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    out = run_all(args)
    Path(args.write).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(
        f"bitcheck: {len(out['hashes'])} cases in {out['seconds']} s "
        f"({out['fastloss']}, SIMD paths {out['config']['simd_available']}) "
        f"-> {args.write}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
