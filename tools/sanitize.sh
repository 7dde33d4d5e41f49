#!/usr/bin/env bash
# The whole test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build.
#
#   tools/sanitize.sh [pytest args...]   e.g. tools/sanitize.sh -x tests/test_softmax_ce_values.py
#                                        (paths relative to the copy; default: tests)
#
# The tree is copied to a scratch directory ($FASTLOSS_SAN_DIR, /tmp/fastloss-san) and
# built there (FASTLOSS_SANITIZE=1, see setup.py) into its own venv, so a shared
# editable build of the source tree is never touched. Python is not instrumented, so
# libasan is preloaded. Both SIMD paths run: the tests parametrize over them.
#
# Fails when pytest fails, when any sanitizer report appears (ASan's log_path files,
# or "ERROR: AddressSanitizer" / "runtime error:" in the pytest log), or when one of
# two canaries, a heap overflow and a signed overflow provoked on purpose, is not
# caught (so a broken set-up cannot pass quietly).
#
# Choices:
# - detect_leaks=0: LeakSanitizer would report CPython's own allocations that are
#   still alive at exit (interned objects, module state), in every run. Leaks are
#   checked by tests/test_leaks.py (RSS, objects, references) and tools/valgrind.sh
#   (definite leaks) instead.
# - PYTHONMALLOC=malloc: every Python object is a malloc block with ASan redzones
#   (pymalloc's arenas would hide overflows into neighbouring objects).
# - allocator_may_return_null=1: an impossible allocation raises MemoryError as it
#   does in a normal build, instead of an ASan abort.
# - The build adds -fno-wrapv (setup.py): Python's CFLAGS carry -fwrapv, under which
#   signed overflow is defined and UBSan would not check it.
# - torch==2.13.0 is installed (FASTLOSS_SAN_TORCH=0 skips it; its tests then skip):
#   it runs under the preloaded runtime without reports. Reports are not filtered by
#   library, so a report from any library fails the run.
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
dir=${FASTLOSS_SAN_DIR:-/tmp/fastloss-san}
venv=$dir/.venv-san
logs=$dir/san-logs
torch_pin=torch==2.13.0

# 1. A fresh copy of the sources (the venv survives between runs).
mkdir -p "$dir"
find "$dir" -mindepth 1 -maxdepth 1 ! -name '.venv-san' -exec rm -rf {} +
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

# 2. Its own venv and the sanitized build (not editable: built from the copy).
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || exit 1
fi
"$venv/bin/pip" install -q -U numpy cython setuptools pytest hypothesis threadpoolctl \
    || exit 1
if [ "${FASTLOSS_SAN_TORCH:-1}" != "0" ]; then
    "$venv/bin/pip" install -q "$torch_pin" || exit 1
fi
(cd "$dir" && FASTLOSS_SANITIZE=1 "$venv/bin/pip" install -q --no-build-isolation \
    --force-reinstall --no-deps .) || exit 1
# Without its source package nothing in the copy can shadow the installed build (a
# test's `python -c` subprocess runs with the copy as its working directory).
rm -rf "$dir/fastloss"

# libstdc++ is preloaded after libasan so that ASan's __cxa_throw interceptor finds
# the real one at start-up: otherwise the first C++ exception (torch raising an
# error a test expects) dies in "CHECK failed: real___cxa_throw != 0".
libasan=$(gcc -print-file-name=libasan.so)
libstdcxx=$(gcc -print-file-name=libstdc++.so)
if [ ! -e "$libasan" ] || [ ! -e "$libstdcxx" ]; then
    echo "sanitize: libasan.so or libstdc++.so not found (gcc -print-file-name)" >&2
    exit 1
fi
site=$("$venv/bin/python" -c \
    'import sysconfig; print(sysconfig.get_paths()["platlib"])')
so=$(ls "$site"/fastloss/_kernels*.so 2>/dev/null | head -1)
if [ -z "$so" ] || ! ldd "$so" | grep -q libasan; then
    echo "sanitize: $so is not an ASan build" >&2
    exit 1
fi

# 3. The run-time set-up (each run adds its own log_path).
asan="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
# detect_stack_use_after_return stays off: ASan's fake stack gives a frame 32-byte
# alignment, and gcc 12 gives the AVX-512 kernels' local lane arrays the 64-byte
# alignment of its vmovdqa64 zero-fill (src_c/fl_rw_softmax.h's exp_sum), so an
# ASan build with it on faults there on a store to the kernel's own array (the
# normal build realigns its stack and is correct).
asan="$asan:detect_stack_use_after_return=0:check_initialization_order=1"
asan="$asan:strict_init_order=1"
ubsan="print_stacktrace=1:halt_on_error=1"
export LD_PRELOAD="$libasan $libstdcxx"
export PYTHONMALLOC=malloc
echo "sanitize: LD_PRELOAD=$LD_PRELOAD PYTHONMALLOC=$PYTHONMALLOC"
echo "sanitize: ASAN_OPTIONS=$asan:log_path=..."
echo "sanitize: UBSAN_OPTIONS=$ubsan:log_path=..."
rm -rf "$logs"
mkdir -p "$logs"

# 4. Canaries: the set-up must catch a heap overflow and a signed overflow, both
#    provoked in the instrumented kernels by calling their C entry points through
#    ctypes (the bindings check every length, so they can provoke neither): vexp
#    reads one float past a buffer of 4; Adam's block count n + FL_CHUNK - 1
#    overflows for n = INT64_MAX before any element is touched.
canary() {  # canary NAME PATTERN CODE: CODE must die with a report matching PATTERN
    local d=$logs/canary
    mkdir -p "$d"
    { (cd "$d" && ASAN_OPTIONS="$asan:log_path=$d/asan" \
        UBSAN_OPTIONS="$ubsan:log_path=$d/ubsan" "$venv/bin/python" -c \
        "import numpy as np; from fastloss import _kernels as k; $3" >"$d/stderr" 2>&1)
    } 2>/dev/null  # (not bash's "Aborted" notice: the abort is the point)
    if [ $? -eq 0 ] || ! cat "$d"/* | grep -q "$2"; then
        echo "sanitize: canary '$1' was not caught: the sanitizers are not working" \
            "(or the bindings now check these sizes: pick another canary)" >&2
        exit 1
    fi
    echo "sanitize: canary '$1' caught"
    rm -rf "$d"
}
lib='import ctypes as c; lib = c.CDLL(k.__file__)
P = lambda a: c.c_void_p(a.ctypes.data)'
canary heap-overflow 'ERROR: AddressSanitizer: heap-buffer-overflow' \
    "$lib; x, out = np.zeros(4, np.float32), np.zeros(5, np.float32)
lib.fl_vexp_f32(P(x), P(out), c.c_int64(5))"
canary signed-overflow 'runtime error: signed integer overflow' \
    "$lib; b = [np.zeros(4) for _ in range(4)]
lib.fl_adam_f64(*map(P, b), c.c_int64(2**63 - 1), (c.c_double * 6)(1, .9, .9, 1, 1, 1),
                c.c_int(1))"

# 5. The suite, against the installed build. --capture=sys leaves file descriptor 2
#    alone: a report that aborts the process (UBSan writes to stderr even with a
#    log_path) reaches the log instead of dying with pytest's capture file. The
#    guard that the logit kernels are vectorised is a timing ratio that an -O1
#    instrumented build cannot meet.
export ASAN_OPTIONS="$asan:log_path=$logs/asan"
export UBSAN_OPTIONS="$ubsan:log_path=$logs/ubsan"
(cd "$logs" && "$venv/bin/python" -c 'import fastloss; fastloss.show_config()') \
    || { echo "sanitize: import failed" >&2; cat "$logs"/*san.* 2>/dev/null; exit 1; }
(cd "$dir" && "$venv/bin/pytest" -q -p no:cacheprovider -rs --capture=sys \
    --deselect tests/test_binary.py::test_logit_kernels_are_vectorised \
    "${@:-tests}") 2>&1 | tee "$logs/pytest.log"
rc=${PIPESTATUS[0]}
unset LD_PRELOAD

# 6. Any report fails the run.
reports=$(find "$logs" -name 'asan.*' -o -name 'ubsan.*' | sort)
found=0
for f in $reports; do
    echo "sanitize: report $f" >&2
    cat "$f" >&2
    found=1
done
if grep -q -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' \
    "$logs/pytest.log"; then
    found=1
fi
if [ "$found" -ne 0 ]; then
    echo "sanitize: FAILED: sanitizer reports above (pytest exit $rc)" >&2
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    echo "sanitize: FAILED: pytest exit $rc" >&2
    exit "$rc"
fi
echo "sanitize: passed, no sanitizer reports"
