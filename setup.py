"""Build script: Cython bindings over the C99 kernels in src_c/.

OpenMP is probed by compiling, linking and running a tiny program (gcc/clang
``-fopenmp``; Apple clang ``-Xpreprocessor -fopenmp -lomp`` with Homebrew's libomp;
MSVC ``/openmp``); without it (or with FASTLOSS_DISABLE_OPENMP=1) the package builds
serially and says so. No flag tunes the build for the build machine's CPU: the
AVX2+FMA and AVX-512 kernels are compiled with a per-function target pragma and
chosen at run time (src_c/fl_dispatch.c), so the wheel runs on any x86-64. Other
compilers and architectures (clang, MSVC, aarch64) build the baseline kernels only.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n == omp_get_max_threads());
        return 0;
    }
    """
)

# -fno-trapping-math: without it gcc keeps the exp clamp as branches and the row loops
# are not vectorised even under `omp simd`. -fno-math-errno lets log/floor inline. No
# -ffast-math: the kernels rely on IEEE NaN/inf propagation and exact rounding tricks.
# -std=c99 alone turns FMA contraction off (ISO mode); -ffp-contract=fast turns it back
# on so the AVX2 and AVX-512 paths fuse the polynomial's multiply-adds.
# -fno-thread-jumps: gcc 12's jump threading across the inlined exp clamp and log1p's
# select splits loops that chain exp into log1p (BCE, log-cosh) so they do not
# vectorise (measured 4x slower).
KERNEL_FLAGS = [
    "-std=c99",
    "-O3",
    "-fno-trapping-math",
    "-fno-math-errno",
    "-ffp-contract=fast",
    "-fno-thread-jumps",
]


def _libomp_prefixes():
    """Where Homebrew's libomp may be (macOS): `brew --prefix libomp`, then the
    default prefixes of Apple silicon and Intel Homebrew."""
    found = []
    if shutil.which("brew"):
        out = subprocess.run(
            ["brew", "--prefix", "libomp"], capture_output=True, text=True
        )
        if out.returncode == 0 and out.stdout.strip():
            found.append(out.stdout.strip())
    found += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    return [p for i, p in enumerate(found) if os.path.isdir(p) and p not in found[:i]]


def _openmp_candidates():
    """(compile, link) flags to try for OpenMP, in order."""
    yield ["-fopenmp"], ["-fopenmp"]
    if sys.platform == "darwin":
        # Apple clang rejects -fopenmp as a driver flag but its front end implements
        # it; omp.h and the runtime come from libomp (brew install libomp).
        for prefix in _libomp_prefixes():
            yield (
                ["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                [f"-L{prefix}/lib", "-lomp"],
            )


def _probe_openmp(compiler):
    """The (compile, link) flags of the first candidate with which the compiler
    builds, links and runs an OpenMP program, or None."""
    if os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") not in ("", "0"):
        return None
    for cflags, ldflags in _openmp_candidates():
        tmp = tempfile.mkdtemp()
        try:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            exe = os.path.join(tmp, "probe")
            compiler.link_executable(objs, exe, extra_postargs=ldflags)
            out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
            if out.returncode == 0 and out.stdout.strip() == "1":
                return cflags, ldflags
        except Exception:  # any compile/link/run failure means "not this way"
            pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return None


def _supported_flags(compiler, flags):
    """The flags this (gcc-like) compiler takes. clang only warns about gcc-only
    optimisation flags (-fno-thread-jumps), so each flag is tried with -Werror when
    a bare compile passes with -Werror; a flag that errors or warns is dropped."""
    tmp = tempfile.mkdtemp()

    def compiles(i, extra):
        src = os.path.join(tmp, f"flag{i}.c")
        with open(src, "w") as f:
            f.write("int fl_flag_probe(void) { return 0; }\n")
        try:
            compiler.compile([src], output_dir=tmp, extra_postargs=extra)
            return True
        except Exception:
            return False

    try:
        strict = ["-Werror"] if compiles(0, ["-Werror"]) else []
        return [f for i, f in enumerate(flags, 1) if compiles(i, [f, *strict])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _debug_build():
    """FASTLOSS_DEBUG=1 keeps the debug information (-g) that Python's own CFLAGS
    ask for; release builds drop it (-g0: gcc and clang generate the same code
    with or without -g, and the extension is ~4x smaller)."""
    return os.environ.get("FASTLOSS_DEBUG", "0") not in ("", "0")


def _build_jobs():
    """Parallel compiler processes: FASTLOSS_BUILD_JOBS, else the usable cores."""
    value = os.environ.get("FASTLOSS_BUILD_JOBS", "")
    if value.strip():
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _compile_in_parallel(compiler, jobs):
    """Makes `compiler.compile` build each source file in its own compiler process,
    `jobs` at a time (the translation units are independent). Threads suffice: each
    one waits on a subprocess. setuptools compiles one extension's sources one at a
    time otherwise."""
    serial = compiler.compile

    def compile(sources, *args, **kwargs):
        if jobs <= 1 or len(sources) <= 1:
            return serial(sources, *args, **kwargs)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            parts = [pool.submit(serial, [src], *args, **kwargs) for src in sources]
            return [obj for part in parts for obj in part.result()]

    compiler.compile = compile


class BuildExt(build_ext):
    def build_extensions(self):
        is_msvc = self.compiler.compiler_type == "msvc"
        if is_msvc:
            # MSVC takes none of KERNEL_FLAGS; /openmp (OpenMP 2.0, vcomp140.dll)
            # covers the parallel loops. The vector paths are gcc-only (fl_common.h),
            # so MSVC builds the baseline kernels only.
            flags = ["/O2", "/fp:precise"]
            omp_c, omp_l = ["/openmp"], []
            have_omp = os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") in ("", "0")
        else:
            flags = _supported_flags(self.compiler, KERNEL_FLAGS)
            if not _debug_build():
                flags.append("-g0")
            omp = _probe_openmp(self.compiler)
            have_omp = omp is not None
            omp_c, omp_l = omp if have_omp else ([], [])
        if not have_omp:
            msg = (
                "fastloss: building WITHOUT OpenMP (kernels run on one thread). "
                "Set up an OpenMP-capable compiler to get multithreading."
            )
            if os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") in ("", "0"):
                warnings.warn(msg, stacklevel=1)
            print(msg, file=sys.stderr)
            # `omp simd` still vectorises without the OpenMP runtime.
            if is_msvc:
                omp_c = []
            else:
                omp_c = _supported_flags(self.compiler, ["-fopenmp-simd"])
            omp_l = []
        for ext in self.extensions:
            ext.extra_compile_args = flags + omp_c + ext.extra_compile_args
            ext.extra_link_args = omp_l + ext.extra_link_args
            ext.define_macros.append(("FL_HAVE_OPENMP", "1" if have_omp else "0"))
        if self.compiler.compiler_type == "unix":
            # (MSVC's compiler object initialises itself, once, on first use: not
            # from several threads)
            _compile_in_parallel(self.compiler, _build_jobs())
        super().build_extensions()


# FASTLOSS_SANITIZE=1 (or a list such as "address,undefined"): an AddressSanitizer +
# UndefinedBehaviorSanitizer build for tools/sanitize.sh (gcc or clang only). The
# flags go into the Extension's own args, which BuildExt appends after the kernel
# flags, so this -O1 wins over -O3, and -fno-wrapv over the -fwrapv in Python's own
# CFLAGS (which makes signed overflow defined, so UBSan would not check it). Python
# itself is not instrumented: run it with LD_PRELOAD=$(gcc -print-file-name=libasan.so).
SANITIZERS = ("address", "undefined")


def _sanitize_flags():
    value = os.environ.get("FASTLOSS_SANITIZE", "").strip().lower()
    if value in ("", "0"):
        return []
    kinds = SANITIZERS if value == "1" else tuple(k.strip() for k in value.split(","))
    if not set(kinds) <= set(SANITIZERS) or sys.platform == "win32":
        sys.exit(
            f"FASTLOSS_SANITIZE={value!r}: expected 1 or a comma list of "
            f"{', '.join(SANITIZERS)} (gcc or clang)"
        )
    return [
        "-fsanitize=" + ",".join(kinds),
        "-fno-omit-frame-pointer",
        "-fno-sanitize-recover=undefined",
        "-fno-wrapv",
        "-O1",
        "-g",
    ]


def _extensions():
    # The kernel families' instances compile one SIMD path per file, and the
    # elementwise losses' (the longest) one dtype per file too (src_c/fl_instances.h).
    # Longest to compile first, so that parallel jobs finish close together.
    paths = ["avx512", "avx2", "base"]
    sources = [
        *(f"src_c/fl_elementwise_{path}_f64.c" for path in paths),
        "fastloss/_kernels.pyx",
        *(f"src_c/fl_elementwise_{path}_f32.c" for path in paths),
        *(
            f"src_c/{fam}_{path}.c"
            for fam in ("fl_rowwise", "fl_softmax_ce", "fl_objectives")
            for path in paths
        ),
        *(f"src_c/fl_optim_{path}.c" for path in paths),
        # the entry points, which pick an instance at run time
        "src_c/fl_elementwise.c",
        "src_c/fl_softmax_ce.c",
        "src_c/fl_rowwise.c",
        "src_c/fl_optim.c",
        "src_c/fl_objectives.c",
        "src_c/fl_dispatch.c",
        "src_c/fl_ctc.c",  # baseline code only: a dynamic program, no vector loop
    ]
    ext = Extension(
        "fastloss._kernels",
        sources=sources,
        include_dirs=["src_c", np.get_include()],
        define_macros=[
            ("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION"),
            # The runtime floor in pyproject.toml (numpy>=1.25) follows this.
            ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION"),
        ],
        depends=[
            os.path.join("src_c", f)
            for f in os.listdir("src_c")
            if f.endswith((".h", ".c"))
        ],
        extra_compile_args=_sanitize_flags(),
        extra_link_args=_sanitize_flags(),
    )
    return cythonize(
        [ext],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
