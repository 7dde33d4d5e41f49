"""The README's Python blocks run as a user would paste them."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    if not README.exists():  # tests run against an installed package elsewhere
        import pytest

        pytest.skip("README.md not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    # A subprocess: the tour changes process-wide settings (threads, SIMD path).
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "simd path" in result.stdout  # show_config() printed
