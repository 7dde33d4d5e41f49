#!/usr/bin/env bash
# The C kernels cross-compiled for aarch64, run under QEMU user-mode emulation and
# checked against the stored x86-64 results and float64 twins (docs/BUILDING.md,
# "aarch64 cross-check").
#
#   tools/check_aarch64.sh                 build (cached), run both, compare
#   tools/check_aarch64.sh --regenerate    first rewrite tools/aarch64/expected.npz
#                                          from the native x86-64 run (after a
#                                          deliberate change of the kernels' results)
#
# Needs gcc, python3 with NumPy ($PYTHON overrides), and the Debian/Ubuntu packages
#   gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
#
# 1. Builds tools/aarch64/driver.c with src_c/ twice, with setup.py's KERNEL_FLAGS
#    (read from it) and OpenMP (-fopenmp -DFL_HAVE_OPENMP=1: what the gcc build of
#    the package uses; libgomp linked statically): aarch64-linux-gnu-gcc -static,
#    and the native gcc. The driver itself is compiled with -ffp-contract=off (it
#    makes the inputs). The kernels' objects are cached in $FL_AARCH64_BUILD
#    (/tmp/fastloss-aarch64), keyed by src_c/, the flags and the compiler; at most
#    $JOBS compilers run at once (2).
# 2. Runs the native driver (the baseline SIMD path, no FMA) and compares it with
#    the stored x86-64 results bit for bit (with the compiler and flags that made
#    them; another gcc gets the aarch64 bound), and with the stored twins: the
#    stored data must stay what this tree computes.
# 3. Runs the aarch64 driver under qemu-aarch64-static and compares it with the
#    stored x86-64 results (the bound in tools/aarch64/compare.py: aarch64 gcc
#    contracts multiply-adds into FMAs) and with the twins.
# Prints each comparison's table and one verdict line with the time; exits non-zero
# on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/tools/aarch64
build=${FL_AARCH64_BUILD:-/tmp/fastloss-aarch64}
jobs=${JOBS:-2}
python=${PYTHON:-python3}
start=$(date +%s)
regenerate=0
for arg in "$@"; do
    case $arg in
    --regenerate) regenerate=1 ;;
    *)
        echo "usage: $0 [--regenerate]" >&2
        exit 2
        ;;
    esac
done

die() {
    echo "check_aarch64: FAILED: $*" >&2
    exit 1
}

# 0. Tools.
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || missing+=(libc6-dev-arm64-cross)
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64) \
    || missing+=(qemu-user-static)
if [ ${#missing[@]} -gt 0 ]; then
    die "missing the cross toolchain or QEMU: apt-get install ${missing[*]}"
fi
command -v gcc >/dev/null || die "no native gcc (apt-get install gcc)"
"$python" -c 'import numpy' 2>/dev/null \
    || die "$python cannot import NumPy (set PYTHON=/path/to/python)"

flags=$("$python" - "$root/setup.py" <<'EOF'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and any(
        getattr(t, "id", None) == "KERNEL_FLAGS" for t in node.targets
    ):
        print(" ".join(ast.literal_eval(node.value)))
        break
EOF
) || die "could not read KERNEL_FLAGS from setup.py"
[ -n "$flags" ] || die "no KERNEL_FLAGS in setup.py"
omp="-fopenmp -DFL_HAVE_OPENMP=1"
# every translation unit of src_c/, the elementwise instances (the slowest) first
kernels=($(cd "$root/src_c" && { ls fl_elementwise_*.c; ls fl_*.c; } \
    | awk '!seen[$0]++' | sed 's/\.c$//'))

# 1. Builds: the kernels' objects cached per (compiler, sources, flags); the
#    driver (a second or two) compiled and linked every time.
builddir() {  # builddir CC: the cache directory of this compiler's kernels
    local key
    key=$( { "$1" --version | head -1; echo "$flags $omp"; cat "$root"/src_c/*.[ch]; } \
        | sha256sum | cut -c1-16)
    echo "$build/$1-$key"
}
cc_native=gcc
cc_cross=aarch64-linux-gnu-gcc
dir_native=$(builddir $cc_native)
dir_cross=$(builddir $cc_cross)
todo=()
for cc in $cc_native $cc_cross; do
    dir=$(builddir "$cc")
    [ -e "$dir/kernels.done" ] && continue
    rm -rf "$dir"
    mkdir -p "$dir" || die "cannot create $dir"
    todo+=("$cc")
done
tasks=()
for k in "${kernels[@]}"; do  # slowest first, both compilers
    for cc in "${todo[@]}"; do
        tasks+=("$cc $flags $omp -I'$root/src_c' -c '$root/src_c/$k.c' \
-o '$(builddir "$cc")/$k.o'")
    done
done
for cc in $cc_native $cc_cross; do
    tasks+=("$cc -std=c99 -O2 -ffp-contract=off -Wall -Wextra $omp -I'$root/src_c' -c \
'$here/driver.c' -o '$(builddir "$cc")/driver.o'")
done
if [ ${#todo[@]} -gt 0 ]; then
    echo "check_aarch64: compiling the kernels for ${todo[*]} ($jobs at a time) into" \
        "$build (the native kernels take ~1 min: three SIMD paths)"
fi
# each task's log goes to its own file, shown if not empty
logs=$(mktemp -d)
running=0
failed=0
i=0
for task in "${tasks[@]}"; do
    i=$((i + 1))
    bash -c "$task" >"$logs/$i.log" 2>&1 &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
cat "$logs"/*.log >&2
rm -rf "$logs"
[ "$failed" -eq 0 ] || die "compilation failed"
for cc in $cc_native $cc_cross; do
    dir=$(builddir "$cc")
    touch "$dir/kernels.done"
    static=""
    [ "$cc" = "$cc_cross" ] && static="-static"
    objs=()
    for k in driver "${kernels[@]}"; do
        objs+=("$dir/$k.o")
    done
    # (static libgomp warns that it may dlopen: never at run time here)
    $cc $static -fopenmp "${objs[@]}" -lm -o "$dir/driver" >"$dir/link.log" 2>&1 \
        || { cat "$dir/link.log" >&2; die "linking the $cc driver failed"; }
done

# 2. The native run against the stored data.
"$dir_native/driver" "$dir_native/out.bin" || die "the native driver failed"
compiler=$(gcc --version | head -1)
if [ "$regenerate" -eq 1 ]; then
    (cd "$here" && "$python" make_data.py "$dir_native/out.bin" \
        --compiler "$compiler" --flags "$flags $omp") \
        || die "make_data.py refused the native results"
fi
[ -e "$here/expected.npz" ] || die "no $here/expected.npz (make it: $0 --regenerate)"
native=$("$python" "$here/compare.py" "$dir_native/out.bin" --label x86-64 \
    --built-with "$compiler" "$flags $omp") \
    || { echo "$native"; die "the native x86-64 results differ from the stored data \
(kernels changed? if on purpose: $0 --regenerate)"; }
echo "$native"

# 3. The aarch64 run.
t0=$(date +%s)
"$qemu" "$dir_cross/driver" "$dir_cross/out.bin" || die "the aarch64 driver failed"
t1=$(date +%s)
cross=$("$python" "$here/compare.py" "$dir_cross/out.bin" --label aarch64) \
    || { echo "$cross"; die "aarch64 results off (above)"; }
echo "$cross"
echo "check_aarch64: PASS in $(($(date +%s) - start)) s (aarch64 run $((t1 - t0)) s" \
    "under $(basename "$qemu")): ${cross##*ok, }"
