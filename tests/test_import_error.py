"""Importing a fastloss whose extension is missing or broken says what happened and
what to do, as NumPy does, instead of "cannot import name '_kernels' from
partially initialized module"."""

import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import numpy as np

import fastloss


def _import_copy(tmp_path, broken_extension):
    """stderr's last line of `import fastloss` from a copy of the package without
    its built extension (or with an unloadable file in its place)."""
    src = Path(fastloss.__file__).resolve().parent
    pkg = tmp_path / "fastloss"
    shutil.copytree(
        src,
        pkg,
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.c"),
    )
    if not (pkg / "_kernels.pyx").exists():  # an installed wheel has no .pyx
        (pkg / "_kernels.pyx").write_text("# stands for the source tree's\n")
    if broken_extension:
        (pkg / f"_kernels{EXTENSION_SUFFIXES[0]}").write_bytes(b"not a library")
    # -S: no site-packages .pth hooks (an editable install's finder would find the
    # built extension elsewhere); NumPy's directory is put on the path by hand
    paths = [str(tmp_path), str(Path(np.__file__).resolve().parent.parent)]
    code = f"import sys; sys.path[:0] = {paths!r}; import fastloss"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""},
        timeout=120,
    )
    assert result.returncode != 0
    return result.stderr


def test_unbuilt_source_tree_explains_itself(tmp_path):
    err = _import_copy(tmp_path, broken_extension=False)
    last = err.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastloss's compiled extension"), last
    assert "is not built" in last and "pip install -e" in last, last
    assert "partially initialized" not in err


def test_broken_extension_keeps_the_cause(tmp_path):
    err = _import_copy(tmp_path, broken_extension=True)
    last = err.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastloss's compiled extension"), last
    assert "is not built" not in last and "Rebuild or reinstall" in last, last
    assert "_kernels" in last and "(" in last  # the loader's own reason, in ()
