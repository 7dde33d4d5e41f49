"""Static typing: the annotations, the compiled module's stub and ``py.typed`` make
``mypy --strict`` pass on a user's script (tests/typing/), and mypy does reject a
wrong call, so the check can fail."""

import importlib.util
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import fastloss

SCRIPTS = Path(__file__).resolve().parent / "typing"
USER_SCRIPT = SCRIPTS / "user_script.py"
TORCH_SCRIPT = SCRIPTS / "user_script_torch.py"

needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed"
)
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)


def _mypy(script, tmp_path):
    """Run ``mypy --strict script`` on the fastloss this test imported: from the
    source tree (whose pyproject.toml holds the [tool.mypy] settings) for an
    in-place or editable build, which mypy finds from the working directory; from
    anywhere for an installed package, which mypy finds in site-packages."""
    pkg_parent = Path(fastloss.__file__).resolve().parents[1]
    sites = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    cwd = tmp_path if pkg_parent in sites else pkg_parent
    cmd = [sys.executable, "-m", "mypy", "--strict", "--cache-dir"]
    cmd += [str(tmp_path / "mypy_cache"), "--show-error-codes", str(script)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)


def _names(text, prefix, names):
    return [n for n in names if f"{prefix}{n}" not in text]


def test_user_script_covers_the_public_api():
    text = USER_SCRIPT.read_text()
    missing = _names(text, "fastloss.", fastloss.__all__)
    missing += _names(text, "losses.", fastloss.losses.__all__)
    if importlib.util.find_spec("fastloss.nn") is not None:
        nn = importlib.import_module("fastloss.nn")
        missing += _names(text, "nn.", getattr(nn, "__all__", []))
    assert not missing, f"tests/typing/user_script.py never uses {missing}"


@needs_torch
def test_torch_script_covers_fastloss_torch():
    ft = importlib.import_module("fastloss.torch")
    missing = _names(TORCH_SCRIPT.read_text(), "ft.", ft.__all__)
    assert not missing, f"tests/typing/user_script_torch.py never uses {missing}"


@pytest.mark.parametrize(
    "script", [USER_SCRIPT, pytest.param(TORCH_SCRIPT, marks=needs_torch)]
)
def test_script_runs(script, tmp_path):
    # The scripts' calls are real ones: they run, outside the source tree.
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_mypy
def test_mypy_strict_passes_on_user_script(tmp_path):
    result = _mypy(USER_SCRIPT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_mypy
@needs_torch
def test_mypy_strict_passes_on_torch_script(tmp_path):
    result = _mypy(TORCH_SCRIPT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_mypy
def test_mypy_rejects_a_wrong_call(tmp_path):
    """The negative control: mypy sees fastloss's real signatures (an unresolved
    import would be a different error) and fails on misuse."""
    bad = tmp_path / "bad_script.py"
    bad.write_text(
        textwrap.dedent(
            """\
            import fastloss

            ppl: str = fastloss.perplexity([[0.0, 1.0]], [1])
            fastloss.mse_loss([1.0], [2.0], reduction=3)
            fastloss.softmax_cross_entropy([[0.0, 1.0]], [1], no_such_option=True)
            """
        )
    )
    result = _mypy(bad, tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "import-not-found" not in out and "import-untyped" not in out, out
    for line, code in ((3, "assignment"), (4, "arg-type"), (5, "call-arg")):
        assert f"bad_script.py:{line}: error:" in out and f"[{code}]" in out, out
