"""Build script: Cython bindings over the C99 kernels in src_c/.

OpenMP is probed by compiling, linking and running a tiny program; without it (or
with FASTLOSS_DISABLE_OPENMP=1) the package builds serially and says so. No flag
tunes the build for the build machine's CPU: the AVX2+FMA kernels are compiled with a
per-function target attribute and chosen at run time (src_c/fl_dispatch.c), so the
wheel runs on any x86-64.
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
# on so the AVX2+FMA path fuses the polynomial's multiply-adds.
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


def _openmp_flags():
    return ["-fopenmp"], ["-fopenmp"]


def _probe_openmp(compiler):
    """Return True when the compiler can build, link and run an OpenMP program."""
    if os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") not in ("", "0"):
        return False
    cflags, ldflags = _openmp_flags()
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, exe, extra_postargs=ldflags)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        return out.returncode == 0 and out.stdout.strip() == "1"
    except Exception:  # any compile/link/run failure means "no OpenMP"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        is_msvc = self.compiler.compiler_type == "msvc"
        if is_msvc:
            flags = ["/O2", "/fp:precise"]
            omp_c, omp_l = ["/openmp"], []
            have_omp = os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") in ("", "0")
        else:
            flags = list(KERNEL_FLAGS)
            omp_c, omp_l = _openmp_flags()
            have_omp = _probe_openmp(self.compiler)
        if not have_omp:
            msg = (
                "fastloss: building WITHOUT OpenMP (kernels run on one thread). "
                "Set up an OpenMP-capable compiler to get multithreading."
            )
            if os.environ.get("FASTLOSS_DISABLE_OPENMP", "0") in ("", "0"):
                warnings.warn(msg, stacklevel=1)
            print(msg, file=sys.stderr)
            # `omp simd` still vectorises without the OpenMP runtime.
            omp_c = [] if is_msvc else ["-fopenmp-simd"]
            omp_l = []
        for ext in self.extensions:
            ext.extra_compile_args = flags + omp_c + ext.extra_compile_args
            ext.extra_link_args = omp_l + ext.extra_link_args
            ext.define_macros.append(("FL_HAVE_OPENMP", "1" if have_omp else "0"))
        super().build_extensions()


def _extensions():
    sources = [
        "fastloss/_kernels.pyx",
        "src_c/fl_dispatch.c",
        "src_c/fl_softmax_ce.c",
        "src_c/fl_elementwise.c",
        "src_c/fl_rowwise.c",
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
