"""The checks that test_similarity.py and test_categorical.py run on every loss of
their table: a loss's values and gradient against its float64 twin, the forward-only
call against the fused one, and every input layout and ``out=`` mode. `losses` is a
file's ``{test id: (loss, loss_and_grad, twin, case builder, option sets)}``
(``_matrix.table_losses``); a case builder is ``build(rng, shape, dtype, sw=...,
**options) -> ((input, target), kwargs)``."""

import numpy as np
from _reference import (
    assert_close,
    assert_same_bits,
    assert_unchanged,
    non_contiguous,
    read_only,
    snapshot,
)


def check_twin(losses, name, loss, grad, args, kw):
    ref = losses[name][2](*args, **kw)
    dtype = np.asarray(args[0]).dtype
    dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    if kw.get("reduction", "mean") == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype
        assert loss.shape == np.shape(args[0])[:-1]
    else:
        assert isinstance(loss, float), type(loss)
    cmp = np.float32 if dtype == np.float16 else dtype
    assert_close(loss, ref.loss, ref.loss_scale, cmp, "loss")
    if grad is not None:
        assert isinstance(grad, np.ndarray) and grad.dtype == dtype
        assert grad.shape == np.shape(args[0])
        assert_close(grad, ref.grad, ref.grad_scale, dtype, "grad")


def run_both(losses, name, args, kw):
    """(loss, grad) of the fused call; the forward-only call's loss is the same
    bits."""
    fwd, fused = losses[name][:2]
    loss_only = fwd(*args, **kw)
    loss, grad = fused(*args, **kw)
    assert_same_bits(loss_only, loss)
    return loss, grad


def check_matches_twin(losses, name, dtype, reduction, sw, shape):
    rng = np.random.default_rng(3)
    for options in losses[name][4]:
        args, kw = losses[name][3](
            rng, shape, dtype, sw=sw and len(shape) > 1, **options
        )
        kw["reduction"] = reduction
        loss, grad = run_both(losses, name, args, kw)
        check_twin(losses, name, loss, grad, args, kw)


def check_layouts_and_out(losses, name, dtype, layout, mode):
    """Strided and read-only inputs, out= and in place: the same values, and
    inputs not given as out= untouched."""
    rng = np.random.default_rng(5)
    (pred, target), kw = losses[name][3](rng, (9, 6), dtype, sw=True)
    want = losses[name][1](pred.copy(), target.copy(), **kw)
    if layout == "strided":
        pred, target = non_contiguous(pred), non_contiguous(target)
    elif layout == "readonly":
        pred, target = read_only(pred), read_only(target)
    snap = snapshot(pred, target)
    if mode == "out":
        out = np.full(pred.shape, np.nan, dtype=dtype)
        loss, grad = losses[name][1](pred, target, out=out, **kw)
        assert grad is out
        assert_unchanged(snap)
    elif mode == "inplace":
        loss, grad = losses[name][1](pred, target, out=pred, **kw)
        assert grad is pred
        assert_unchanged(snap[1:])
    else:
        loss, grad = losses[name][1](pred, target, **kw)
        assert_unchanged(snap)
    assert_same_bits(loss, want[0])
    assert_same_bits(grad, want[1])
