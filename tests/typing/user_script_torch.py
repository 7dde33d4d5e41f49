"""A PyTorch user's script, checked with ``mypy --strict`` (and run) by
tests/test_typing.py when torch is installed: every name of ``fastloss.torch``
(``fastloss.torch.__all__``), called as ``ft.<name>``, returns a Tensor that
autograd differentiates.
"""

from __future__ import annotations

import torch
from torch import Tensor

import fastloss.torch as ft

torch.manual_seed(0)
logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
target = torch.tensor([0, 2, 1, 0])
pred = torch.randn(5, dtype=torch.float64, requires_grad=True)
real = torch.randn(5, dtype=torch.float64)
labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
teacher = torch.randn(4, 3, dtype=torch.float64)
hidden = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
head = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
anchor, positive, negative = (
    torch.randn(4, 6, dtype=torch.float64, requires_grad=True) for _ in range(3)
)

results: list[Tensor] = [
    ft.cross_entropy(logits, target, label_smoothing=0.1, z_loss=1e-4),
    ft.softmax_focal_loss(logits, target, gamma=2.0),
    ft.kl_div_with_logits(logits, teacher, temperature=2.0),
    ft.binary_cross_entropy_with_logits(pred, labels, label_smoothing=0.1),
    ft.sigmoid_focal_loss(pred, labels, alpha=0.25, reduction="mean"),
    ft.mse_loss(pred, real),
    ft.l1_loss(pred, real, reduction="sum"),
    ft.huber_loss(pred, real, delta=0.5),
    ft.smooth_l1_loss(pred, real, beta=0.5),
    ft.log_cosh_loss(pred, real, n_threads=1),
    ft.linear_cross_entropy(hidden, head, target, chunk_size=2),
    ft.triplet_margin_loss(anchor, positive, negative, margin=0.5),
]
modules: list[torch.nn.Module] = [
    ft.CrossEntropyLoss(ignore_index=-100),
    ft.BCEWithLogitsLoss(pos_weight=torch.ones(5, dtype=torch.float64)),
    ft.MSELoss(),
    ft.L1Loss(reduction="sum"),
    ft.HuberLoss(delta=0.5),
    ft.SmoothL1Loss(beta=0.5),
    ft.TripletMarginLoss(margin=0.5, swap=True),
]
ce_module = ft.CrossEntropyLoss()
results.append(ce_module(logits, target))
results.append(ft.BCEWithLogitsLoss()(pred, labels))
for pointwise in (ft.MSELoss(), ft.L1Loss(), ft.HuberLoss(), ft.SmoothL1Loss()):
    results.append(pointwise(pred, real))
results.append(ft.TripletMarginLoss()(anchor, positive, negative))

total: Tensor = torch.stack([r.sum() for r in results]).sum()
torch.autograd.backward(total)
assert logits.grad is not None and pred.grad is not None
