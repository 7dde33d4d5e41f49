"""Build and runtime configuration: show_config, threads, SIMD selection."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _reference import assert_same_bits, check_against_reference, make_case

import fastloss

KEYS = {"version", "openmp", "compiler", "n_threads", "simd", "simd_available"}


def test_config_dict():
    cfg = fastloss.config()
    assert set(cfg) >= KEYS
    assert isinstance(cfg["version"], str) and cfg["version"]
    assert isinstance(cfg["openmp"], bool)
    assert isinstance(cfg["n_threads"], int) and cfg["n_threads"] >= 1
    assert "baseline" in cfg["simd_available"]
    assert set(cfg["simd_available"]) <= {"baseline", "avx2", "avx512"}
    assert cfg["simd"] in cfg["simd_available"]
    assert cfg["simd"] == fastloss.get_simd()
    assert cfg["n_threads"] == fastloss.get_num_threads()
    assert cfg["version"] == fastloss.__version__
    assert cfg["compiler"].split()[0] in ("gcc", "clang", "msvc", "unknown")


def test_compiler_is_named(capsys):
    """config() and show_config() name the compiler of the kernels;
    FASTLOSS_EXPECT_COMPILER (set by tools/test_clang.sh) says which it must be."""
    name = fastloss.config()["compiler"]
    want = os.environ.get("FASTLOSS_EXPECT_COMPILER")
    if want:
        assert name.startswith(want + " ")
    fastloss.show_config()
    assert name in capsys.readouterr().out


def test_show_config_prints_version_openmp_threads_simd(capsys):
    fastloss.show_config()
    text = capsys.readouterr().out
    cfg = fastloss.config()
    assert cfg["version"] in text
    lower = text.lower()
    for word in ("openmp", "thread", "simd"):
        assert word in lower, f"{word!r} missing from show_config():\n{text}"
    openmp_line = next(line for line in lower.splitlines() if "openmp" in line)
    words = set(openmp_line.replace(":", " ").replace("=", " ").split())
    truthy = {"on", "yes", "true", "enabled"}
    falsy = {"off", "no", "false", "disabled"}
    assert words & (truthy if cfg["openmp"] else falsy), openmp_line
    assert str(cfg["n_threads"]) in text
    assert cfg["simd"] in text


def test_set_get_num_threads_round_trip(restore_threads, openmp):
    default = fastloss.get_num_threads()
    assert isinstance(default, int) and default >= 1
    fastloss.set_num_threads(1)
    assert fastloss.get_num_threads() == 1
    assert fastloss.config()["n_threads"] == 1
    fastloss.set_num_threads(3)
    if openmp:
        assert fastloss.get_num_threads() == 3
        assert fastloss.config()["n_threads"] == 3
    else:
        assert fastloss.get_num_threads() >= 1
    fastloss.set_num_threads(None)
    assert fastloss.get_num_threads() == default


def test_results_do_not_depend_on_set_num_threads(restore_threads, rng):
    logits, target, kw = make_case(rng, (300, 257), np.float32, "soft", weight=True)
    fastloss.set_num_threads(1)
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    fastloss.set_num_threads(2)
    got = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


def test_threadpoolctl_limits_are_honoured(openmp, rng):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not openmp:
        pytest.skip("built without OpenMP")
    fastloss.set_num_threads(None)
    before = fastloss.get_num_threads()
    logits, target, kw = make_case(rng, (64, 33), np.float64, "hard")
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fastloss.get_num_threads() == 1
        got = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastloss.get_num_threads() == 1
    assert fastloss.get_num_threads() == before
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


def _python(code, **env_changes):
    """Run ``code`` in a fresh interpreter that imports this same fastloss."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FASTLOSS_SIMD", "OMP_NUM_THREADS")
    }
    env.update(env_changes)
    root = str(Path(fastloss.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_env_var_forces_baseline_simd():
    assert (
        _python("import fastloss; print(fastloss.get_simd())", FASTLOSS_SIMD="baseline")
        == "baseline"
    )


def test_simd_is_chosen_from_the_cpu_without_env_var():
    code = "import fastloss; print(fastloss.get_simd(), fastloss.__file__)"
    name, path = _python(code).split(maxsplit=1)
    assert Path(path).resolve() == Path(fastloss.__file__).resolve()
    # simd_available is in the order of preference: the best comes last
    assert name == fastloss.config()["simd_available"][-1]


def test_avx512_path_follows_the_cpu_flags():
    """A build with the avx2 path (gcc on x86) has the avx512 one too, offered
    exactly when the CPU has AVX-512 F/VL/BW/DQ and the OS saves its registers
    (Linux hides the flags otherwise)."""
    available = fastloss.config()["simd_available"]
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    flag_lines = [x for x in lines if x.startswith("flags")]
    if "avx2" not in available or not flag_lines:
        pytest.skip("no avx2 path here, or no x86 /proc/cpuinfo")
    flags = set(flag_lines[0].split(":", 1)[1].split())
    want = {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags
    assert ("avx512" in available) == want, (available, sorted(flags))


def test_omp_num_threads_is_honoured(openmp):
    if not openmp:
        pytest.skip("built without OpenMP")
    code = "import fastloss; print(fastloss.get_num_threads())"
    assert _python(code, OMP_NUM_THREADS="1") == "1"
    assert _python(code, OMP_NUM_THREADS="3") == "3"


def test_set_simd_switches_and_none_restores_auto(rng):
    auto = fastloss.get_simd()
    logits, target, kw = make_case(rng, (20, 37), np.float64, "hard")
    try:
        for name in fastloss.config()["simd_available"]:
            fastloss.set_simd(name)
            assert fastloss.get_simd() == name
            assert fastloss.config()["simd"] == name
            loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
            check_against_reference(loss, grad, logits, target, kw)
    finally:
        fastloss.set_simd(None)
    if "FASTLOSS_SIMD" not in os.environ:
        assert fastloss.get_simd() == auto
