"""Writes the committed seed corpus fuzz/seeds/: for every public loss one input
that decodes to a valid call of it and one that decodes to a refused call, found
by drawing random bytes with a fixed seed (so the set is reproducible).

    python fuzz/make_seeds.py
"""

import hashlib
import random
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness  # noqa: E402


def main():
    out = HERE / "seeds"
    out.mkdir(exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    rnd = random.Random(20240611)
    want = {(name, status) for name in _harness.FUNCTIONS for status in ("ok", "error")}
    written = 0
    while want:
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(64, 400)))
        case = _harness.decode(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                status = _harness.check(case)
            except _harness.Finding:
                continue
        key = (case.name, status)
        if key in want:
            want.discard(key)
            digest = hashlib.sha1(data).hexdigest()[:10]
            (out / f"{case.name}-{status}-{digest}").write_bytes(data)
            written += 1
    print(f"wrote {written} seeds to {out}")


if __name__ == "__main__":
    main()
