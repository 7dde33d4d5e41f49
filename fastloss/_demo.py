"""`python -m fastloss demo`: one fused loss-and-gradient call on a language-model
sized batch, checked against a plain float64 NumPy computation and timed against it."""

import time

import numpy as np

from ._config import show_config
from ._softmax_ce import softmax_cross_entropy_and_grad


def _numpy_reference(logits, target, ignore_index):
    """Plain float64 NumPy: log-softmax by max subtraction, mean over kept rows."""
    x = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    t = target.reshape(-1)
    keep = t != ignore_index
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    logp = x - m - np.log(s)
    rows = np.flatnonzero(keep)
    loss = -logp[rows, t[rows]].sum() / len(rows)
    grad = e / s
    grad[rows, t[rows]] -= 1.0
    grad[~keep] = 0.0
    return loss, (grad / len(rows)).reshape(logits.shape)


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(batch=8, seq=256, vocab=32000, seed=0):
    rng = np.random.default_rng(seed)
    print(f"logits: ({batch}, {seq}, {vocab}) float32, a language model's last layer")
    logits = rng.standard_normal((batch, seq, vocab), dtype=np.float32) * 4.0
    target = rng.integers(0, vocab, size=(batch, seq))
    target[:, -16:] = -100  # padding at the end of every sequence is ignored
    show_config()

    loss, grad = softmax_cross_entropy_and_grad(logits, target)
    ref_loss, ref_grad = _numpy_reference(logits, target, -100)
    loss_err = abs(loss - ref_loss) / abs(ref_loss)
    grad_err = float(np.abs(grad - ref_grad).max() / np.abs(ref_grad).max())
    print(f"\nloss (fastloss, float32 kernel)  {loss:.8f}")
    print(f"loss (NumPy float64 reference)   {ref_loss:.8f}")
    print(f"relative error: loss {loss_err:.1e}, gradient {grad_err:.1e} (max-norm)")
    ok = loss_err < 1e-6 and grad_err < 1e-5
    print("agreement:", "OK" if ok else "MISMATCH")

    out = np.empty_like(logits)
    t_fast = _median_time(
        lambda: softmax_cross_entropy_and_grad(logits, target, out=out), 5
    )
    t_ref = _median_time(lambda: _numpy_reference(logits, target, -100), 3)
    work = logits.copy()
    t_inplace = _median_time(
        lambda: softmax_cross_entropy_and_grad(work, target, out=work), 1
    )
    print("\nmedian time for loss + gradient")
    print(f"  fastloss, into a reused buffer   {t_fast * 1e3:8.1f} ms")
    print(f"  fastloss, in place (out=logits)  {t_inplace * 1e3:8.1f} ms")
    print(f"  plain NumPy (float64)            {t_ref * 1e3:8.1f} ms")
    print(f"  speed-up over NumPy: {t_ref / t_fast:.1f}x")
    return 0 if ok else 1
