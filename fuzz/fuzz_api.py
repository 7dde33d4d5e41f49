"""Coverage-guided fuzz target of the fastloss Python API (atheris / libFuzzer).

Each input picks a public loss and builds its arguments from the fuzz bytes
(fuzz/_harness.py: shapes, dtypes, strides, NaN/inf, bad labels, aliasing out=,
bad options), then checks the call against the documented contract and the float64
twins of tests/_reference*.py. A broken promise raises `Finding`, which libFuzzer
reports as a crash and saves as an input file.

    python fuzz/fuzz_api.py fuzz/corpus fuzz/seeds -max_total_time=60

(tools/fuzz.sh runs exactly that.) Replay one input without atheris:

    python fuzz/fuzz_api.py --replay FILE...
"""

import sys
from pathlib import Path

import numpy as np  # noqa: F401  (imported uninstrumented: only fastloss is traced)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def replay(paths):
    import _harness

    failed = 0
    for path in paths:
        case = _harness.decode(Path(path).read_bytes())
        try:
            status = _harness.check(case)
            print(f"{path}: {status}")
        except _harness.Finding as f:
            failed += 1
            print(f"{path}: FINDING\n{f}")
    return 1 if failed else 0


def main():
    if sys.argv[1:2] == ["--replay"]:
        sys.exit(replay(sys.argv[2:]))
    import _reference  # noqa: F401  (the twins: not instrumented either)
    import atheris

    with atheris.instrument_imports(include=["fastloss", "_harness"]):
        import _harness

        import fastloss  # noqa: F401

    def test_one_input(data):
        _harness.check(_harness.decode(atheris.FuzzedDataProvider(data)))

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
