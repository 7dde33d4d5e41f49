"""Checks the output of the kernel driver (tools/aarch64/driver.c) against the
stored x86-64 results and float64 twins (tools/aarch64/expected.npz).

    python3 tools/aarch64/compare.py OUTPUT [--label NAME] [--expected FILE]
                                     [--exact | --built-with COMPILER FLAGS]

Fails (exit 1, naming what differs) when

1. a case or field is missing or extra, or the driver made other input bits than
   the stored run (the inputs come from integer arithmetic and single IEEE
   operations, so every architecture must make the same bits);
2. a kernel returned a non-zero status, or an invariant count ``chk.*`` (forward
   only vs fused, 2 threads vs 1, in place vs apart: bit for bit) is not 0;
3. a result is off its float64 twin (tests/_reference*.py, stored): NaN exactly
   where the twin is NaN, the twin's infinities exactly, elsewhere
   ``|got - twin| <= RTOL * scale + FLOOR``, with ``scale`` the twin's sum of the
   absolute values of the terms that make the result and ``RTOL`` / ``FLOOR`` the
   test suite's (tests/_reference.py: 1e-5 / 1e-35 for float32, 1e-10 / 1e-300
   for float64; the regression losses tests/_reference_regression.py's 1e-6 and
   1e-12), plus ``2^-24 |twin|`` for a float32 result, whose twin is stored
   rounded to float32. The kernels' exp: within ``VEXP_ULP`` ulp of the float64 exp (as
   tests/test_vexp.py), or ``FLOOR`` below the normal range;
4. a result is off the stored x86-64 result by more than ``ARCH_ULP`` units of
   ``u * max(scale, |x86|)`` (``u`` the unit roundoff of the case's dtype,
   2^-24 or 2^-53), plus 4 of the output dtype's smallest subnormals; NaN and
   infinities must match as in 3. With ``--exact``, or ``--built-with`` naming
   the compiler and flags the stored data was made with (the native x86-64 run
   against its own stored results), every bit must match instead; a native run by
   another compiler or flags gets the bound above. The optimizer steps must
   match every bit on any architecture (src_c/fl_optim_impl.h turns multiply-add
   contraction off, so they are the NumPy reference's bits).

Why ``ARCH_ULP = 16``: the x86-64 baseline path has no FMA, while aarch64 gcc
contracts ``a * b + c`` into one fused operation under ``-ffp-contract=fast``
(KERNEL_FLAGS in setup.py). Each contraction skips one rounding, a change of at
most half an ulp of the product it absorbs, whose size is bounded by the result's
scale; a result goes through a few dozen such operations at most (the exp
polynomial and range reduction, log, the float64 sums, the rescale), mostly with
products well below the scale. 16 ``u * scale`` leaves room for that and is still
10x tighter than the twin tolerance for float32 (1e-5 is 168 ``u``). The measured
maxima are printed (docs/BUILDING.md records the last ones). A bug that only one
architecture has (a vector path reading the wrong lanes, a wrong row, a lost sum)
is off by far more than that: it shows as thousands of ``u * scale`` or as a
twin mismatch.

Ulp distances (in the case dtype, at the x86-64 value) are printed too: where a
result is not much smaller than its scale (``|x| >= scale / 4``) they stay at a
few ulp; they are large only for entries much smaller than their scale (a
gradient entry where ``alpha * e - beta`` cancels), where an ulp of the entry is
not the unit the error lives in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXPECTED = HERE / "expected.npz"

sys.path.insert(0, str(ROOT / "tests"))
import _reference  # noqa: E402  (plain NumPy; never imports fastloss)
import _reference_regression  # noqa: E402

ARCH_ULP = 16.0
VEXP_ULP = 4.0  # tests/test_vexp.py allows 3 against the exact exp; +1 for np.exp's
UNIT = {"f32": 2.0**-24, "f64": 2.0**-53}
NP = {"f32": np.dtype("<f4"), "f64": np.dtype("<f8"), "i64": np.dtype("<i8")}
# elementwise kinds of src_c/fl_elementwise.h with the regression twins
REGRESSION_KINDS = {0, 2, 3, 4, 5}


# ---- the driver's output ---------------------------------------------------------


def read_output(path):
    """{case: {"meta": {key: str}, "arrays": {field: ndarray}}} from a driver file."""
    data = Path(path).read_bytes()
    cases, cur, pos = {}, None, 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise ValueError(f"{path}: truncated (no end mark)")
        line = data[pos:end].decode("ascii")
        pos = end + 1
        if line.startswith("#") or not line:
            continue
        if line == "E":
            return cases
        tag, rest = line.split(" ", 1)
        if tag == "C":
            name, *items = rest.split(" ")
            if name in cases:
                raise ValueError(f"{path}: case {name} twice")
            cur = cases[name] = {
                "meta": dict(item.split("=", 1) for item in items),
                "arrays": {},
            }
        elif tag == "A" and cur is not None:
            field, typ, count = rest.split(" ")
            dt = NP[typ]
            n = int(count)
            cur["arrays"][field] = np.frombuffer(
                data, dtype=dt, count=n, offset=pos
            ).copy()
            pos += n * dt.itemsize
            if data[pos : pos + 1] != b"\n":
                raise ValueError(f"{path}: bad record {field} of {name}")
            pos += 1
        else:
            raise ValueError(f"{path}: unexpected line {line!r}")


def inputs_digest(arrays):
    """sha256 over the input fields (names, types and bytes), in field order."""
    h = hashlib.sha256()
    for field in sorted(arrays):
        if field.startswith("in."):
            a = arrays[field]
            h.update(f"{field}:{a.dtype.str}:{a.size};".encode())
            h.update(a.tobytes())
    return h.hexdigest()


# ---- the stored data -------------------------------------------------------------


def load_expected(path=EXPECTED):
    """(index, arrays): the JSON index and the packed value arrays."""
    with np.load(path, allow_pickle=False) as z:
        index = json.loads(z["index"].tobytes().decode())
        arrays = {k: z[k] for k in z.files if k != "index"}
    return index, arrays


def field_values(entry, arrays):
    """(x86 result, twin, scale) of one stored field, the last two as float64."""
    o, n, t = entry["offset"], entry["count"], entry["type"]
    return (
        arrays["x86_" + t][o : o + n],
        arrays["twin_" + t][o : o + n].astype(np.float64),
        from_top16(arrays["scale_" + t][o : o + n]),
    )


def from_top16(bits):
    """The top 16 bits of float64 values (uint16, make_data.top16_up) as float64."""
    return (bits.astype("<u8") << np.uint64(48)).view("<f8")


def tolerance_table(family, kind, dtype):
    """(rtol, floor) of the test suite for this family and case dtype."""
    ref = (
        _reference_regression
        if family == "ew" and kind in REGRESSION_KINDS
        else _reference
    )
    return float(ref.RTOL[NP[dtype]]), float(ref.FLOOR[NP[dtype]])


# ---- comparisons -----------------------------------------------------------------


def special_mismatch(got, want):
    """Positions where NaN-ness or infinities (with sign) differ."""
    g = np.asarray(got, np.float64)
    w = np.asarray(want, np.float64)
    bad = np.isnan(g) != np.isnan(w)
    inf = np.isinf(g) | np.isinf(w)
    bad |= inf & ~((g == w) | (np.isnan(g) & np.isnan(w)))
    return bad


def twin_check(got, twin, scale, rtol, floor, vexp=False):
    """(bad mask, err / tol) of a result against its twin. A float32 result's twin
    is stored rounded to float32: that rounding (2^-24 relative) is added to the
    tolerance."""
    got = np.asarray(got)
    g = got.astype(np.float64)
    bad = special_mismatch(g, twin)
    fin = np.isfinite(g) & np.isfinite(twin)
    tw = np.where(fin, twin, 0.0)
    err = np.where(fin, np.abs(g - tw), 0.0)
    if vexp:
        tol = VEXP_ULP * np.spacing(np.abs(tw).astype(got.dtype)) + floor
    else:
        stored = 2.0**-24 * np.abs(tw) if got.dtype.itemsize == 4 else 0.0
        tol = rtol * scale + floor + stored
    ratio = np.where(fin, err / tol, 0.0)
    return bad | ~(ratio <= 1.0), ratio  # a NaN tolerance fails too


def arch_check(got, x86, scale, dtype):
    """(bad mask, error in units of u * max(scale, |x86|), error in ulps of the
    case dtype at |x86|, identical) of a result against the stored x86-64 one."""
    g = np.asarray(got)
    b = np.asarray(x86)
    identical = g.view(np.uint8).reshape(g.size, -1)
    identical = (identical == b.view(np.uint8).reshape(b.size, -1)).all(axis=1)
    bad = special_mismatch(g, b)
    g64, b64 = g.astype(np.float64), b.astype(np.float64)
    fin = np.isfinite(g64) & np.isfinite(b64)
    bf = np.where(fin, b64, 0.0)
    err = np.where(fin, np.abs(g64 - bf), 0.0)
    tiny = float(np.finfo(g.dtype).smallest_subnormal)
    denom = UNIT[dtype] * np.maximum(scale, np.abs(bf))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a tolerance of 0 (structural zeros: ignored rows, masked classes) means
        # equal
        scaled = np.where(err == 0, 0.0, np.where(denom > 0, err / denom, np.inf))
        ulps = err / np.spacing(np.abs(bf).astype(NP[dtype])).astype(np.float64)
    bad |= fin & ~(err <= ARCH_ULP * denom + 4 * tiny)  # NaN fails too
    return bad, scaled, ulps, identical


class Stats:
    """Maxima per (family, dtype) for the summary table."""

    HEAD = (
        f"{'family':<10}{'elements':>9}{'bit-same':>10}{'max ulp':>11}"
        f"{'(|x|>=s/4)':>11}{'max u*s':>9}{'twin err/tol':>14}"
    )

    def __init__(self):
        self.rows = {}

    def add(self, key, n, same, ulps, ulps_well, scaled, twin_ratio):
        r = self.rows.setdefault(key, [0, 0, 0.0, 0.0, 0.0, 0.0])
        r[0] += n
        r[1] += same
        for j, v in enumerate((ulps, ulps_well, scaled, twin_ratio), 2):
            r[j] = max(r[j], float(np.max(v, initial=0.0)))

    @staticmethod
    def line(key, r):
        n, same, ulps, well, scaled, ratio = r
        return (
            f"{key:<10}{n:>9}{same / max(n, 1):>10.1%}{ulps:>11.3g}{well:>11.3g}"
            f"{scaled:>9.3g}{ratio:>14.3g}"
        )

    def table(self, label):
        lines = [f"{self.HEAD}   ({label} vs stored x86-64)"]
        total = [0, 0, 0.0, 0.0, 0.0, 0.0]
        for key in sorted(self.rows):
            r = self.rows[key]
            lines.append(self.line(key, r))
            total = [
                t + v if j < 2 else max(t, v) for j, (t, v) in enumerate(zip(total, r))
            ]
        lines.append(self.line("all", total))
        lines.append(
            "(ulp of the case dtype; s: the twin's scale, u its unit roundoff: "
            "compare.py's docstring)"
        )
        return "\n".join(lines), total


def compare(output, expected=EXPECTED, exact=False, label="this run", show=8):
    """Runs every check; returns (failures, summary text, totals)."""
    got_cases = read_output(output)
    index, arrays = load_expected(expected)
    failures = []

    def fail(msg):
        failures.append(msg)

    want_cases = index["cases"]
    for name in sorted(set(got_cases) ^ set(want_cases)):
        where = "stored data" if name not in want_cases else "the driver's output"
        fail(f"{name}: case missing from {where}")
    stats = Stats()
    for name in sorted(set(got_cases) & set(want_cases)):
        want = want_cases[name]
        got = got_cases[name]
        arr = got["arrays"]
        meta = want["meta"]
        family, dtype = meta["family"], meta["dtype"]
        if inputs_digest(arr) != want["inputs_sha256"]:
            fail(f"{name}: the driver made other input bits than the stored run")
            continue
        for field, value in want["ints"].items():
            if field not in arr or int(arr[field][0]) != value:
                have = "missing" if field not in arr else int(arr[field][0])
                fail(f"{name}: {field} = {have}, want {value}")
        extra = {f for f in arr if not f.startswith("in.")}
        extra -= set(want["fields"]) | set(want["ints"])
        for field in sorted(extra):
            fail(f"{name}: {field} is not in the stored data")
        key = f"{family}/{dtype}"
        for field, entry in want["fields"].items():
            if field not in arr:
                fail(f"{name}: {field} missing")
                continue
            g = arr[field]
            x86, twin, scale = field_values(entry, arrays)
            if g.shape != x86.shape or g.dtype != x86.dtype:
                want_shape = f"{x86.dtype}{x86.shape}"
                fail(f"{name}: {field} has {g.dtype}{g.shape}, want {want_shape}")
                continue
            rtol, floor = tolerance_table(family, int(meta.get("kind", -1)), dtype)
            tbad, ratio = twin_check(g, twin, scale, rtol, floor, family == "vexp")
            abad, scaled, ulps, same = arch_check(g, x86, scale, dtype)
            if exact or family in ("adam", "sgd"):
                abad = ~same
            well = ulps[np.abs(x86.astype(np.float64)) >= scale / 4]
            stats.add(key, g.size, int(same.sum()), ulps, well, scaled, ratio)
            for what, bad, ref in (("twin", tbad, twin), ("x86-64", abad, x86)):
                for k in np.flatnonzero(bad)[:show]:
                    fail(
                        f"{name}: {field}[{k}] = {g[k]!r}, {what} {ref[k]!r} "
                        f"(scale {scale[k]:.3g}; x86-64 {x86[k]!r}, twin {twin[k]!r})"
                    )
                if bad.sum() > show:
                    fail(
                        f"{name}: {field}: {int(bad.sum()) - show} more off the {what}"
                    )
    text, totals = stats.table(label)
    return failures, text, totals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="the driver's output file")
    ap.add_argument("--expected", default=str(EXPECTED))
    ap.add_argument("--label", default="this run", help="name in the summary")
    ap.add_argument(
        "--exact", action="store_true", help="every bit must match the stored x86-64"
    )
    ap.add_argument(
        "--built-with",
        nargs=2,
        metavar=("COMPILER", "FLAGS"),
        help="--exact if the stored data was made with this compiler and flags",
    )
    args = ap.parse_args(argv)
    exact = args.exact
    if args.built_with:
        index, _ = load_expected(args.expected)
        stored = [index.get("compiler", ""), index.get("flags", "")]
        exact = exact or stored == list(args.built_with)
        if not exact:
            print(
                f"compare: {args.label}: built with {args.built_with}, the stored "
                f"data with {stored}: checked to the bound, not bit for bit"
            )
    failures, text, totals = compare(
        args.output, args.expected, exact=exact, label=args.label
    )
    print(text)
    n, same, ulps, well, scaled, ratio = totals
    if failures:
        print(f"\n{len(failures)} failure(s):", file=sys.stderr)
        for msg in failures[:60]:
            print("  " + msg, file=sys.stderr)
        if len(failures) > 60:
            print(f"  ... and {len(failures) - 60} more", file=sys.stderr)
        print(f"compare: {args.label}: FAILED", file=sys.stderr)
        return 1
    print(
        f"compare: {args.label}: ok, {n} values, {same / max(n, 1):.1%} bit-identical "
        f"to x86-64, max {scaled:.3g} u*scale (bound {ARCH_ULP:g}; {well:.3g} ulp "
        f"where |x| >= scale/4, {ulps:.3g} anywhere), twins within {ratio:.3g} of "
        "the tolerance"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
