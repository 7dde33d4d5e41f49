"""fastloss.nn optimizers: closed forms, torch.optim step for step, state I/O."""

import math

import numpy as np
import pytest

from fastloss.nn import SGD, Adam, AdamW
from fastloss.nn.optimizers import get_optimizer


def _problem(rng, dtype=np.float64):
    params = [
        rng.standard_normal((4, 3)).astype(dtype),
        rng.standard_normal(3).astype(dtype),
    ]
    grads = [
        [rng.standard_normal(p.shape).astype(dtype) for p in params] for _ in range(6)
    ]
    return params, grads


def test_sgd_plain_is_p_minus_lr_g(rng):
    p = rng.standard_normal(5)
    g = rng.standard_normal(5)
    want = p - 0.1 * g
    SGD(learning_rate=0.1).step([p], [g])
    np.testing.assert_allclose(p, want, rtol=1e-15)


def test_sgd_momentum_closed_form_over_three_steps(rng):
    p0 = rng.standard_normal(4)
    g = [rng.standard_normal(4) for _ in range(3)]
    lr, mu = 0.05, 0.9
    for nesterov in (False, True):
        p = p0.copy()
        opt = SGD(learning_rate=lr, momentum=mu, nesterov=nesterov)
        for gi in g:
            opt.step([p], [gi])
        v1 = g[0]
        v2 = mu * v1 + g[1]
        v3 = mu * v2 + g[2]
        if nesterov:
            steps = [g[0] + mu * v1, g[1] + mu * v2, g[2] + mu * v3]
        else:
            steps = [v1, v2, v3]
        np.testing.assert_allclose(p, p0 - lr * sum(steps), rtol=1e-14)
        assert opt.iterations == 3


def test_adam_first_step_moves_by_lr_times_sign(rng):
    # m_hat = g, v_hat = g**2: the step is lr g / (|g| + eps)
    p0 = rng.standard_normal(6)
    g = rng.standard_normal(6)
    p = p0.copy()
    Adam(learning_rate=0.01, epsilon=1e-8).step([p], [g])
    np.testing.assert_allclose(p, p0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)


def test_adam_closed_form_over_two_steps(rng):
    p0 = rng.standard_normal(3)
    g1, g2 = rng.standard_normal(3), rng.standard_normal(3)
    b1, b2, lr, eps = 0.8, 0.99, 0.1, 1e-7
    p = p0.copy()
    opt = Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    opt.step([p], [g1])
    opt.step([p], [g2])
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    p1 = p0 - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    p2 = p1 - lr * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
    np.testing.assert_allclose(p, p2, rtol=1e-13)


def test_adamw_decays_without_gradient(rng):
    p0 = rng.standard_normal(5)
    p = p0.copy()
    opt = AdamW(learning_rate=0.1, weight_decay=0.5)
    for _ in range(4):
        opt.step([p], [np.zeros(5)])  # the Adam part is 0 / (0 + eps) = 0
    np.testing.assert_allclose(p, p0 * (1 - 0.1 * 0.5) ** 4, rtol=1e-14)


def test_steps_update_in_place_and_keep_dtype(rng):
    for opt in (SGD(momentum=0.9, nesterov=True), Adam(), AdamW()):
        params, grads = _problem(rng, np.float32)
        ids = [id(p) for p in params]
        opt.step(params, grads[0])
        assert [id(p) for p in params] == ids
        assert all(p.dtype == np.float32 for p in params)
        assert all(
            a.dtype == np.float32 for k, a in opt.get_state().items() if "/" in k
        )


TORCH_CASES = [
    ("sgd", {"learning_rate": 0.1}, "SGD", {"lr": 0.1}),
    (
        "sgd",
        {"learning_rate": 0.05, "momentum": 0.9},
        "SGD",
        {"lr": 0.05, "momentum": 0.9},
    ),
    (
        "sgd",
        {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True},
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    ),
    (
        "adam",
        {"learning_rate": 0.01, "beta_1": 0.85, "beta_2": 0.995, "epsilon": 1e-6},
        "Adam",
        {"lr": 0.01, "betas": (0.85, 0.995), "eps": 1e-6},
    ),
    (
        "adamw",
        {"learning_rate": 0.01, "weight_decay": 0.1, "epsilon": 1e-8},
        "AdamW",
        {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-8},
    ),
]


@pytest.mark.parametrize("name, ours, torch_name, theirs", TORCH_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_optim_step_for_step(name, ours, torch_name, theirs, dtype, rng):
    torch = pytest.importorskip("torch")
    params, grads = _problem(rng, dtype)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    topt = getattr(torch.optim, torch_name)(tparams, **theirs)
    opt = {"sgd": SGD, "adam": Adam, "adamw": AdamW}[name](**ours)
    tol = 1e-13 if dtype == np.float64 else 2e-6
    for g in grads:
        opt.step(params, g)
        for tp, gi in zip(tparams, g):
            tp.grad = torch.from_numpy(gi.copy())
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=tol, atol=tol)


def test_state_round_trip_continues_identically(rng):
    params, grads = _problem(rng)
    twin = [p.copy() for p in params]
    a = Adam(learning_rate=0.01)
    for g in grads[:3]:
        a.step(params, g)
    state = a.get_state()
    assert int(state["iterations"]) == 3
    assert sorted(state) == ["iterations", "m/0", "m/1", "v/0", "v/1"]
    b = Adam(learning_rate=0.01)
    twin = [p.copy() for p in params]
    b.set_state(state, twin)
    for g in grads[3:]:
        a.step(params, g)
        b.step(twin, g)
    for p, q in zip(params, twin):
        np.testing.assert_array_equal(p, q)


def test_set_state_rejects_mismatched_shapes_without_change(rng):
    params, grads = _problem(rng)
    a = SGD(momentum=0.5)
    a.step(params, grads[0])
    state = a.get_state()
    b = SGD(momentum=0.5)
    with pytest.raises(ValueError, match="shape"):
        b.set_state(state, [np.zeros((2, 2)), params[1]])
    assert b.iterations == 0
    with pytest.raises(ValueError, match="momentum/1"):
        b.set_state(
            {"iterations": np.int64(1), "momentum/0": state["momentum/0"]}, params
        )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SGD(learning_rate=0), "learning_rate"),
        (lambda: SGD(learning_rate=math.nan), "learning_rate"),
        (lambda: SGD(momentum=1.0), "momentum"),
        (lambda: SGD(nesterov=True), "nesterov"),
        (lambda: Adam(beta_1=1.0), "beta_1"),
        (lambda: Adam(epsilon=0.0), "epsilon"),
        (lambda: AdamW(weight_decay=-1), "weight_decay"),
        (lambda: get_optimizer("rmsprop"), "unknown optimizer 'rmsprop'"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_get_optimizer_names_and_types():
    assert isinstance(get_optimizer("Adam"), Adam)
    assert isinstance(get_optimizer("adamw"), AdamW)
    assert type(get_optimizer("sgd")) is SGD
    with pytest.raises(TypeError, match=r"add \(\)"):
        get_optimizer(Adam)
    with pytest.raises(TypeError):
        get_optimizer(0.1)
