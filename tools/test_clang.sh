#!/usr/bin/env bash
# Builds fastloss with clang and runs the whole test suite against the installed
# build, from outside the source tree:
#
#   tools/test_clang.sh [openmp|serial]...      (default: openmp serial)
#
# openmp: clang -fopenmp with LLVM's libomp; serial: FASTLOSS_DISABLE_OPENMP=1 (the
# fallback a macOS user without libomp gets). Each mode gets its own venv,
# .ci-venv-clang-MODE, with the package installed (not editable) from this tree.
# Debian's clang and libomp-dev are installed with apt-get when missing (as root).
# Exits non-zero on any failure, pytest's exit 5 (no tests) included. .ci/run calls
# it with "serial"; docs/BUILDING.md has the last result of both.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(openmp serial)

need_omp=0
for mode in "${modes[@]}"; do [ "$mode" = openmp ] && need_omp=1; done
if ! command -v clang >/dev/null || { [ "$need_omp" = 1 ] \
        && ! echo '#include <omp.h>' | clang -fopenmp -fsyntax-only -x c - 2>/dev/null; }; then
    echo "test_clang: installing clang and libomp-dev (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        clang libomp-dev >/dev/null; } \
        || { echo "test_clang: cannot install clang and libomp-dev" >&2; exit 1; }
fi
clang --version | head -1

for mode in "${modes[@]}"; do
    case "$mode" in
        openmp) disable=0 want=True ;;
        serial) disable=1 want=False ;;
        *) echo "test_clang: unknown mode $mode (openmp or serial)" >&2; exit 2 ;;
    esac
    venv="$root/.ci-venv-clang-$mode"
    echo "test_clang: $mode build in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || exit 1
    start=$SECONDS
    CC=clang FASTLOSS_DISABLE_OPENMP=$disable "$venv/bin/pip" install -q ".[test]" \
        || { echo "test_clang: $mode build failed" >&2; exit 1; }
    echo "test_clang: $mode build took $((SECONDS - start)) s"
    (cd /tmp && "$venv/bin/python" -c "
import fastloss, sys
c = fastloss.config()
print(c)
ok = c['openmp'] is $want and c['compiler'].startswith('clang ')
sys.exit(0 if ok else 1)") \
        || { echo "test_clang: $venv is not the clang $mode build" >&2; exit 1; }
    (cd /tmp && FASTLOSS_EXPECT_COMPILER=clang "$venv/bin/python" -m pytest -q \
        -p no:cacheprovider "$root/tests")
    rc=$?
    if [ "$rc" -ne 0 ]; then
        [ "$rc" -eq 5 ] && echo "test_clang: pytest collected no tests" >&2
        echo "test_clang: $mode suite failed (exit $rc)" >&2
        exit 1
    fi
done
echo "test_clang: passed (${modes[*]})"
