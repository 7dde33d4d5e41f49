"""Importing a source tree whose extension is not built says what to do, as NumPy
does, instead of "cannot import name '_kernels' from partially initialized
module"."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import fastloss


def test_unbuilt_source_tree_explains_itself(tmp_path):
    src = Path(fastloss.__file__).resolve().parent
    pkg = tmp_path / "fastloss"
    shutil.copytree(
        src,
        pkg,
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.c"),
    )
    if not (pkg / "_kernels.pyx").exists():  # an installed wheel has no .pyx
        (pkg / "_kernels.pyx").write_text("# stands for the source tree's\n")
    # -S: no site-packages .pth hooks (an editable install's finder would find the
    # built extension elsewhere); NumPy's directory is put on the path by hand
    numpy_dir = str(Path(np.__file__).resolve().parent.parent)
    paths = [str(tmp_path), numpy_dir]
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
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastloss's compiled extension"), last
    assert "is not built" in last and "pip install -e" in last, last
    assert "partially initialized" not in result.stderr
