"""CTC loss (Connectionist Temporal Classification): `ctc_loss` and
`ctc_loss_and_grad`, PyTorch's ``torch.nn.functional.ctc_loss`` as a fused C kernel
(src_c/fl_ctc.c: forward-backward in log space, float64 inside, one sequence per
thread, sequence losses added in a fixed order).

Every argument is checked here, with a message naming it; the kernel checks the
lengths, offsets and labels again before it reads anything, so no call can make it
read or write out of bounds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import (
    _I64,
    bool_flag,
    check_out,
    check_reduction,
    finish_loss,
    float_input,
    grad_buffer,
    int_scalar,
    weight_array,
)

__all__ = ["ctc_loss", "ctc_loss_and_grad"]


def _int_array(value, name, ndim):
    """An integer array of `ndim` dimensions (a 0-d length may be a Python int)."""
    arr = value if type(value) is np.ndarray else np.asarray(value)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and arr.size == 0):
        # an empty list converts to float64: accepted as "no labels"
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds {arr.max()}, beyond int64")
    return np.ascontiguousarray(arr, dtype=_I64)


def _lengths(value, name, n, unbatched):
    """(n,) int64 lengths; a scalar for unbatched input."""
    arr = _int_array(value, name, (0,) if unbatched else (0, 1))
    if unbatched:
        return arr.reshape(1)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},) (one length per sequence), got {arr.shape}"
        )
    return arr


def _first(mask):
    return int(np.flatnonzero(mask.reshape(-1))[0])


def _prepare(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    reduction,
    sample_weight,
    blank,
    zero_infinity,
    from_logits,
    batch_first,
    n_threads,
):
    """Every check, then the kernel's arguments."""
    check_reduction(reduction)
    zero_infinity = bool_flag(zero_infinity, "zero_infinity")
    from_logits = bool_flag(from_logits, "from_logits")
    batch_first = bool_flag(batch_first, "batch_first")
    x, res_dtype = float_input(log_probs, "log_probs")
    if x.ndim not in (2, 3):
        raise ValueError(
            "log_probs must be 3-D (T, N, C) (with batch_first=True: (N, T, C)), or "
            f"2-D (T, C) for one sequence, got shape {x.shape}"
        )
    unbatched = x.ndim == 2
    if unbatched:
        (t, c), n = x.shape, 1
    elif batch_first:
        n, t, c = x.shape
    else:
        t, n, c = x.shape
    if c < 1:
        raise ValueError("log_probs must have at least one class (the last axis)")
    blank = int_scalar(blank, "blank")
    if not 0 <= blank < c:
        raise ValueError(f"blank must be a class index in [0, {c}), got {blank}")
    y = _int_array(targets, "targets", (1,) if unbatched else (1, 2))
    il = _lengths(input_lengths, "input_lengths", n, unbatched)
    tl = _lengths(target_lengths, "target_lengths", n, unbatched)
    if n and (il.min() < 0 or il.max() > t):
        i = _first((il < 0) | (il > t))
        raise ValueError(
            f"input_lengths[{i}] = {il[i]} is out of range: it must be in [0, {t}] "
            f"(T, the frames of log_probs)"
        )
    if n and tl.min() < 0:
        i = _first(tl < 0)
        raise ValueError(f"target_lengths[{i}] = {tl[i]} is negative")
    if y.ndim == 2 or unbatched:
        s = y.shape[-1]
        if y.ndim == 2 and y.shape[0] != n:
            raise ValueError(
                f"targets of shape {y.shape} must have {n} rows (one per sequence), "
                "or be 1-D: every sequence's labels concatenated"
            )
        if n and tl.max() > s:
            i = _first(tl > s)
            raise ValueError(
                f"target_lengths[{i}] = {tl[i]} exceeds the {s} labels of a target row"
            )
        offsets = np.arange(n, dtype=_I64) * s
        pos = np.arange(s)
        used = (pos[None, :] < tl[:, None]).reshape(-1)
        cols = 0 if unbatched else s  # position k of the flat targets: [k // s, k % s]
    else:
        total = int(tl.sum())
        if total != y.shape[0]:
            raise ValueError(
                f"1-D targets must hold the concatenated labels of every sequence: "
                f"sum(target_lengths) = {total}, but targets has {y.shape[0]}"
            )
        offsets = np.cumsum(tl) - tl  # where each sequence's labels start
        used = np.ones(y.shape[0], dtype=bool)
        cols = 0

    def where(k):
        return f"[{k // cols}, {k % cols}]" if cols else f"[{k}]"

    flat = y.reshape(-1)
    bad = used & ((flat < 0) | (flat >= c))
    if bad.any():
        k = _first(bad)
        raise ValueError(
            f"targets{where(k)} = {flat[k]} is out of range: labels must be class "
            f"indices in [0, {c})"
        )
    bad = used & (flat == blank)
    if bad.any():
        k = _first(bad)
        raise ValueError(
            f"targets{where(k)} = {flat[k]} is the blank (blank={blank}): a label "
            "sequence cannot contain it (padding beyond target_lengths may)"
        )
    sw = weight_array(sample_weight, "sample_weight", (n,), x.dtype)
    nt = _resolve_n_threads(n_threads)
    flags = (blank, batch_first, from_logits, zero_infinity)
    return x, res_dtype, flat, offsets, il, tl, sw, (t, n, c), unbatched, nt, flags


def _ctc(out, want_grad, log_probs, targets, input_lengths, target_lengths, *opts):
    """Both functions' call; `opts` are `_prepare`'s: reduction, sample_weight, then
    the flags and n_threads."""
    reduction, sample_weight = opts[:2]
    x, res_dtype, y, offsets, il, tl, sw, (t, n, c), unbatched, nt, flags = _prepare(
        log_probs, targets, input_lengths, target_lengths, *opts
    )
    if want_grad and out is not None:
        check_out(
            out,
            x.shape,
            res_dtype,
            [
                ("log_probs", log_probs, x.dtype),
                ("targets", targets, _I64),
                ("input_lengths", input_lengths, _I64),
                ("target_lengths", target_lengths, _I64),
                ("sample_weight", sample_weight, x.dtype),
            ],
            allow_alias=log_probs,
        )
    grad = grad_buffer(x, log_probs, out, res_dtype, x.shape) if want_grad else None
    rows = np.empty(n, dtype=x.dtype) if reduction == "none" else None
    total = _kernels.ctc(
        x.reshape(-1),
        y,
        offsets,
        il,
        tl,
        sw,
        None if grad is None else grad.reshape(-1),
        rows,
        t,
        n,
        c,
        *flags,
        _kernels.CTC_REDUCTIONS[reduction],
        nt,
    )
    if rows is not None and unbatched:
        rows = rows.reshape(())
    return finish_loss(total, rows, grad, out, res_dtype)


def ctc_loss(
    log_probs: npt.ArrayLike,
    targets: npt.ArrayLike,
    input_lengths: npt.ArrayLike,
    target_lengths: npt.ArrayLike,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    from_logits: bool = False,
    batch_first: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    n_threads: int | None = None,
) -> LossValue:
    return _ctc(
        None,
        False,
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        reduction,
        sample_weight,
        blank,
        zero_infinity,
        from_logits,
        batch_first,
        n_threads,
    )


def ctc_loss_and_grad(
    log_probs: npt.ArrayLike,
    targets: npt.ArrayLike,
    input_lengths: npt.ArrayLike,
    target_lengths: npt.ArrayLike,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    from_logits: bool = False,
    batch_first: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _ctc(
        out,
        True,
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        reduction,
        sample_weight,
        blank,
        zero_infinity,
        from_logits,
        batch_first,
        n_threads,
    )


_PARAMS = """\
    Parameters
    ----------
    log_probs : array_like of shape (T, N, C)
        Per-frame log-probabilities of the C classes (blank included), as
        ``log_softmax`` gives them: T frames, N sequences (torch's layout). With
        ``batch_first=True`` the shape is (N, T, C) (Keras's layout); a 2-D array
        (T, C) is one sequence (torch's unbatched form). With ``from_logits=True``
        it holds unnormalised logits, normalised in the kernel by a log-softmax over
        the class axis. float32 and float64 are computed as given (the dynamic
        program in float64); float16 in float32 and the results cast back;
        integers become float64. Values are not checked to be log-probabilities
        (as torch); NaN propagates.
    targets : array_like of integers
        The label sequences: (N, S) padded rows, sequence ``n`` being
        ``targets[n, :target_lengths[n]]`` (the padding is not read), or 1-D, every
        sequence's labels concatenated (``sum(target_lengths)`` of them). For one
        sequence, 1-D (S,). Labels are class indices in ``[0, C)`` other than
        ``blank``.
    input_lengths : array_like of integers, shape (N,)
        Frames of each sequence, in ``[0, T]``; frames beyond them are not read and
        get a zero gradient. A scalar for one sequence.
    target_lengths : array_like of integers, shape (N,)
        Labels of each sequence, ``>= 0`` (at most S for padded targets). A
        scalar for one sequence.
    blank : int, default=0
        The blank class, in ``[0, C)``.
    reduction : {"mean", "sum", "none"}, default="mean"
        "none" returns the N sequence losses (times ``sample_weight``), of the
        input's dtype (0-d for one sequence); "sum" their sum; "mean" is torch's:
        each sequence's loss divided by its target length (at least 1), then the
        mean over the sequences (with ``sample_weight`` ``w``:
        ``sum_n w_n loss_n / max(L_n, 1) / sum_n w_n``; 0.0 when that is 0 or
        N = 0). Sums are float64, in sequence order.
    zero_infinity : bool, default=False
        As torch: an infinite sequence loss (no alignment exists: too few frames
        for the labels and the blanks that repeated labels need, or a label at
        ``-inf`` everywhere it could go) counts 0, with a zero gradient. Without
        it the loss is ``inf`` and that sequence's gradient NaN on its frames
        (torch's values too).
    from_logits : bool, default=False
        ``log_probs`` holds logits: the loss is that of ``log_softmax(log_probs)``
        and the gradient is with respect to the logits.
    batch_first : bool, default=False
        ``log_probs`` is (N, T, C) and so is the gradient.
    sample_weight : array_like of shape (N,), optional
        Per-sequence weights (finite; 0 or of magnitude in [2**-32, 2**32] for
        float32, [2**-200, 2**200] for float64). A weight of 0 makes the sequence
        contribute exactly 0, even when its loss is infinite. torch has no such
        argument.
    n_threads : int, optional
        OpenMP threads over the sequences; None uses `fastloss.get_num_threads`.
        Results are bit-identical for every thread count. Small problems run on one
        thread."""

_NOTES = """\
    Notes
    -----
    For a sequence with labels ``l_1..l_L`` and the extended sequence ``l' =
    (blank, l_1, blank, ..., l_L, blank)`` of ``2L + 1`` states, the loss is
    ``-log sum over alignments pi of prod_t exp(lp[t, pi_t])``, over the
    alignments of its frames that collapse to the labels (merge repeats, drop
    blanks). It is computed by the forward-backward recursion in log space: the
    ``alpha`` of every frame (``T_n x (2L + 1)`` float64 of scratch per sequence in
    flight) and two rows of ``beta``; log-adds are taken around their maximum, so
    nothing overflows and ``-inf`` log-probabilities act as masks. The gradient
    with respect to ``lp[t, c]`` is minus the posterior probability of class
    ``c`` at frame ``t``: ``-sum_{s: l'_s = c} exp(alpha_t(s) + beta_t(s) +
    loss)``, each term in [0, 1].

    Relation to ``torch.nn.functional.ctc_loss``: the same arguments (log_probs
    (T, N, C), targets padded or concatenated, lengths, ``blank``, ``reduction``
    with its per-target-length "mean", ``zero_infinity``) and the same loss
    values. Differences: targets out of ``[0, C)`` or equal to ``blank`` and lengths
    out of range are errors here (torch reads them unchecked or fails deep
    inside); ``sample_weight``, ``from_logits`` and ``batch_first`` are additions;
    "mean" over N = 0 sequences is 0.0 (torch: NaN).

    The gradient of `ctc_loss_and_grad` is the derivative of the loss with
    respect to ``log_probs`` as given (``from_logits=False``), which is what
    finite differences measure: ``-posterior`` on the frames of each sequence.
    torch's backward of ``ctc_loss`` instead returns ``exp(log_probs) -
    posterior`` for ``log_probs.grad``: the gradient with respect to the logits
    under the assumption that ``log_probs`` came from ``log_softmax``. Both give
    the same gradient once propagated through ``log_softmax`` (``softmax(x) -
    posterior``, because each frame's posterior sums to 1), which is exactly what
    ``from_logits=True`` returns in one call."""

ctc_loss.__doc__ = f"""CTC loss (Connectionist Temporal Classification) of per-frame
    log-probabilities against label sequences, as ``torch.nn.functional.ctc_loss``.

    The forward-only twin of `ctc_loss_and_grad` (the same kernel, without the
    backward recursion).

{_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape (N,)
        (0-d for one sequence) with the input's dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed:
        shapes, a length out of range, a label out of ``[0, C)`` or equal to the
        blank (with its position), an unknown ``reduction``.

{_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> lp = np.log(np.full((3, 1, 3), 1 / 3))  # 3 frames, 1 sequence, 3 classes
    >>> loss = fastloss.ctc_loss(lp, [[1, 2]], [3], [2], reduction="sum")
    >>> round(loss, 6)  # 5 alignments of "12" in 3 frames: -log(5 / 27)
    1.686399
    >>> fastloss.ctc_loss(lp, [[1, 1]], [2], [2], reduction="none")  # needs 3 frames
    array([inf])
"""

ctc_loss_and_grad.__doc__ = f"""CTC loss and its gradient with respect to
    ``log_probs`` (or to the logits, with ``from_logits=True``), from one fused
    kernel call.

{_PARAMS}
    out : ndarray, optional
        Where to write the gradient: a writeable, C-contiguous array of
        ``log_probs``' shape and the gradient's dtype (``log_probs``' dtype;
        float64 for integer input). It may be ``log_probs`` itself (in place: each
        frame is read before its gradient is written over it); any other overlap
        with an input is an error. Without it a new array is returned.

    Returns
    -------
    loss : float or ndarray
        As `ctc_loss`.
    grad : ndarray
        d loss / d log_probs (see the Notes), of ``log_probs``' shape and dtype:
        ``-posterior`` times the reduction's factor of the sequence (1 for "sum"
        and "none", ``w_n / (max(L_n, 1) sum_m w_m)`` for "mean") on frames
        ``t < input_lengths[n]``, 0 on the others. With ``from_logits=True``,
        ``softmax(x) - posterior`` times that factor.

    Raises
    ------
    ValueError, TypeError
        As `ctc_loss`, and for an ``out`` of the wrong shape, dtype or layout, or
        overlapping an input other than ``log_probs`` itself.

{_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> lp = np.log(np.full((3, 1, 3), 1 / 3))
    >>> loss, grad = fastloss.ctc_loss_and_grad(lp, [[1, 2]], [3], [2], reduction="sum")
    >>> grad[:, 0].round(4)  # minus the posterior of each class at each frame
    array([[-0.2, -0.8, -0. ],
           [-0.2, -0.4, -0.4],
           [-0.2, -0. , -0.8]])
"""
