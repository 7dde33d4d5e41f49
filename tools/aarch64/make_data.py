"""Writes tools/aarch64/expected.npz: the stored data of tools/check_aarch64.sh.

    python3 tools/aarch64/make_data.py NATIVE_OUTPUT [--compiler TEXT] [--flags TEXT]

NATIVE_OUTPUT is the output of the kernel driver (tools/aarch64/driver.c) built
for x86-64 and run on the baseline SIMD path; `tools/check_aarch64.sh --regenerate`
builds, runs and calls this. For every stored result the file holds

- the x86-64 result, bit for bit (in its dtype);
- the float64 twin's value and scale (the sum of the absolute values of the terms,
  from which compare.py derives the tolerance), computed here in float64 from the
  inputs the driver wrote, with the test suite's twins (tests/_reference.py,
  _reference_binary.py, _reference_regression.py, _reference_rowwise.py). The
  optimizer steps have no twin module: their float64 twin is PyTorch's update rule
  written out below (as tests/test_optim_kernels.py does), and their x86-64
  results must equal, bit for bit, the NumPy reference's operations
  (fastloss/nn/optimizers.py, `_update_numpy`) replayed here in the input dtype;
- per case the inputs' sha256, the expected status and invariant counts (0).

Where a twin's scale is not finite but its value is (a term's scale inf or NaN
beside a zero coefficient: BCE's ``(1 + |y'|) softplus(x)`` at ``x = inf`` where
``1 - y' = 0``; the focal twin's exp of logit gaps past 709), the scale is taken
as ``|value|``: the result must then match the twin to RTOL relative (a zero
exactly, to FLOOR). Their number is printed.

Refuses to write (exit 1) when the x86-64 results fail their own checks against
the twins (compare.py's). To keep the file small (< 1 MB), the twins of float32
results are stored rounded to float32 (a relative 6e-8, which compare.py adds to
the tolerance: 1/170 of the float32 RTOL), those of float64 results and of the
float64 losses as float64, and the scales as the top 16 bits of their float64
(its range; 4 mantissa bits, so a tolerance at most 1/16 looser) rounded up. Arrays
are packed per result type: ``x86_f32``, ``twin_f32``, ``scale_f32`` share one layout,
and so do the ``*_f64`` ones; ``index`` (UTF-8 JSON) gives each field's type,
offset and count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

import compare as cmp
import numpy as np

sys.path.insert(0, str(cmp.ROOT / "tests"))
import _reference as ref_sce  # noqa: E402
import _reference_binary as ref_bin  # noqa: E402
import _reference_regression as ref_reg  # noqa: E402
import _reference_rowwise as ref_rw  # noqa: E402

# src_c/fl_elementwise.h and fl_rowwise.h
EW_REGRESSION = {0: "mse", 2: "l1", 3: "huber", 4: "smooth_l1", 5: "log_cosh"}
EW_BCE_LOGITS, EW_BCE_PROB, EW_FOCAL = 1, 6, 7
RW_FOCAL, RW_KL_LOGITS, RW_KL_PROBS, RW_TRIPLET = 0, 1, 2, 3


def _f(a):
    return None if a is None else np.asarray(a, np.float64)


def _floats(text):
    return [float(v) for v in text.split(",")]


def _pair(result_value, result_scale):
    return np.atleast_1d(np.asarray(result_value, np.float64)), np.atleast_1d(
        np.abs(np.asarray(result_scale, np.float64))
    )


# ---- twins per family: {field: (value, scale)} -----------------------------------


def twin_sce(meta, a):
    n, c = int(meta["n"]), int(meta["c"])
    x = _f(a["in.x"]).reshape(n, c)
    soft = meta["soft"] == "1"
    target = _f(a["in.p"]).reshape(n, c) if soft else a["in.y"]
    opts = {
        "weight": _f(a.get("in.w")),
        "sample_weight": _f(a.get("in.sw")),
        "ignore_index": int(meta["ignore_index"]),
        "label_smoothing": float(meta["label_smoothing"]),
        "z_loss": float(meta["z_loss"]),
    }
    red = "mean" if meta["mean"] == "1" else "sum"
    r = ref_sce.reference(x, target, reduction=red, **opts)
    rn = ref_sce.reference(x, target, reduction="none", **opts)
    s = np.ones(n) if opts["sample_weight"] is None else opts["sample_weight"]
    if soft:
        terms = s
    else:
        w = np.ones(c) if opts["weight"] is None else opts["weight"]
        keep = a["in.y"] != opts["ignore_index"]
        terms = s[keep] * w[a["in.y"][keep]]
    return {
        "out.loss": _pair(r.loss, r.loss_scale),
        "out.den": _pair(np.sum(terms), np.sum(np.abs(terms))),
        "out.grad": _pair(r.grad.reshape(-1), r.grad_scale.reshape(-1)),
        "out.rows": _pair(rn.loss, rn.loss_scale),
    }


def twin_ew(meta, a):
    kind = int(meta["kind"])
    shape = tuple(int(v) for v in meta["shape"].split(","))
    dtype = cmp.NP[meta["dtype"]]
    p = _floats(meta["p"])
    x = _f(a["in.x"]).reshape(shape)
    y = _f(a["in.y"]).reshape(shape)
    opts = {
        "weight": None if "in.w" not in a else _f(a["in.w"]).reshape(shape),
        "sample_weight": _f(a.get("in.sw")),
    }
    if kind in EW_REGRESSION:
        name = EW_REGRESSION[kind]
        params = {"huber": {"delta": p[0]}, "smooth_l1": {"beta": p[0]}}.get(name, {})

        def run(red):
            return ref_reg.reference(name, x, y, reduction=red, **opts, **params)

    else:
        opts["dtype"] = dtype
        if kind == EW_BCE_LOGITS:
            fn = ref_bin.binary_cross_entropy_with_logits
            opts.update(pos_weight=_f(a.get("in.pw")), label_smoothing=p[0])
        elif kind == EW_BCE_PROB:
            fn = ref_bin.binary_cross_entropy
            opts.update(epsilon=p[0], label_smoothing=p[1])
        elif kind == EW_FOCAL:
            fn = ref_bin.sigmoid_focal_loss
            opts.update(alpha=p[0], gamma=p[1])
        else:
            raise ValueError(f"elementwise kind {kind} has no twin")

        def run(red):
            return fn(x, y, reduction=red, **opts)

    r = run("mean" if meta["mean"] == "1" else "sum")
    rn = run("none")
    return {
        "out.loss": _pair(r.loss, r.loss_scale),
        "out.grad": _pair(np.reshape(r.grad, -1), np.reshape(r.grad_scale, -1)),
        "out.elems": _pair(np.reshape(rn.loss, -1), np.reshape(rn.loss_scale, -1)),
    }


def twin_rw(meta, a):
    kind = int(meta["kind"])
    n, c = int(meta["n"]), int(meta["c"])
    p = _floats(meta["p"])
    x = _f(a["in.x"]).reshape(n, c)
    sw = _f(a.get("in.sw"))
    s = np.ones(n) if sw is None else sw
    red = "mean" if meta["mean"] == "1" else "sum"
    if kind == RW_FOCAL:
        opts = {
            "gamma": p[0],
            "alpha": _f(a.get("in.cw")),
            "ignore_index": int(meta["ignore_index"]),
            "sample_weight": sw,
        }

        def run(r):
            return ref_rw.softmax_focal_loss_ref(x, a["in.y"], reduction=r, **opts)

        terms = s[a["in.y"] != opts["ignore_index"]]
    elif kind in (RW_KL_LOGITS, RW_KL_PROBS):
        x2 = _f(a["in.x2"]).reshape(n, c)
        opts = {
            "temperature": p[0],
            "teacher_probs": kind == RW_KL_PROBS,
            "sample_weight": sw,
        }

        def run(r):
            return ref_rw.kl_div_with_logits_ref(x, x2, reduction=r, **opts)

        terms = s
    elif kind == RW_TRIPLET:
        x2 = _f(a["in.x2"]).reshape(n, c)
        x3 = _f(a["in.x3"]).reshape(n, c)
        opts = {"margin": p[0], "p": p[1], "eps": p[2], "swap": p[3] != 0}
        h = ref_rw.triplet_hinge_ref(x, x2, x3, **opts)
        # the hinge's kink: a row that close to it could be active on one side and
        # not on the other; the inputs are fixed, so this only guards new ones
        if np.any(np.abs(h) < 1e-3 * (1 + np.abs(p[0]))):
            raise ValueError(f"triplet inputs too near the hinge's kink: {h}")

        def run(r):
            return ref_rw.triplet_margin_loss_ref(
                x, x2, x3, reduction=r, sample_weight=sw, **opts
            )

        terms = s
    else:
        raise ValueError(f"row-wise kind {kind} has no twin")
    r = run(red)
    rn = run("none")
    grads = r.grad if isinstance(r.grad, tuple) else (r.grad,)
    scales = r.grad_scale if isinstance(r.grad_scale, tuple) else (r.grad_scale,)
    out = {
        "out.loss": _pair(r.loss, r.loss_scale),
        "out.den": _pair(np.sum(terms), np.sum(np.abs(terms))),
        "out.rows": _pair(rn.loss, rn.loss_scale),
    }
    for name, g, sc in zip(("out.grad", "out.grad2", "out.grad3"), grads, scales):
        out[name] = _pair(g.reshape(-1), sc.reshape(-1))
    return out


def _opt_inputs(meta, a):
    n, steps = int(meta["n"]), int(meta["steps"])
    return n, steps, a["in.g"].reshape(steps, n), a["in.coef"].reshape(steps, 6)


def twin_adam(meta, a):
    """PyTorch's Adam(W) step in float64 (tests/test_optim_kernels.py's formula),
    with the scales: |terms| carried through the steps."""
    n, steps, gs, coefs = _opt_inputs(meta, a)
    p, sp = _f(a["in.p"]), np.abs(_f(a["in.p"]))
    m, v, sm, sv = (np.zeros(n) for _ in range(4))
    for g, (decay, b1, b2, sqrt_bc2, eps, step) in zip(_f(gs), coefs):
        p, sp = p * decay, sp * abs(decay)
        m, sm = b1 * m + (1.0 - b1) * g, b1 * sm + (1.0 - b1) * np.abs(g)
        v, sv = b2 * v + (1.0 - b2) * g * g, b2 * sv + (1.0 - b2) * g * g
        den = np.sqrt(v) / sqrt_bc2 + eps
        p, sp = p - step * m / den, sp + step * sm / den
    return {"out.p": (p, sp), "out.m": (m, sm), "out.v": (v, sv)}


def twin_sgd(meta, a):
    """PyTorch's SGD step in float64 (buf: momentum, nesterov)."""
    n, steps, gs, _ = _opt_inputs(meta, a)
    lr, mu = float(meta["lr"]), float(meta["momentum"])
    nesterov = meta["nesterov"] == "1"
    p, sp = _f(a["in.p"]), np.abs(_f(a["in.p"]))
    buf, sb = np.zeros(n), np.zeros(n)
    for g in _f(gs):
        if mu == 0:
            p, sp = p - lr * g, sp + lr * np.abs(g)
            continue
        buf, sb = mu * buf + g, mu * sb + np.abs(g)
        d, sd = (g + mu * buf, np.abs(g) + mu * sb) if nesterov else (buf, sb)
        p, sp = p - lr * d, sp + lr * sd
    out = {"out.p": (p, sp)}
    if mu > 0:
        out["out.m"] = (buf, sb)
    return out


def replay_optimizer(meta, a):
    """fastloss/nn/optimizers.py's `_update_numpy`, operation by operation, in the
    input dtype, with the coefficients the fused kernel takes (rounded to it by
    NumPy as they are by the kernel): the kernel's bits on a path without FMA."""
    n, steps, gs, coefs = _opt_inputs(meta, a)
    dt = a["in.p"].dtype
    p = a["in.p"].copy()
    m, v = np.zeros(n, dt), np.zeros(n, dt)
    tmp = np.empty(n, dt)
    tiny = np.finfo(dt).tiny
    if meta["family"] == "adam":
        # Python floats, as the optimizers hold them: NumPy rounds such a scalar
        # to the array's dtype (a NumPy float64 scalar would compute in float64)
        for g, cf in zip(gs, coefs):
            decay, b1, b2, sqrt_bc2, eps, step = (float(v) for v in cf)
            if decay != 1.0:
                p *= decay
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            m[np.abs(m) < tiny] = 0
            v[v < tiny] = 0
            np.sqrt(v, out=tmp)
            tmp /= sqrt_bc2
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp
        return {"out.p": p, "out.m": m, "out.v": v}
    lr, mu = float(meta["lr"]), float(meta["momentum"])
    for g in gs:
        if not mu:
            np.multiply(g, lr, out=tmp)
        else:
            m *= mu
            m += g
            if meta["nesterov"] == "1":
                np.multiply(m, mu, out=tmp)
                tmp += g
                tmp *= lr
            else:
                np.multiply(m, lr, out=tmp)
        p -= tmp
    return {"out.p": p, "out.m": m} if mu else {"out.p": p}


def twin_vexp(meta, a):
    x = _f(a["in.x"])
    with np.errstate(over="ignore"):
        e = np.exp(x)
    return {"out.y": (e, np.abs(e))}


TWINS = {
    "sce": twin_sce,
    "ew": twin_ew,
    "rw": twin_rw,
    "adam": twin_adam,
    "sgd": twin_sgd,
    "vexp": twin_vexp,
}


def build(output, compiler="", flags=""):
    """(index, arrays) for expected.npz from a native driver output."""
    cases = cmp.read_output(output)
    index = {
        "created": datetime.date.today().isoformat(),
        "compiler": compiler,
        "flags": flags,
        "cases": {},
    }
    packed = {f"{w}_{t}": [] for w in ("x86", "twin", "scale") for t in ("f32", "f64")}
    sizes = {"f32": 0, "f64": 0}
    problems = []
    fallbacks = 0
    for name, case in cases.items():
        meta, a = case["meta"], case["arrays"]
        entry = {
            "meta": meta,
            "inputs_sha256": cmp.inputs_digest(a),
            "ints": {},
            "fields": {},
        }
        index["cases"][name] = entry
        for field, arr in a.items():
            if field.startswith("chk.") or field == "out.status":
                entry["ints"][field] = 0
                if int(arr[0]) != 0:
                    problems.append(f"{name}: {field} = {int(arr[0])}")
        if meta.get("store") != "1":
            continue
        twins = TWINS[meta["family"]](meta, a)
        if meta["family"] in ("adam", "sgd"):
            for field, want in replay_optimizer(meta, a).items():
                if a[field].tobytes() != want.tobytes():
                    k = int(np.flatnonzero(a[field] != want)[0])
                    problems.append(
                        f"{name}: {field}[{k}] = {a[field][k]!r}, the NumPy "
                        f"reference's operations give {want[k]!r}"
                    )
        if set(twins) != {f for f in a if f.startswith("out.") and f != "out.status"}:
            raise ValueError(f"{name}: twin fields {sorted(twins)} vs {sorted(a)}")
        for field, (value, scale) in twins.items():
            got = a[field]
            value = np.asarray(value, np.float64).reshape(-1)
            scale = np.asarray(scale, np.float64).reshape(-1)
            if value.shape != got.shape:
                raise ValueError(f"{name}: {field}: twin shape {value.shape}")
            typ = "f32" if got.dtype.itemsize == 4 else "f64"
            entry["fields"][field] = {
                "type": typ,
                "count": int(got.size),
                "offset": sizes[typ],
            }
            sizes[typ] += got.size
            packed["x86_" + typ].append(got)
            odd = np.isfinite(value) & ~np.isfinite(scale)
            scale = np.where(odd, np.abs(value), scale)
            fallbacks += int(odd.sum())
            with np.errstate(over="ignore"):
                packed["twin_" + typ].append(value.astype(got.dtype))
            packed["scale_" + typ].append(top16_up(scale))
    arrays = {k: np.concatenate(v) for k, v in packed.items()}
    index["scale_fallbacks"] = fallbacks
    return index, arrays, problems


def top16_up(v):
    """Non-negative float64 values as the top 16 bits of their float64 (uint16),
    rounded up: a tolerance made from them is never tighter than from the exact
    values. (inf stays inf; the largest finite values round up to inf too.)"""
    bits = np.asarray(v, "<f8").view("<u8")
    top = (bits >> np.uint64(48)).astype("<u2")
    cut = (bits & np.uint64(0xFFFFFFFFFFFF)) != 0
    return np.where(cut, top + np.uint16(1), top).astype("<u2")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="the native x86-64 driver's output")
    ap.add_argument("--compiler", default="", help="recorded in the data")
    ap.add_argument("--flags", default="", help="recorded in the data")
    ap.add_argument("--dest", default=str(cmp.EXPECTED))
    args = ap.parse_args(argv)
    index, arrays, problems = build(args.output, args.compiler, args.flags)
    if problems:
        for msg in problems:
            print("make_data: " + msg, file=sys.stderr)
        print(
            "make_data: x86-64 results fail their invariants; nothing written",
            file=sys.stderr,
        )
        return 1
    tmp = args.dest + ".tmp.npz"
    text = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    np.savez_compressed(tmp, index=np.frombuffer(text, np.uint8), **arrays)
    # the x86-64 results against their own twins, through compare.py, before
    # they replace the stored data
    failures, text, _ = cmp.compare(args.output, tmp, exact=True, label="x86-64")
    if failures:
        os.remove(tmp)
        for msg in failures[:40]:
            print("make_data: " + msg, file=sys.stderr)
        print(
            "make_data: x86-64 results fail the twin checks; nothing written",
            file=sys.stderr,
        )
        return 1
    os.replace(tmp, args.dest)
    n = sum(e["count"] for c in index["cases"].values() for e in c["fields"].values())
    print(text)
    print(
        f"make_data: {index['scale_fallbacks']} twin scales not finite where the "
        "value is: |value| used"
    )
    print(
        f"make_data: wrote {args.dest} ({os.path.getsize(args.dest) / 1e6:.2f} MB, "
        f"{len(index['cases'])} cases, {n} values)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
