#!/usr/bin/env bash
# Coverage-guided fuzzing of the fastloss Python API for a fixed time.
#
#   tools/fuzz.sh [SECONDS]      (default 60)
#
# Runs fuzz/fuzz_api.py (atheris/libFuzzer) on the working corpus fuzz/corpus/
# (created; new inputs are added there, not committed) seeded from the committed
# fuzz/seeds/, and prints libFuzzer's final stats (number_of_executed_units is the
# execution count). A finding stops the run, is saved as fuzz/artifacts/crash-*
# and makes this script exit non-zero; replay it with
#   python fuzz/fuzz_api.py --replay fuzz/artifacts/crash-...
# PYTHON selects the interpreter (default: python3; it needs atheris and the
# installed package). FUZZ_SEED fixes libFuzzer's random seed; unset, it is random.
# Even with a fixed seed a time-bounded run is not reproducible (how far it gets
# depends on the machine's speed, and two seed-1 runs from an empty corpus diverged
# within 8,000 executions), so this is the exploratory tool, not a CI step: CI runs
# fuzz/generate.py, a fixed number of seeded inputs. What this finds is kept as a
# stored input in fuzz/regressions/ (and a case in cases.py) and so replayed there.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
python=${PYTHON:-python3}
mkdir -p fuzz/corpus fuzz/artifacts
before=$(find fuzz/corpus -type f | wc -l)
set +e
"$python" fuzz/fuzz_api.py fuzz/corpus fuzz/seeds \
    ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
    -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
    -timeout=60 -rss_limit_mb=4096 -artifact_prefix=fuzz/artifacts/ \
    2> >(tee fuzz/artifacts/last-run.log >&2)
rc=$?
set -e
after=$(find fuzz/corpus -type f | wc -l)
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' fuzz/artifacts/last-run.log \
    | grep -o '[0-9]*$' || echo "?")
echo "fuzz: ${seconds}s, ${execs} executions, corpus ${before} -> ${after} inputs, exit ${rc}"
exit "$rc"
