#!/usr/bin/env bash
# Test a built wheel the way a user gets it: installed into a fresh virtual
# environment that has no compiler on its PATH, imported from outside the source
# tree, with the OpenMP runtime the wheel bundles.
#
#   tools/test_wheel.sh [--torch] [WHEEL] [-- PYTEST_ARGS...]
#
# WHEEL defaults to the newest wheelhouse/fastloss-*.whl (tools/build_wheel.sh).
# Installs WHEEL[test] (binary packages only, so nothing can be compiled), checks
# that `fastloss` and its extension load from the venv's site-packages and, for an
# OpenMP build, that the libgomp in use is the wheel's own copy (fastloss.libs/),
# then runs a copy of tests/ from a temporary directory. --torch also installs
# torch==2.13.0 for the PyTorch comparison tests. PYTEST_ARGS replace the default
# `tests` (paths relative to the copy, e.g. `-- tests/test_softmax_ce_values.py -x`). Exits
# non-zero on any failure, pytest's exit 5 (no tests collected) included.
#   PYTHON  the interpreter that creates the venv (default: python3)
set -euo pipefail

die() {
    echo "test_wheel: $*" >&2
    exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "no interpreter '$python' (set PYTHON)"

torch=0
wheel=""
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --torch) torch=1 ;;
        --)
            shift
            pytest_args=("$@")
            break
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *)
            [ -z "$wheel" ] || die "more than one wheel given"
            wheel=$1
            ;;
    esac
    shift
done
if [ -z "$wheel" ]; then
    wheel=$(ls -t "$root"/wheelhouse/fastloss-*.whl 2>/dev/null | head -n1 || true)
    [ -n "$wheel" ] || die "no wheel given and none in wheelhouse/ (run tools/build_wheel.sh)"
fi
[ -f "$wheel" ] || die "no such wheel: $wheel"
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
echo "test_wheel: testing $wheel" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
venv=$tmp/venv
"$python" -m venv "$venv" || die "could not create a venv with $python"

# The PATH inside: the venv and a few harmless tools, and no compiler at all.
mkdir "$tmp/bin"
for tool in sh bash env uname cat ls; do
    if p=$(command -v "$tool"); then ln -s "$p" "$tmp/bin/$tool"; fi
done
safe_path="$venv/bin:$tmp/bin"
run() {  # run CMD...: in the no-compiler environment, from the test directory
    (cd "$tmp/run" && env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV \
        PATH="$safe_path" PYTHONNOUSERSITE=1 CC=/nonexistent/cc \
        CXX=/nonexistent/c++ "$@")
}
mkdir "$tmp/run"
for cc in gcc cc c++ g++ clang x86_64-linux-gnu-gcc; do
    if run bash -c "command -v $cc" >/dev/null 2>&1; then
        die "a compiler ($cc) is reachable inside the test environment"
    fi
done
echo "test_wheel: no compiler on the PATH inside the venv" >&2

deps=("$wheel[test]")
[ "$torch" = 1 ] && deps+=("torch==2.13.0")
run python -m pip install -q --only-binary :all: "${deps[@]}" ||
    die "pip could not install ${deps[*]} (binary packages only)"

# Only the tests, what they read (the fuzz harness and stored findings, the docs
# whose examples they run) and the pytest settings: not the package source.
cp -r "$root/tests" "$tmp/run/tests"
cp "$root/pyproject.toml" "$root/README.md" "$tmp/run/"
cp -r "$root/docs" "$tmp/run/docs"
mkdir -p "$tmp/run/fuzz"
cp -r "$root/fuzz/_harness.py" "$root/fuzz/regressions" "$root/fuzz/seeds" "$tmp/run/fuzz/"
test ! -e "$tmp/run/fastloss" || die "package source next to the tests"
find "$tmp/run/tests" -name __pycache__ -prune -exec rm -rf {} +
[ ! -e "$tmp/run/fastloss" ] || die "the test directory holds a fastloss/"

# Loaded into pytest (-p) as well, so the suite itself checks what it imported.
cat >"$tmp/run/wheel_check.py" <<'EOF'
"""Check that fastloss comes from the installed wheel, with its own libgomp."""

import pathlib
import sysconfig

import fastloss
import fastloss._kernels


def check():
    site = pathlib.Path(sysconfig.get_paths()["platlib"]).resolve()
    for mod in (fastloss, fastloss._kernels):
        where = pathlib.Path(mod.__file__).resolve()
        if site not in where.parents:
            raise SystemExit(f"{mod.__name__} is {where}, not from {site}")
    cfg = fastloss.config()
    maps = pathlib.Path("/proc/self/maps").read_text().splitlines()
    gomp = sorted({ln.split()[-1] for ln in maps if "libgomp" in ln.split()[-1]})
    if cfg["openmp"]:
        own = site / "fastloss.libs"
        if not gomp or any(pathlib.Path(p).parent != own for p in gomp):
            raise SystemExit(f"libgomp loaded from {gomp}, expected {own}/")
    print(f"wheel_check: fastloss {fastloss.__file__}")
    print(f"wheel_check: config {cfg}")
    print(f"wheel_check: libgomp {gomp or 'none (serial build)'}")


def pytest_sessionstart(session):
    check()


if __name__ == "__main__":
    check()
EOF
run python wheel_check.py || die "the installed package is not the wheel's"
run fastloss config >/dev/null || die "the 'fastloss' console script failed"

echo "test_wheel: running the test suite" >&2
set +e
[ "${#pytest_args[@]}" -gt 0 ] || pytest_args=(tests)
run python -m pytest -q -p no:cacheprovider -p wheel_check "${pytest_args[@]}"
rc=$?
set -e
case "$rc" in
    0) echo "test_wheel: passed" >&2 ;;
    5) die "pytest collected no tests" ;;
    *) die "pytest failed (exit $rc)" ;;
esac
