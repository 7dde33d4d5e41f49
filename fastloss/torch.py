"""PyTorch adapter: fastloss's fused kernels as differentiable losses on CPU tensors.

Optional: importing this module imports PyTorch (``import fastloss`` never does)::

    import fastloss.torch as flt

    loss = flt.cross_entropy(logits, target, ignore_index=-100)   # like F.cross_entropy
    loss.backward()

Each loss is a `torch.autograd.Function` whose forward runs one fused fastloss call
that returns the loss and writes the gradient, zero-copy through NumPy views of the
tensors; the gradient is saved and backward only scales it by ``grad_output``
(skipped when that is exactly 1, as after ``loss.backward()`` of a reduced loss).
Without autograd (``torch.no_grad()``, or no input requiring grad) the forward-only
kernel runs and no gradient memory is allocated. (`linear_cross_entropy` with
``reduction="none"`` is the exception: its backward calls the kernel again.)

The torch-named functions take torch's arguments, in torch's order, with the same
defaults and results; the deprecated ``size_average`` and ``reduce`` are not taken.
fastloss's extra options are keyword-only. The contract shared by every function:

- **Devices.** CPU tensors only; a tensor on another device (``cuda``, ``mps``,
  ``meta``) raises ``ValueError`` naming it. Sparse tensors raise ``TypeError``.
- **Dtypes.** float32 and float64 are computed as given; float16 and bfloat16 are
  computed in float32 and the loss and gradient cast back to the input's dtype.
  Other input dtypes raise ``TypeError``.
- **Memory.** A contiguous float32/float64 input is read in place (no copy); the
  gradient is written by the kernel into a new tensor, or over the private copy when
  one had to be made (non-contiguous or half-precision input, or `cross_entropy`'s
  class axis moved last for ``(N, C, d1, ...)`` input). Inputs are never modified.
- **Gradients.** Only the prediction is differentiated (`triplet_margin_loss`:
  anchor, positive and negative; `linear_cross_entropy`: hidden, weight and
  bias). Where PyTorch would also
  differentiate another tensor (a probability target, a regression target, a
  teacher), or a weight requires grad, a ``ValueError`` is raised while grad mode
  is on: a silently missing gradient would change training. Pass ``.detach()`` for
  a constant. The losses are once differentiable: a backward with
  ``create_graph=True`` that reaches one (double backward, gradient penalties)
  raises ``RuntimeError``.
- **Differences from PyTorch** are fastloss's: a "mean" over nothing (every target
  ignored, zero total weight, an empty batch) is 0 with a zero gradient where
  PyTorch gives NaN; infinite logits give finite gradients; input and target shapes
  must be equal (no broadcasting). Each docstring names the rest.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple, Union

try:
    import torch
except ImportError as exc:  # torch is optional: only this module needs it
    raise ImportError("fastloss.torch needs PyTorch: pip install torch") from exc

import numpy as np
from torch import Tensor
from torch.autograd.function import FunctionCtx

import fastloss as _fl

from . import _table, _validation

# Every loss's torch form, from the loss table (fastloss/_table.py).
__all__ = sorted(name for row in _table.LOSSES for name in row.torch)

# fastloss's own check (and message); typed here for mypy --strict.
_check_reduction: Callable[[object], None] = _validation.check_reduction

_HALF = (torch.float16, torch.bfloat16)
_FLOATS = (torch.float32, torch.float64, *_HALF)


# --------------------------------------------------------------------------------
# plumbing: checks, zero-copy conversion, the autograd Function
# --------------------------------------------------------------------------------


def _check_tensor(t: object, name: str, loss: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"fastloss.torch.{loss}: {name} must be a torch.Tensor, got "
            f"{type(t).__name__}"
        )
    if t.device.type != "cpu":
        raise ValueError(
            f"fastloss.torch.{loss}: {name} is on device '{t.device}', but fastloss "
            "computes on the CPU only; move it with .cpu(), or use "
            "torch.nn.functional on that device"
        )
    if t.layout != torch.strided:
        raise TypeError(
            f"fastloss.torch.{loss}: {name} must be a dense tensor, got layout "
            f"{t.layout}"
        )
    return t


def _check_input(t: object, name: str, loss: str) -> Tensor:
    x = _check_tensor(t, name, loss)
    if x.dtype not in _FLOATS:
        raise TypeError(
            f"fastloss.torch.{loss}: {name} must be a floating-point tensor "
            f"(float32, float64, float16 or bfloat16), got {x.dtype}"
        )
    return x


def _no_grad_needed(t: Tensor, name: str, loss: str) -> None:
    if t.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            f"fastloss.torch.{loss} does not differentiate {name}, which requires "
            f"grad; pass {name}.detach() if it is a constant, or use PyTorch's own "
            "loss to differentiate it"
        )


def _same_shape(input: Tensor, other: Tensor, name: str, loss: str) -> None:
    if other.shape != input.shape:
        raise ValueError(
            f"fastloss.torch.{loss}: {name} must have the input's shape "
            f"{tuple(input.shape)}, got {tuple(other.shape)} (no broadcasting)"
        )


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return torch.float32 if dtype in _HALF else dtype


class _Prepared(NamedTuple):
    tensor: Tensor  # contiguous, compute dtype; class axis last if it was moved
    array: np.ndarray[Any, Any]  # a NumPy view of `tensor` (same memory)
    owned: bool  # `tensor` is a private copy: the gradient may overwrite it


def _prepare(t: Tensor, dtype: torch.dtype, moved: bool) -> _Prepared:
    x = t.detach()
    if x.dtype != dtype:
        x = x.to(dtype)
    if moved:
        x = x.movedim(1, -1)
    x = x.resolve_conj().resolve_neg().contiguous()
    # A no-op .contiguous() returns a view of t (same storage): never overwrite it.
    owned = x.untyped_storage().data_ptr() != t.untyped_storage().data_ptr()
    return _Prepared(x, x.numpy(), owned)


def _aux(
    t: Tensor | None, name: str, loss: str, moved: bool = False
) -> np.ndarray[Any, Any] | None:
    """A target or weight as a NumPy view (fastloss converts it once if needed)."""
    if t is None:
        return None
    a = _check_tensor(t, name, loss)
    _no_grad_needed(a, name, loss)
    a = a.detach()
    if a.dtype in _HALF:  # NumPy has no bfloat16; the kernel computes in float32
        a = a.float()
    if moved:
        a = a.movedim(1, -1)
    return a.resolve_conj().resolve_neg().numpy()


def _loss_tensor(loss: Any, dtype: torch.dtype) -> Tensor:
    if isinstance(loss, np.ndarray):
        out = torch.from_numpy(loss)
        return out if out.dtype == dtype else out.to(dtype)
    return torch.tensor(loss, dtype=dtype)


def _restore(grad: Tensor, like: Tensor, moved: bool) -> Tensor:
    if moved:
        grad = grad.movedim(-1, 1)
    return grad if grad.dtype == like.dtype else grad.to(like.dtype)


# The gradients of a fused call, or (for a loss whose per-row grad_output cannot be
# applied afterwards) a function computing them from grad_output and the inputs.
_Regrad = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]
_Grads = Union[tuple[Tensor, ...], _Regrad]


class _FusedLoss(torch.autograd.Function):
    """Forward: one fused kernel call gives the loss and the gradient(s), which are
    saved. Backward: the saved gradient times grad_output (broadcast over the class
    axis for per-row losses with reduction="none"), or a second kernel call."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        run: Callable[[], tuple[Tensor, _Grads]],
        axis: int,
        *inputs: Tensor,
    ) -> Tensor:
        loss, grads = run()
        if callable(grads):
            ctx.regrad = grads  # type: ignore[attr-defined]
            # saved, so that autograd refuses inputs modified in place meanwhile
            ctx.save_for_backward(*inputs)
        else:
            ctx.regrad = None  # type: ignore[attr-defined]
            ctx.save_for_backward(*grads)
        ctx.axis = axis  # type: ignore[attr-defined]
        return loss

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        if torch.is_grad_enabled():  # backward(create_graph=True)
            # once_differentiable alone would hand back a gradient that merely
            # lacks a graph, so a gradient penalty built on it would silently
            # miss its second-order term: refuse instead.
            raise RuntimeError(
                "fastloss.torch losses are once differentiable: their gradient "
                "comes from the kernel, not from differentiable torch ops, so "
                "double backward (create_graph=True through the loss) is not "
                "supported; use PyTorch's own loss for higher-order gradients"
            )
        needed = ctx.needs_input_grad[2:]
        if ctx.regrad is not None:
            full = ctx.regrad(grad_output, ctx.saved_tensors)
            return (None, None, *(g if n else None for g, n in zip(full, needed)))
        grads = []
        for g, n in zip(ctx.saved_tensors, needed):
            grads.append(_chain(g, grad_output, ctx.axis) if n else None)
        return (None, None, *grads)


def _chain(grad: Tensor, grad_output: Tensor, axis: int) -> Tensor:
    if grad_output.ndim == 0:
        # loss.backward() of a reduced loss: the kernel's gradient is the answer,
        # so skip a full pass and a second gradient-sized buffer.
        if grad_output.item() == 1.0:
            return grad
        return grad * grad_output
    if grad_output.ndim < grad.ndim:  # per-row losses: broadcast over the row
        grad_output = grad_output.unsqueeze(axis)
    return grad * grad_output


def _fused(
    loss_fn: Callable[..., Any],
    grad_fn: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    prepared: tuple[_Prepared, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    axis: int = -1,
    moved: bool = False,
) -> Tensor:
    """Forward-only when no gradient is wanted, else the fused autograd Function.

    `inputs` are the tensors differentiated, `prepared` their compute copies or
    views, `args` the positional arguments after them; `axis` is where a per-row
    grad_output is unsqueezed; `moved` says the class axis was moved last."""
    out_dtype = inputs[0].dtype
    arrays = tuple(p.array for p in prepared)
    if not (torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        return _loss_tensor(loss_fn(*arrays, *args, **kwargs), out_dtype)

    def run() -> tuple[Tensor, _Grads]:
        bufs = [p.tensor if p.owned else torch.empty_like(p.tensor) for p in prepared]
        # An owned copy is passed as its own `out`: the gradient overwrites it.
        outs = [p.array if p.owned else b.numpy() for p, b in zip(prepared, bufs)]
        loss, _ = grad_fn(
            *arrays, *args, out=outs[0] if len(outs) == 1 else tuple(outs), **kwargs
        )
        grads = tuple(_restore(b, t, moved) for b, t in zip(bufs, inputs))
        return _loss_tensor(loss, out_dtype), grads

    out: Tensor = _FusedLoss.apply(run, axis, *inputs)  # type: ignore[no-untyped-call, unused-ignore]
    return out


# --------------------------------------------------------------------------------
# softmax family: class axis 1, as torch.nn.functional.cross_entropy
# --------------------------------------------------------------------------------


def _class_input(input: object, loss: str) -> tuple[Tensor, bool]:
    x = _check_input(input, "input", loss)
    if x.ndim == 0:
        raise ValueError(
            f"fastloss.torch.{loss}: input must have shape (C,), (N, C) or "
            "(N, C, d1, ...), got a 0-d tensor"
        )
    return x, x.ndim > 2


def _index_target(x: Tensor, target: object, loss: str) -> Tensor:
    t = _check_tensor(target, "target", loss)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(
            f"fastloss.torch.{loss}: target must hold integer class indices or "
            f"float probabilities, got {t.dtype}"
        )
    want = (x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()
    if not t.is_floating_point() and tuple(t.shape) != want:
        raise ValueError(
            f"fastloss.torch.{loss}: target of class indices must have shape {want} "
            f"(the input's shape without the class axis 1), got {tuple(t.shape)}"
        )
    return t


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    z_loss: float = 0.0,
    sample_weight: Tensor | None = None,
    n_threads: int | None = None,
) -> Tensor:
    """Softmax cross-entropy, `torch.nn.functional.cross_entropy` by fastloss.

    Parameters
    ----------
    input : Tensor of shape (C,), (N, C) or (N, C, d1, ...)
        Unnormalised scores, classes on axis 1 as in PyTorch (axis 0 of a 1-D
        input). ``(N, C)`` input is read in place; for ``(N, C, d1, ...)`` the class
        axis is moved last in one copy (which then receives the gradient), so a
        language model's logits are best passed as ``logits.view(-1, vocab)``.
    target : Tensor
        Class indices, an integer tensor of shape ``(N, d1, ...)`` (``()`` for 1-D
        input) with values in ``[0, C)`` or equal to ``ignore_index``; or class
        probabilities, a float tensor of the input's shape.
    weight : Tensor of shape (C,), optional
        Per-class weights.
    ignore_index : int, default=-100
        Class-index targets equal to it contribute nothing, not even to the "mean"
        normaliser. With probability targets it must be negative (as in PyTorch).
    reduction : {"mean", "sum", "none"}, default="mean"
    label_smoothing : float in [0, 1], default=0.0
    z_loss : float >= 0, default=0.0
        fastloss only: adds ``z_loss * logsumexp(row) ** 2`` to each row's loss.
    sample_weight : Tensor of the target's shape without the class axis, optional
        fastloss only: per-row weights; "mean" then divides by
        ``sum_i sample_weight_i * weight[target_i]`` over rows not ignored.
    n_threads : int, optional
        OpenMP threads for the kernel; None uses `fastloss.get_num_threads`.

    Returns
    -------
    Tensor
        A 0-d tensor for "mean" and "sum" (summed in float64, returned in the
        input's dtype), else the per-row losses of shape ``(N, d1, ...)``.

    Notes
    -----
    The values of `fastloss.softmax_cross_entropy` (see its docstring) with the
    class axis moved last. They equal PyTorch's for every option PyTorch has,
    except that a "mean" whose normaliser is 0 (every target ignored, or an empty
    batch) is 0 with a zero gradient instead of NaN, and that a probability target
    that requires grad raises ``ValueError`` (PyTorch differentiates it). Integer
    targets of any integer dtype are accepted (PyTorch wants int64).

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
    >>> loss = flt.cross_entropy(logits, torch.tensor([0, -100]))
    >>> loss.backward()
    >>> round(loss.item(), 4), logits.grad[1].tolist()
    (0.417, [0.0, 0.0, 0.0])
    """
    loss = "cross_entropy"
    _check_reduction(reduction)
    x, moved = _class_input(input, loss)
    t = _index_target(x, target, loss)
    soft = t.is_floating_point()
    if soft:
        _same_shape(x, t, "target (probabilities)", loss)
        if isinstance(ignore_index, int) and ignore_index >= 0:
            raise ValueError(
                "fastloss.torch.cross_entropy: ignore_index is not supported for "
                f"probability targets (got {ignore_index}; PyTorch refuses it too)"
            )
    prepared = _prepare(x, _compute_dtype(x), moved)
    kwargs = dict(
        class_weight=_aux(weight, "weight", loss),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        sample_weight=_aux(sample_weight, "sample_weight", loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _fused(
        _fl.softmax_cross_entropy,
        _fl.softmax_cross_entropy_and_grad,
        (x,),
        (prepared,),
        (_aux(t, "target", loss, moved=moved and soft),),
        kwargs,
        axis=1 if x.ndim >= 2 else 0,
        moved=moved,
    )


def softmax_focal_loss(
    input: Tensor,
    target: Tensor,
    *args: Any,
    alpha: float | Tensor | None = None,
    gamma: float = 2.0,
    class_weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Tensor | None = None,
    n_threads: int | None = None,
) -> Tensor:
    """Softmax (multi-class) focal loss, laid out as `cross_entropy`.

    ``l_i = -alpha class_weight[y_i] (1 - q_y)**gamma log(q_y)`` with ``q =
    softmax(input_i)``; PyTorch has no such function. ``input`` is ``(C,)``, ``(N,
    C)`` or ``(N, C, d1, ...)`` (classes on axis 1), ``target`` integer class
    indices of shape ``(N, d1, ...)``; ``alpha`` an optional float scaling every
    row, ``class_weight`` an optional ``(C,)`` tensor of per-class weights that,
    unlike ``cross_entropy(weight=)``, does not change the "mean" normaliser (the
    number of rows not ignored, or ``sum(sample_weight)`` over them). ``gamma=0``
    without weights is `cross_entropy`. See `fastloss.softmax_focal_loss` for the
    numerics. Arguments after ``target`` are keywords (the former positional order
    ``gamma, alpha, ignore_index, reduction`` and a per-class tensor as ``alpha``
    still work, with a DeprecationWarning).

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> flt.softmax_focal_loss(logits, torch.tensor([0, 1]), reduction="none")
    tensor([0.0485, 0.0086])
    """
    loss = "softmax_focal_loss"
    if args:  # the old positional order (gamma, alpha, ignore_index, reduction)
        if len(args) > 4:
            raise TypeError(
                f"fastloss.torch.softmax_focal_loss takes at most 6 positional "
                f"arguments, got {2 + len(args)}"
            )
        warnings.warn(
            "fastloss.torch.softmax_focal_loss: positional arguments after target "
            "are deprecated (their order was gamma, alpha, ignore_index, "
            "reduction); pass them by keyword: alpha=, gamma=, class_weight=, ...",
            DeprecationWarning,
            stacklevel=2,
        )
        old = dict(zip(("gamma", "alpha", "ignore_index", "reduction"), args))
        gamma = old.get("gamma", gamma)
        alpha = old.get("alpha", alpha)
        ignore_index = old.get("ignore_index", ignore_index)
        reduction = old.get("reduction", reduction)
    if alpha is not None:
        if torch.is_tensor(alpha) and alpha.ndim == 0:
            alpha = float(alpha)
        elif torch.is_tensor(alpha) or np.ndim(alpha) != 0:
            class_weight = _validation.renamed(
                "torch.softmax_focal_loss", "alpha", "class_weight", alpha, class_weight
            )
            alpha = None
    _check_reduction(reduction)
    x, moved = _class_input(input, loss)
    t = _index_target(x, target, loss)
    if t.is_floating_point():
        raise TypeError(
            "fastloss.torch.softmax_focal_loss: target must hold integer class "
            f"indices, got {t.dtype}"
        )
    kwargs = dict(
        alpha=alpha,
        gamma=gamma,
        class_weight=_aux(class_weight, "class_weight", loss),
        ignore_index=ignore_index,
        sample_weight=_aux(sample_weight, "sample_weight", loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _fused(
        _fl.softmax_focal_loss,
        _fl.softmax_focal_loss_and_grad,
        (x,),
        (_prepare(x, _compute_dtype(x), moved),),
        (_aux(t, "target", loss),),
        kwargs,
        axis=1 if x.ndim >= 2 else 0,
        moved=moved,
    )


def kl_div_with_logits(
    student_logits: Tensor,
    teacher_logits: Tensor,
    *,
    temperature: float = 1.0,
    teacher_probs: bool = False,
    sample_weight: Tensor | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> Tensor:
    """Distillation loss ``T**2 KL(softmax(t/T) || softmax(s/T))`` per row.

    Classes on the **last** axis (any leading shape), as `fastloss.kl_div_with_logits`
    (see it for the formula and numerics). For 2-D input this is::

        F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1),
                 log_target=True, reduction="batchmean") * T**2

    "mean" divides by the number of rows (PyTorch's "batchmean" divides by the
    first dimension only); "none" gives one loss per row (PyTorch's "none" one per
    element). Only the student is differentiated: a teacher that requires grad
    raises ``ValueError`` (compute it under ``torch.no_grad()`` or detach it).
    With ``teacher_probs=True`` the teacher holds probabilities.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> s = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
    >>> t = torch.tensor([[1.5, 1.5, 0.0], [0.0, 3.0, 0.0]])
    >>> round(flt.kl_div_with_logits(s, t, temperature=2.0).item(), 6)
    0.096569
    """
    loss = "kl_div_with_logits"
    _check_reduction(reduction)
    x = _check_input(student_logits, "student_logits", loss)
    t = _check_tensor(teacher_logits, "teacher_logits", loss)
    _same_shape(x, t, "teacher_logits", loss)
    kwargs = dict(
        temperature=temperature,
        teacher_probs=teacher_probs,
        sample_weight=_aux(sample_weight, "sample_weight", loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _fused(
        _fl.kl_div_with_logits,
        _fl.kl_div_with_logits_and_grad,
        (x,),
        (_prepare(x, _compute_dtype(x), False),),
        (_aux(t, "teacher_logits", loss),),
        kwargs,
    )


# --------------------------------------------------------------------------------
# elementwise losses: any shape, target of the input's shape
# --------------------------------------------------------------------------------


def _elementwise(
    loss: str,
    names: tuple[str, str],
    input: object,
    target: object,
    kwargs: dict[str, Any],
) -> Tensor:
    _check_reduction(kwargs["reduction"])
    x = _check_input(input, "input", loss)
    t = _check_tensor(target, "target", loss)
    _same_shape(x, t, "target", loss)
    return _fused(
        getattr(_fl, names[0]),
        getattr(_fl, names[1]),
        (x,),
        (_prepare(x, _compute_dtype(x), False),),
        (_aux(t, "target", loss),),
        kwargs,
    )


def _full_weight(
    weight: Tensor | None, input: object, loss: str
) -> np.ndarray[Any, Any] | None:
    """torch's `weight` of the regression losses: exactly the input's shape."""
    if weight is None:
        return None
    w = _check_tensor(weight, "weight", loss)
    if isinstance(input, Tensor) and w.shape != input.shape:
        raise ValueError(
            f"fastloss.torch.{loss}: weight must have the input's shape "
            f"{tuple(input.shape)}, got {tuple(w.shape)} (as in PyTorch)"
        )
    return _aux(w, "weight", loss)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
    *,
    label_smoothing: float = 0.0,
    n_threads: int | None = None,
) -> Tensor:
    """Binary cross-entropy with logits, `F.binary_cross_entropy_with_logits`.

    ``weight`` broadcasts to the input's shape and scales each element (the "mean"
    still divides by the element count), as in PyTorch. ``pos_weight`` may be a
    0-d or ``(1,)`` tensor or one value per entry of the input's last axis,
    ``(C,)``; other shapes PyTorch broadcasts (such as ``(C, 1, 1)``) raise
    ``NotImplementedError``. ``label_smoothing`` (fastloss only) turns targets into
    ``target * (1 - ls) + ls / 2``. Unlike PyTorch, infinite logits give finite
    gradients. See `fastloss.binary_cross_entropy_with_logits`.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.binary_cross_entropy_with_logits(torch.tensor([0.0, 2.0]),
    ...                                      torch.tensor([1.0, 1.0]))
    tensor(0.4100)
    """
    loss = "binary_cross_entropy_with_logits"
    pw = None
    if pos_weight is not None:
        p = _check_tensor(pos_weight, "pos_weight", loss)
        last = input.shape[-1] if isinstance(input, Tensor) and input.ndim else 1
        if p.ndim > 1 or (p.ndim == 1 and p.shape[0] not in (1, last)):
            raise NotImplementedError(
                "fastloss.torch.binary_cross_entropy_with_logits: pos_weight must "
                f"be 0-d, (1,) or (C,) with C = {last}, the input's last axis; got "
                f"shape {tuple(p.shape)} (use torch's loss for other broadcasts)"
            )
        pw = _aux(p, "pos_weight", loss)
    kwargs = dict(
        pos_weight=pw,
        label_smoothing=label_smoothing,
        weight=_aux(weight, "weight", loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    names = (
        "binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits_and_grad",
    )
    return _elementwise(loss, names, input, target, kwargs)


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Sigmoid focal loss, ``torchvision.ops.sigmoid_focal_loss`` by fastloss.

    torchvision's arguments and defaults, including ``reduction="none"`` (the
    NumPy `fastloss.sigmoid_focal_loss` defaults to "mean"); ``alpha`` negative or
    None turns the class weighting off. Unlike torchvision, infinite logits give
    finite losses and gradients, and ``0 < gamma < 1`` never a NaN gradient.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.sigmoid_focal_loss(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0]))
    tensor([0.0005, 0.0170])
    """
    kwargs = dict(alpha=alpha, gamma=gamma, reduction=reduction, n_threads=n_threads)
    names = ("sigmoid_focal_loss", "sigmoid_focal_loss_and_grad")
    return _elementwise("sigmoid_focal_loss", names, inputs, targets, kwargs)


def mse_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Mean squared error, `torch.nn.functional.mse_loss` by fastloss.

    ``weight`` (of the input's shape) scales each element and, as in PyTorch, the
    weighted "mean" divides by ``weight.sum()`` (0 with a zero gradient when that
    is 0, where PyTorch gives NaN). A target that requires grad raises
    ``ValueError``.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
    tensor(3.3333)
    """
    kwargs = dict(
        sample_weight=_full_weight(weight, input, "mse_loss"),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _elementwise(
        "mse_loss", ("mse_loss", "mse_loss_and_grad"), input, target, kwargs
    )


def l1_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Mean absolute error, `torch.nn.functional.l1_loss` by fastloss.

    The gradient at ``input == target`` is 0, as PyTorch's. ``weight`` as in
    `mse_loss` (the weighted "mean" divides by ``weight.sum()``, as PyTorch).

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.l1_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
    tensor(1.3333)
    """
    kwargs = dict(
        sample_weight=_full_weight(weight, input, "l1_loss"),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _elementwise(
        "l1_loss", ("l1_loss", "l1_loss_and_grad"), input, target, kwargs
    )


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Huber loss, `torch.nn.functional.huber_loss` by fastloss.

    ``weight`` (of the input's shape) scales each element; as in PyTorch, the
    weighted "mean" still divides by the element count (unlike `mse_loss`).

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]))
    tensor(1.3125)
    """
    loss = "huber_loss"
    kwargs = dict(
        delta=delta,
        weight=_full_weight(weight, input, loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _elementwise(loss, (loss, "huber_loss_and_grad"), input, target, kwargs)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Smooth L1 loss, `torch.nn.functional.smooth_l1_loss` by fastloss.

    ``beta=0`` is exactly `l1_loss`.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]),
    ...                    beta=2.0, reduction="none")
    tensor([0.0625, 2.0000])
    """
    loss = "smooth_l1_loss"
    kwargs = dict(beta=beta, reduction=reduction, n_threads=n_threads)
    return _elementwise(loss, (loss, "smooth_l1_loss_and_grad"), input, target, kwargs)


def log_cosh_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    *,
    n_threads: int | None = None,
) -> Tensor:
    """Log-cosh loss ``log(cosh(input - target))``, stable for any residual.

    PyTorch has no such function; ``torch.log(torch.cosh(r))`` overflows for
    ``|r| > ~89`` (float32) where this does not. See `fastloss.log_cosh_loss`.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> flt.log_cosh_loss(torch.tensor([1e30]), torch.tensor([0.0]))
    tensor(1.0000e+30)
    """
    loss = "log_cosh_loss"
    kwargs = dict(reduction=reduction, n_threads=n_threads)
    return _elementwise(loss, (loss, "log_cosh_loss_and_grad"), input, target, kwargs)


# --------------------------------------------------------------------------------
# linear cross-entropy: the logits never exist
# --------------------------------------------------------------------------------


def _operand(t: Tensor, dtype: torch.dtype) -> np.ndarray[Any, Any]:
    """A NumPy view in the compute dtype, any layout (fastloss copies at most once;
    a transposed, Fortran-ordered ``weight`` is used as is)."""
    x = t.detach()
    if x.dtype != dtype:
        x = x.to(dtype)
    return x.resolve_conj().resolve_neg().numpy()


def linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    class_weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> Tensor:
    """Cross-entropy of a linear layer's output, without materialising the logits.

    ``F.cross_entropy(F.linear(hidden, weight, bias), target, weight=class_weight,
    ...)`` for a language model's output layer: `fastloss.linear_cross_entropy`
    computes the logits one chunk of rows at a time, so the ``(N, vocab)`` logits
    and their gradient never exist; ``hidden``, ``weight`` and ``bias`` are all
    differentiated.

    Parameters
    ----------
    hidden : Tensor of shape (..., in_features)
        The layer's input (``(batch, seq, in_features)`` as is).
    weight : Tensor of shape (n_classes, in_features)
        The layer's weight, as in ``torch.nn.Linear`` (a transposed view of an
        ``(in_features, n_classes)`` tensor is read without a copy).
    target : integer Tensor of shape ``hidden.shape[:-1]``
        Class indices in ``[0, n_classes)`` or equal to ``ignore_index``
        (probability targets would be the logits-sized tensor avoided here).
    bias : Tensor of shape (n_classes,), optional
    class_weight : Tensor of shape (n_classes,), optional
        The ``weight`` of ``F.cross_entropy`` (renamed: ``weight`` is the layer's).
    sample_weight : Tensor of shape ``hidden.shape[:-1]``, optional
        Per-row weights, as in `cross_entropy`.
    ignore_index, label_smoothing, z_loss, reduction
        As in `cross_entropy`.
    chunk_size : int, optional
        Rows of logits materialised at a time (see
        `fastloss.linear_cross_entropy`).
    n_threads : int, optional
        OpenMP threads of the kernel; the matmuls use NumPy's BLAS threads.

    Returns
    -------
    Tensor
        0-d for "mean" and "sum", else the per-row losses of shape
        ``hidden.shape[:-1]``; in the promoted dtype of the three operands.

    Notes
    -----
    With "mean" and "sum" the gradients come from the forward call and are
    saved (``hidden``-, ``weight``- and ``bias``-sized, not logits-sized). With
    "none" a per-row ``grad_output`` cannot be applied to ``weight``'s gradient
    afterwards, so the forward computes the losses only and the backward runs
    the fused call again with ``sample_weight * grad_output`` as the row weights
    (twice the matmuls, still no logits). float16/bfloat16 operands are computed
    in float32. Differences from PyTorch are those of `cross_entropy`.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> head = torch.nn.Linear(4, 10)
    >>> hidden = torch.randn(2, 3, 4, requires_grad=True)
    >>> target = torch.tensor([[1, 2, 3], [4, 5, -100]])
    >>> loss = flt.linear_cross_entropy(hidden, head.weight, target, head.bias)
    >>> loss.backward()
    >>> hidden.grad.shape, head.weight.grad.shape, hidden.grad[1, 2].abs().max().item()
    (torch.Size([2, 3, 4]), torch.Size([10, 4]), 0.0)
    """
    loss = "linear_cross_entropy"
    _check_reduction(reduction)
    h = _check_input(hidden, "hidden", loss)
    w = _check_input(weight, "weight", loss)
    inputs = (h, w) if bias is None else (h, w, _check_input(bias, "bias", loss))
    t = _check_tensor(target, "target", loss)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(
            f"fastloss.torch.{loss}: target must hold integer class indices, got "
            f"{t.dtype}"
        )
    dtype = _compute_dtype(*inputs)
    out_dtype = inputs[0].dtype
    for x in inputs[1:]:
        out_dtype = torch.promote_types(out_dtype, x.dtype)
    sw = (
        None
        if sample_weight is None
        else _check_tensor(sample_weight, "sample_weight", loss)
    )
    kwargs = dict(
        class_weight=_aux(class_weight, "class_weight", loss),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        chunk_size=chunk_size,
        n_threads=n_threads,
    )
    t_np = _aux(t, "target", loss)

    def call(fn: Callable[..., Any], ops: tuple[Tensor, ...], **kw: Any) -> Any:
        arrays = [_operand(x, dtype) for x in ops]
        bias_np = arrays[2] if len(arrays) == 3 else None
        return fn(arrays[0], arrays[1], t_np, bias=bias_np, **kw, **kwargs)

    sw_np = _aux(sw, "sample_weight", loss)
    if not (torch.is_grad_enabled() and any(x.requires_grad for x in inputs)):
        value = call(
            _fl.linear_cross_entropy, inputs, sample_weight=sw_np, reduction=reduction
        )
        return _loss_tensor(value, out_dtype)

    def regrad(grad_output: Tensor, ops: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        # d/d(ops) of sum_i grad_output_i * l_i = the "sum" with those row weights
        row_w = grad_output.detach().to(dtype)
        if sw is not None:
            row_w = row_w * sw.detach().to(dtype)
        # derived from grad_output and the (checked) sample weights: 1e-10 times a
        # loss is an ordinary upstream gradient, not a weight out of range
        with _validation.derived_weights("sample_weight"):
            res = call(
                _fl.linear_cross_entropy_and_grad,
                ops,
                sample_weight=row_w.numpy(),
                reduction="sum",
            )
        return tuple(
            _restore(torch.from_numpy(g), x, False) for g, x in zip(res[1:], ops)
        )

    def run() -> tuple[Tensor, _Grads]:
        if reduction == "none":
            value = call(
                _fl.linear_cross_entropy, inputs, sample_weight=sw_np, reduction="none"
            )
            return _loss_tensor(value, out_dtype), regrad
        res = call(
            _fl.linear_cross_entropy_and_grad,
            inputs,
            sample_weight=sw_np,
            reduction=reduction,
        )
        grads = tuple(
            _restore(torch.from_numpy(g), x, False) for g, x in zip(res[1:], inputs)
        )
        return _loss_tensor(res[0], out_dtype), grads

    out: Tensor = _FusedLoss.apply(run, -1, *inputs)  # type: ignore[no-untyped-call, unused-ignore]
    return out


# --------------------------------------------------------------------------------
# triplet margin loss: three differentiated inputs
# --------------------------------------------------------------------------------


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
    *,
    sample_weight: Tensor | None = None,
    n_threads: int | None = None,
) -> Tensor:
    """Triplet margin loss, `torch.nn.functional.triplet_margin_loss` by fastloss.

    ``anchor``, ``positive`` and ``negative`` are ``(N, D)`` or ``(D,)`` tensors of
    one shape (vectors on the last axis), all three differentiated; they are
    computed in their promoted dtype. ``p >= 1``. ``sample_weight`` (fastloss
    only, shape ``(N,)``) weights each triplet; "mean" then divides by its sum.

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    >>> pos = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    >>> neg = torch.tensor([[0.0, 1.0], [4.0, 5.0]])
    >>> flt.triplet_margin_loss(a, pos, neg, eps=0.0, reduction="none")
    tensor([5., 0.])
    """
    loss = "triplet_margin_loss"
    _check_reduction(reduction)
    names = ("anchor", "positive", "negative")
    xs = tuple(
        _check_input(v, n, loss) for v, n in zip((anchor, positive, negative), names)
    )
    for name, v in zip(names[1:], xs[1:]):
        _same_shape(xs[0], v, name, loss)
    dtype = _compute_dtype(*xs)
    kwargs = dict(
        margin=margin,
        p=p,
        eps=eps,
        swap=swap,
        sample_weight=_aux(sample_weight, "sample_weight", loss),
        reduction=reduction,
        n_threads=n_threads,
    )
    return _fused(
        _fl.triplet_margin_loss,
        _fl.triplet_margin_loss_and_grad,
        xs,
        tuple(_prepare(v, dtype, False) for v in xs),
        (),
        kwargs,
    )


# --------------------------------------------------------------------------------
# nn.Module wrappers, as torch.nn's (weights are buffers: .to() and state_dict)
# --------------------------------------------------------------------------------


class CrossEntropyLoss(torch.nn.Module):
    """`torch.nn.CrossEntropyLoss` computed by `cross_entropy` (same arguments,
    without the deprecated ``size_average``/``reduce``; fastloss's options are
    keyword-only)."""

    weight: Tensor | None

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        z_loss: float = 0.0,
        n_threads: int | None = None,
    ) -> None:
        super().__init__()
        _check_reduction(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing
        self.z_loss = z_loss
        self.n_threads = n_threads

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(
            input,
            target,
            self.weight,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
            z_loss=self.z_loss,
            n_threads=self.n_threads,
        )


class BCEWithLogitsLoss(torch.nn.Module):
    """`torch.nn.BCEWithLogitsLoss` computed by `binary_cross_entropy_with_logits`."""

    weight: Tensor | None
    pos_weight: Tensor | None

    def __init__(
        self,
        weight: Tensor | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
        *,
        label_smoothing: float = 0.0,
        n_threads: int | None = None,
    ) -> None:
        super().__init__()
        _check_reduction(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction
        self.label_smoothing = label_smoothing
        self.n_threads = n_threads

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(
            input,
            target,
            self.weight,
            self.reduction,
            self.pos_weight,
            label_smoothing=self.label_smoothing,
            n_threads=self.n_threads,
        )


class _PointwiseLoss(torch.nn.Module):
    def __init__(self, reduction: str = "mean", *, n_threads: int | None = None):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction
        self.n_threads = n_threads


class MSELoss(_PointwiseLoss):
    """`torch.nn.MSELoss` computed by `mse_loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, self.reduction, n_threads=self.n_threads)


class L1Loss(_PointwiseLoss):
    """`torch.nn.L1Loss` computed by `l1_loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, self.reduction, n_threads=self.n_threads)


class HuberLoss(_PointwiseLoss):
    """`torch.nn.HuberLoss` computed by `huber_loss`."""

    def __init__(
        self,
        reduction: str = "mean",
        delta: float = 1.0,
        *,
        n_threads: int | None = None,
    ) -> None:
        super().__init__(reduction, n_threads=n_threads)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(
            input, target, self.reduction, self.delta, n_threads=self.n_threads
        )


class SmoothL1Loss(_PointwiseLoss):
    """`torch.nn.SmoothL1Loss` computed by `smooth_l1_loss`."""

    def __init__(
        self,
        reduction: str = "mean",
        beta: float = 1.0,
        *,
        n_threads: int | None = None,
    ) -> None:
        super().__init__(reduction, n_threads=n_threads)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(
            input, target, self.reduction, self.beta, n_threads=self.n_threads
        )


class TripletMarginLoss(torch.nn.Module):
    """`torch.nn.TripletMarginLoss` computed by `triplet_margin_loss`."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
        *,
        n_threads: int | None = None,
    ) -> None:
        super().__init__()
        _check_reduction(reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap
        self.reduction = reduction
        self.n_threads = n_threads

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(
            anchor,
            positive,
            negative,
            self.margin,
            self.p,
            self.eps,
            self.swap,
            self.reduction,
            n_threads=self.n_threads,
        )
