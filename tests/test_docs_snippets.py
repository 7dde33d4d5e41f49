"""Every ```python block of README.md and docs/*.md runs on its own, as pasted.

Each block is one test case, ``README.md-3`` for the third block of README.md,
run as a script in a fresh interpreter (blocks change process-wide settings such
as threads and the SIMD path) with a scratch directory as cwd and a timeout.

Conventions for the Markdown:

- A ```python block is complete: it imports what it uses and runs in about a
  second. Signatures, shell commands, output listings and other text that is not
  meant to run go in ```text (or ```bash); interactive sessions in ```pycon.
- Optional packages are found from the block's own import statements: a block
  that imports a module this interpreter cannot import (torch, sklearn, ...) is
  skipped, naming it. A block that needs a package it does not import says so
  with an import (``import matplotlib  # for --plot``).
"""

import ast
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
TIMEOUT = 120  # seconds per block; a hang fails instead of blocking the suite
# A block containing the key must print the value.
EXPECTED_OUTPUT = {"fastloss.show_config()": "simd path"}


def _blocks():
    # The tests may run against an installed package, without the docs beside them:
    # then there is nothing to collect and pytest reports the case as skipped.
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.is_file():
            name = path.relative_to(ROOT).as_posix()
            for i, code in enumerate(FENCE.findall(path.read_text()), 1):
                blocks.append(pytest.param(code, id=f"{name}-{i}"))
    return blocks


def _missing_modules(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


@pytest.mark.parametrize("code", _blocks())
def test_python_block_runs(code, tmp_path):
    tree = ast.parse(code)  # a SyntaxError fails the case with its line
    missing = _missing_modules(tree)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    # A file, not -c: mp.spawn children re-import the main module from its path.
    script = tmp_path / "snippet.py"
    script.write_text(code)
    try:
        result = subprocess.run(
            [sys.executable, script.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the block did not finish in {TIMEOUT} s")
    assert result.returncode == 0, result.stderr
    for needle, expected in EXPECTED_OUTPUT.items():
        if needle in code:
            assert expected in result.stdout, result.stdout


def test_readme_blocks_found():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md not next to the tests")
    blocks = FENCE.findall(readme.read_text())
    assert len(blocks) >= 4  # a broken fence pattern would silently test nothing
    assert any("fastloss.show_config()" in b for b in blocks)
