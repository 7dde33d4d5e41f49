"""Reproducible fuzzing of the fastloss API: the CI fuzz step.

    python fuzz/generate.py [--seed S] [--cases N] [--keep-going]

First replays every committed input (the seed corpus fuzz/seeds/, the raw
regression inputs fuzz/regressions/*.bin and the reproducers in
fuzz/regressions/cases.py), then checks N generated inputs. Input i of seed S is
made from `random.Random(f"{S}:{i}")` and the committed corpus alone, by mutating a
committed input (byte flips, inserts, deletes, splices, random runs) or drawing
fresh bytes, so at one commit the same (S, N) checks the same calls on every run
and every machine of the same SIMD paths (the summary prints the corpus's hash;
adding a stored input changes the inputs generated after it); the judge is the
fuzz target's own checker (fuzz/_harness.py). A finding is written to
fuzz/artifacts/generated-S-i.bin, with the call printed; replay it with

    python fuzz/fuzz_api.py --replay fuzz/artifacts/generated-S-i.bin

or regenerate it with `--only i`. Exits 1 on any finding, 0 otherwise.
Exploratory, time-bounded fuzzing (coverage-guided, not reproducible) is
tools/fuzz.sh; both are described in docs/RELIABILITY.md.
"""

import argparse
import hashlib
import random
import struct
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "regressions"))

import _harness  # noqa: E402

MAX_LEN = 4096  # as tools/fuzz.sh's -max_len


def committed_inputs():
    """(name, bytes) of every stored raw input, in a fixed order (hidden files left
    out). In a clean clone these are the committed ones; the generated inputs are
    mutations of them, so adding one changes every generated input after it: the
    summary line prints the corpus's hash, and a finding is kept as its bytes."""
    paths = sorted((HERE / "seeds").glob("*")) + sorted(
        (HERE / "regressions").glob("*.bin")
    )
    return [(p.name, p.read_bytes()) for p in paths if not p.name.startswith(".")]


def corpus_hash(corpus):
    h = hashlib.sha256()
    for name, data in corpus:
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:12]


def _mutate(rnd, data, corpus):
    """One random edit of `data` (a bytearray, edited in place)."""
    op = rnd.randrange(7)
    if op == 0 and data:  # flip bits of one byte
        data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    elif op == 1 and data:  # set one byte (integers are read from the end)
        pos = (
            rnd.randrange(len(data))
            if rnd.random() < 0.5
            else -1 - rnd.randrange(min(len(data), 16))
        )
        data[pos] = rnd.randrange(256)
    elif op == 2:  # insert a run of random bytes
        pos = rnd.randrange(len(data) + 1)
        data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 9)))
    elif op == 3 and data:  # delete a run
        pos = rnd.randrange(len(data))
        del data[pos : pos + rnd.randrange(1, 9)]
    elif op == 4:  # splice the tail of another input
        other = corpus[rnd.randrange(len(corpus))][1]
        cut_a = rnd.randrange(len(data) + 1)
        cut_b = rnd.randrange(len(other) + 1)
        data[cut_a:] = other[cut_b:]
    elif op == 5 and data:  # an interesting float's bytes over the data
        value = rnd.choice(_harness.SPECIALS)
        width = rnd.choice((2, 4, 8))
        code = {2: "<e", 4: "<f", 8: "<d"}[width]
        try:
            raw = struct.pack(code, value)
        except (OverflowError, struct.error):
            raw = struct.pack("<d", value)
        pos = rnd.randrange(len(data))
        data[pos : pos + len(raw)] = raw
    else:  # duplicate a run
        if data:
            pos = rnd.randrange(len(data))
            run = data[pos : pos + rnd.randrange(1, 33)]
            at = rnd.randrange(len(data) + 1)
            data[at:at] = run


def generated_input(seed, i, corpus):
    """Input number i of seed `seed`: a function of (seed, i) and the corpus only."""
    rnd = random.Random(f"{seed}:{i}")
    if rnd.random() < 0.15 or not corpus:
        data = bytearray(rnd.randrange(256) for _ in range(rnd.randrange(0, 512)))
    else:
        data = bytearray(corpus[rnd.randrange(len(corpus))][1])
        for _ in range(1 + int(rnd.expovariate(0.4))):
            _mutate(rnd, data, corpus)
    return bytes(data[:MAX_LEN])


def _judge(case):
    """'ok', 'error' or 'known'; raises _harness.Finding."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # the harness records warnings itself
        return _harness.check(case)


def replay_committed(corpus):
    from cases import CASES

    failures = 0
    for name, data in corpus:
        try:
            _judge(_harness.decode(data))
        except _harness.Finding as f:
            failures += 1
            print(f"FINDING in committed input {name}:\n{f}\n", flush=True)
    for name, (build, outcome) in CASES.items():
        try:
            got = _judge(build())
        except _harness.Finding as f:
            failures += 1
            print(f"FINDING in regression case {name}:\n{f}\n", flush=True)
            continue
        if got != outcome:
            failures += 1
            print(f"regression case {name}: {got}, expected {outcome}", flush=True)
    return failures, len(corpus) + len(CASES)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=20000, help="generated inputs")
    ap.add_argument("--only", type=int, default=None, help="check input i alone")
    ap.add_argument("--keep-going", action="store_true", help="report every finding")
    ap.add_argument("--artifacts", default=str(HERE / "artifacts"))
    args = ap.parse_args(argv)

    corpus = committed_inputs()
    t0 = time.perf_counter()
    failures, replayed = (0, 0) if args.only is not None else replay_committed(corpus)
    counts = {"ok": 0, "error": 0, "known": 0}
    indices = [args.only] if args.only is not None else range(args.cases)
    for i in indices:
        if failures and not args.keep_going:
            break
        data = generated_input(args.seed, i, corpus)
        try:
            counts[_judge(_harness.decode(data))] += 1
        except _harness.Finding as f:
            failures += 1
            out = Path(args.artifacts)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"generated-{args.seed}-{i}.bin"
            path.write_bytes(data)
            print(
                f"FINDING in generated input {i} of seed {args.seed} "
                f"(saved as {path}):\n{f}\n",
                flush=True,
            )
    secs = time.perf_counter() - t0
    checked = sum(counts.values())
    print(
        f"fuzz: replayed {replayed} committed inputs, checked {checked} generated "
        f"(seed {args.seed}, corpus {len(corpus)} inputs sha256 {corpus_hash(corpus)}: "
        f"{counts['ok']} ok, {counts['error']} refused, {counts['known']} known) in "
        f"{secs:.0f} s: " + (f"{failures} finding(s)" if failures else "no finding")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
