#!/usr/bin/env bash
# Every kernel under valgrind's memcheck (tools/valgrind_kernels.py): no invalid read
# or write, no use of uninitialised memory, no definite leak.
#
#   tools/valgrind.sh [--quick]
#
# A regular (not sanitized) build of a copy of the tree ($FASTLOSS_VG_DIR,
# /tmp/fastloss-vg) in its own venv, so a shared editable build is never touched;
# -g only adds line numbers to the reports. Run with:
# - PYTHONMALLOC=malloc: every Python object is a malloc block memcheck tracks.
# - OMP_WAIT_POLICY=passive: valgrind runs one thread at a time, so libgomp's
#   spin-waiting at barriers would only burn the time slice of the thread waited for.
# - tools/valgrind-python.supp: errors of the interpreter and the dynamic loader
#   that appear with a bare `python -c "import numpy"` too, and the interpreter's
#   own definite leaks at exit; each entry says why.
# Fails on valgrind's exit code (--error-exitcode=1: any unsuppressed error, definite
# leaks included); the reports whose stack passes through the extension (Cython
# bindings or src_c/ kernels) are counted and named.
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
dir=${FASTLOSS_VG_DIR:-/tmp/fastloss-vg}
venv=$dir/.venv-vg
log=$dir/valgrind.log

# 1. A fresh copy and a regular build (the venv survives between runs).
mkdir -p "$dir"
find "$dir" -mindepth 1 -maxdepth 1 ! -name '.venv-vg' -exec rm -rf {} +
# (caches left out: other tools may be writing them while we copy)
excludes=(.venv\* \*.so build .git .mypy_cache .ruff_cache .pytest_cache .hypothesis
          .benchmarks)
if command -v rsync >/dev/null; then
    rsync -a "${excludes[@]/#/--exclude=}" "$src/" "$dir/"
    rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 24 ] || exit 1  # 24: a file vanished meanwhile
else
    tar -C "$src" "${excludes[@]/#/--exclude=./}" --warning=no-file-changed -cf - . \
        | tar -C "$dir" -xf -
    st=("${PIPESTATUS[@]}")
    # tar exits 1 when a file changed while it was read
    [ "${st[0]}" -le 1 ] && [ "${st[1]}" -eq 0 ] || exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || exit 1
fi
"$venv/bin/pip" install -q -U numpy cython setuptools || exit 1
(cd "$dir" && CFLAGS="${CFLAGS:-} -g" "$venv/bin/pip" install -q --no-build-isolation \
    --force-reinstall --no-deps .) || exit 1

# 2. The SIMD paths this CPU has outside valgrind must all run inside it.
simd=$(cd / && "$venv/bin/python" -c \
    'import fastloss; print(",".join(fastloss.config()["simd_available"]))') || exit 1
echo "valgrind: SIMD paths outside valgrind: $simd"

memcheck() {  # memcheck LOG ARGS...: python ARGS under memcheck, from / (so the
              # installed package is the one imported)
    local out=$1
    shift
    (cd / && PYTHONMALLOC=malloc OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 \
        FASTLOSS_VG_REQUIRE_SIMD=$simd \
        valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40 \
        --suppressions="$src/tools/valgrind-python.supp" --log-file="$out" \
        "$venv/bin/python" "$@")
}

# 3. Canary: a heap over-read in a kernel must be reported. The bindings check every
#    length, so the kernel's C entry point is called through ctypes: vexp reads one
#    float past a 4-float buffer (in the loop's scalar remainder: a whole access
#    into the redzone, which no partial-load leniency excuses).
memcheck "$dir/canary.log" -c "import ctypes as c, numpy as np, fastloss._kernels as k
P = lambda a: c.c_void_p(a.ctypes.data)
x, out = np.zeros(4, np.float32), np.zeros(5, np.float32)
c.CDLL(k.__file__).fl_vexp_f32(P(x), P(out), c.c_int64(5))"
if [ $? -eq 0 ] || ! grep -A3 'Invalid read' "$dir/canary.log" | grep -q 'fl_'; then
    echo "valgrind: the canary over-read was not reported: memcheck is not working" \
        "(or the bindings now check these sizes: pick another canary)" >&2
    exit 1
fi
echo "valgrind: canary over-read reported"

# 4. The workload.
memcheck "$log" "$dir/tools/valgrind_kernels.py" "$@"
rc=$?

# 5. The summary, and the reports that involve the extension.
grep -E 'ERROR SUMMARY|definitely lost:|indirectly lost:|possibly lost:|suppressed:' \
    "$log" | sed 's/^==[0-9]*== *//'
ours=$(awk -v pat='fastloss/_kernels|__pyx_|: fl_[a-z0-9_]+ |fl_[a-z0-9_]+[.][ch]:' '
    /^==[0-9]+== [A-Z]/ { if (blk ~ pat) n++; blk = "" }
    { blk = blk "\n" $0 }
    END { if (blk ~ pat) n++; print n + 0 }' "$log")
echo "valgrind: $ours report(s) involving the fastloss extension"
if [ "$ours" -ne 0 ] || [ "$rc" -ne 0 ]; then
    echo "valgrind: FAILED: exit $rc, see $log" >&2
    exit 1
fi
echo "valgrind: passed (log: $log)"
