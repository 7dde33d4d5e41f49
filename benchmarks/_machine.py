"""What machine and software a benchmark ran on, as printable lines."""

from __future__ import annotations

import importlib
import io
import os
import platform
import time
from contextlib import redirect_stdout

# CPU features that decide which SIMD path a kernel can take.
_FLAGS = ("sse2", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "amx_tile")
_VERSIONED = ("numpy", "torch", "jax", "jaxlib", "numba", "threadpoolctl")
_ENV = ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "XLA_FLAGS")


def _cpuinfo() -> dict:
    """The first processor's block of /proc/cpuinfo (Linux), else {}."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def _cache_sizes() -> str:
    base = "/sys/devices/system/cpu/cpu0/cache"
    parts = []
    try:
        for index in sorted(os.listdir(base)):
            if not index.startswith("index"):
                continue
            with open(f"{base}/{index}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{index}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{index}/size") as f:
                size = f.read().strip()
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            parts.append(f"L{level}{suffix} {size}")
    except OSError:
        return "unknown"
    return ", ".join(parts)


def _mem_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(name: str) -> str:
    try:
        return getattr(importlib.import_module(name), "__version__", "?")
    except Exception:  # noqa: BLE001 - a broken install may raise anything
        return "not importable"


def _fastloss_config() -> list[str]:
    try:
        import fastloss
    except Exception as exc:  # noqa: BLE001 - reported; the peers still run
        return [f"fastloss: not importable ({type(exc).__name__}: {exc})"]
    buf = io.StringIO()
    with redirect_stdout(buf):
        fastloss.show_config()
    return ["fastloss.show_config():"] + [
        "  " + line for line in buf.getvalue().splitlines()
    ]


def describe() -> list[str]:
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    lines = [
        f"CPU: {cpu.get('model name', platform.processor() or 'unknown')}"
        f" (vendor {cpu.get('vendor_id', '?')}, family {cpu.get('cpu family', '?')}"
        f" model {cpu.get('model', '?')} stepping {cpu.get('stepping', '?')},"
        f" {cpu.get('cpu MHz', '?')} MHz"
        + (", virtualised" if "hypervisor" in flags else "")
        + ")",
        "CPU flags: " + " ".join(f for f in _FLAGS if f in flags),
        f"cores: {os.cpu_count()} online, {affinity} in this process's affinity mask",
        f"caches: {_cache_sizes()}; memory: {_mem_total()}",
        f"OS: {platform.platform()}; Python {platform.python_version()}",
        "versions: " + ", ".join(f"{n} {_version(n)}" for n in _VERSIONED),
        "env: " + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in _ENV),
    ]
    return lines + _fastloss_config()


def other_cpu_seconds() -> tuple[float, float]:
    """(CPU-seconds used so far by every process but this one and the children
    it has waited for (a peer run in a subprocess), steal seconds).

    The difference of two readings says whether something else ran during a
    measurement on this small machine; (0, 0) where /proc/stat is missing.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal ...
    busy = sum(fields[i] for i in (0, 1, 2, 5, 6)) / tick
    steal = fields[7] / tick if len(fields) > 7 else 0.0
    own = os.times()
    mine = own.user + own.system + own.children_user + own.children_system
    return busy - mine, steal


def wait_until_idle(quiet_s: float, timeout_s: float, step_s: float = 0.5) -> bool:
    """Wait until other processes have used under 3 % of one CPU for ``quiet_s``
    seconds in a row; False if ``timeout_s`` passed first."""
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    last, _ = other_cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(step_s)
        now, _ = other_cpu_seconds()
        if now - last > 0.03 * step_s:
            quiet_since = time.monotonic()
        last = now
        if time.monotonic() - quiet_since >= quiet_s:
            return True
    return False
